// Implementation of the tagged arena: offsets are assigned at plan time, memory once at allocate().
#include "algorithms/backend/arena.hpp"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

namespace ffb {

const char* to_string(MemCategory category) {
  switch (category) {
    case MemCategory::weights: return "weights";
    case MemCategory::grads: return "grads";
    case MemCategory::optimizer: return "optimizer";
    case MemCategory::activations: return "activations";
    case MemCategory::scratch: return "scratch";
  }
  return "unknown";
}

BufferId MemoryPlan::add_floats(std::string name, MemCategory category, int64_t count) {
  if (count < 0 || count > (int64_t{1} << 40))
    throw std::invalid_argument(fmt::format("memory plan: buffer '{}' asks for {} floats", name, count));
  const BufferId id = add_bytes(std::move(name), category, count * static_cast<int64_t>(sizeof(float)));
  entries_.back().floats = true;
  return id;
}

BufferId MemoryPlan::add_bytes(std::string name, MemCategory category, int64_t bytes) {
  if (bytes < 0) throw std::invalid_argument(fmt::format("memory plan: buffer '{}' has negative size", name));
  entries_.push_back(Entry{std::move(name), category, bytes, end_, false});
  end_ += round_up(bytes);
  return BufferId{static_cast<int>(entries_.size()) - 1};
}

int64_t MemoryPlan::bytes(MemCategory category) const {
  int64_t total = 0;
  for (const auto& entry : entries_)
    if (entry.category == category) total += round_up(entry.bytes);
  return total;
}

Arena::~Arena() { std::free(base_); }

AlignedBuffer::AlignedBuffer(int64_t bytes) {
  if (bytes < 0) throw std::invalid_argument(fmt::format("AlignedBuffer: {} bytes requested", bytes));
  data_.resize(static_cast<size_t>(bytes));  // value-initialised: zero
}

void Arena::allocate(const MemoryPlan& plan) {
  std::free(base_);
  base_ = nullptr;
  plan_ = plan;
  allocated_ = plan_.total_bytes();
  if (allocated_ > 0) {
    base_ = static_cast<char*>(std::aligned_alloc(kAlignment, static_cast<size_t>(allocated_)));
    if (base_ == nullptr) {
      throw std::runtime_error(fmt::format(
          "arena: could not allocate {:.1f} MiB; use a smaller batch, width or depth",
          static_cast<double>(allocated_) / (1 << 20)));
    }
    std::memset(base_, 0, static_cast<size_t>(allocated_));
  }
  live_.assign(plan_.entries().size(), 0);
  live_bytes_ = peak_live_bytes_ = 0;
}

float* Arena::floats(BufferId id) const { return static_cast<float*>(raw(id)); }

void* Arena::raw(BufferId id) const {
  if (!id.valid() || id.index >= static_cast<int>(plan_.entries().size()))
    throw std::out_of_range("arena: buffer id not in this arena's plan");
  return base_ + plan_.entries()[id.index].offset;
}

Mat Arena::mat(BufferId id, int64_t rows, int64_t cols) const {
  if (rows * cols * static_cast<int64_t>(sizeof(float)) > buffer_bytes(id))
    throw std::out_of_range(fmt::format("arena: {}x{} does not fit buffer '{}'", rows, cols,
                                        plan_.entries()[id.index].name));
  return Mat(floats(id), rows, cols);
}

int64_t Arena::buffer_bytes(BufferId id) const { return plan_.entries().at(id.index).bytes; }

void Arena::reset_live() {
  std::fill(live_.begin(), live_.end(), 0);
  live_bytes_ = peak_live_bytes_ = 0;
}

void Arena::mark_live(BufferId id) {
  if (live_[id.index]) return;
  live_[id.index] = 1;
  live_bytes_ += round_up(plan_.entries()[id.index].bytes);
  if (live_bytes_ > peak_live_bytes_) peak_live_bytes_ = live_bytes_;
}

void Arena::mark_dead(BufferId id) {
  if (!live_[id.index]) return;
  live_[id.index] = 0;
  live_bytes_ -= round_up(plan_.entries()[id.index].bytes);
}

std::vector<BufferCensus> value_census(const Arena& arena) {
  std::vector<BufferCensus> out;
  const auto& entries = arena.plan().entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    if (!entry.floats || entry.category == MemCategory::scratch) continue;
    BufferCensus c{entry.name, entry.category, entry.bytes / static_cast<int64_t>(sizeof(float)), 0, 0};
    const float* values = arena.floats(BufferId{static_cast<int>(i)});
    for (int64_t v = 0; v < c.values; ++v) {
      // By the bits, not by comparison: with DAZ set a subnormal compares equal to zero.
      const uint32_t bits = std::bit_cast<uint32_t>(values[v]) & 0x7fffffffu;
      c.subnormal += bits != 0 && bits < 0x00800000u;
      c.zero += bits == 0;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace ffb

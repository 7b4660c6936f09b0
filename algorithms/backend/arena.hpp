// The tagged memory arena. An algorithm first plans every buffer it needs (name, category, size),
// then the arena makes one 64-byte-aligned allocation for all of them. Because nothing else is
// allocated afterwards, the bytes per category are exact, and `train_step` can run allocation-free.
//
// Activation buffers can also be marked live and dead during a step, so the arena reports the peak
// of live activation bytes: the figure that shows FF holding one layer at a time and BP all of them.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/backend/tensor.hpp"

namespace ffb {

enum class MemCategory : int { weights = 0, grads, optimizer, activations, scratch };
constexpr int kMemCategories = 5;
const char* to_string(MemCategory category);

struct BufferId {
  int index = -1;
  bool valid() const { return index >= 0; }
};

class MemoryPlan {
 public:
  struct Entry {
    std::string name;
    MemCategory category;
    int64_t bytes;   // as requested
    int64_t offset;  // from the arena's base, 64-byte aligned
    bool floats;     // planned with add_floats (f32 values), so its values can be inspected
  };

  BufferId add_floats(std::string name, MemCategory category, int64_t count);
  BufferId add_bytes(std::string name, MemCategory category, int64_t bytes);

  const std::vector<Entry>& entries() const { return entries_; }
  // Bytes a category occupies, each buffer rounded up to the alignment.
  int64_t bytes(MemCategory category) const;
  int64_t total_bytes() const { return end_; }

 private:
  std::vector<Entry> entries_;
  int64_t end_ = 0;
};

class Arena {
 public:
  Arena() = default;
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // One allocation for the whole plan, zero-filled. Throws std::bad_alloc with a message on failure.
  void allocate(const MemoryPlan& plan);

  float* floats(BufferId id) const;
  void* raw(BufferId id) const;
  Mat mat(BufferId id, int64_t rows, int64_t cols) const;
  int64_t buffer_bytes(BufferId id) const;

  int64_t allocated_bytes() const { return allocated_; }
  int64_t bytes(MemCategory category) const { return plan_.bytes(category); }
  const MemoryPlan& plan() const { return plan_; }
  const void* base() const { return base_; }

  // Live-activation accounting (no allocation): mark activation buffers live when a step starts
  // using them and dead when it no longer needs them.
  void reset_live();
  void mark_live(BufferId id);
  void mark_dead(BufferId id);
  int64_t live_activation_bytes() const { return live_bytes_; }
  int64_t peak_live_activation_bytes() const { return peak_live_bytes_; }

 private:
  MemoryPlan plan_;
  char* base_ = nullptr;
  int64_t allocated_ = 0;
  std::vector<char> live_;  // one flag per planned buffer
  int64_t live_bytes_ = 0;
  int64_t peak_live_bytes_ = 0;
};

// A heap buffer aligned as the arena aligns its buffers (kAlignment), zero-filled: for operands
// timed outside the arena (the GEMM ceiling, micro-benchmarks). A std::vector's large allocation
// starts 16 bytes past a page (malloc's header), and on AVX2's gemm:jit that offset alone costs
// 4-7 % (256x1000x1000, Zen 1): a ceiling timed on it is lower than the same GEMM in the arena.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(int64_t bytes);
  char* bytes() const { return data_.get(); }
  float* floats() const { return reinterpret_cast<float*>(data_.get()); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_;
  int64_t size_ = 0;
};

// How many of a buffer's f32 values are subnormal (and zero): the diagnostic that shows where
// denormals come from (weights, gradients, optimizer moments, activations). Allocates: call it
// between steps, never inside one.
struct BufferCensus {
  std::string name;
  MemCategory category;
  int64_t values = 0, subnormal = 0, zero = 0;
};
std::vector<BufferCensus> value_census(const Arena& arena);

}  // namespace ffb

// The tagged memory arena. An algorithm first plans every buffer it needs (name, category, size),
// then the arena makes one 64-byte-aligned allocation for all of them. Because nothing else is
// allocated afterwards, the bytes per category are exact, and `train_step` can run allocation-free.
//
// Activation buffers can also be marked live and dead during a step, so the arena reports the peak
// of live activation bytes: the figure that shows FF holding one layer at a time and BP all of them.
#pragma once
#include <array>
#include <cstdint>
#include <new>
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

// Heap memory aligned as the arena aligns its buffers (kAlignment), for operands timed outside the
// arena (the GEMM ceiling, micro-benchmarks). A std::vector's large allocation starts 16 bytes past
// a page (malloc's header), and on AVX2's gemm:jit that offset alone costs 4-7 % (256x1000x1000,
// Zen 1): a ceiling timed on it is lower than the same GEMM in the arena.
template <class T>
struct ArenaAligned {
  using value_type = T;
  ArenaAligned() = default;
  template <class U>
  ArenaAligned(const ArenaAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{static_cast<size_t>(kAlignment)})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{static_cast<size_t>(kAlignment)}); }
  template <class U>
  bool operator==(const ArenaAligned<U>&) const { return true; }
};

// A zeroed byte buffer in such memory, sized in bytes (the ceiling's operands of any element type).
class AlignedBuffer {
 public:
  explicit AlignedBuffer(int64_t bytes);
  char* bytes() const { return data_.data(); }
  float* floats() const { return reinterpret_cast<float*>(data_.data()); }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }

 private:
  mutable std::vector<char, ArenaAligned<char>> data_;  // const buffers are still written by the GEMMs they feed
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

// The test binary's C allocator: glibc's, behind functions of the same names that count while a
// count is on. An executable's definitions take precedence over libc's for every shared library
// loaded (libstdc++, libgomp, oneDNN), so one interposition sees them all.
#include "tests/allocation_counter.hpp"

#include <execinfo.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>


namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> ours{0}, library{0};
constexpr int kSites = 8, kFrames = 16;
void* site_frames[kSites][kFrames];
int site_depth[kSites];
std::atomic<int> sites_taken{0};
thread_local bool recording = false;  // backtrace may allocate: its own allocations are not counted

// oneDNN's code in memory: an allocation with a oneDNN frame on its stack is oneDNN's, on the thread
// that called it and on its worker threads alike.
uintptr_t library_begin = 0, library_end = 0;

int find_library(dl_phdr_info* info, size_t, void*) {
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "libdnnl") == nullptr) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    const uintptr_t begin = info->dlpi_addr + segment.p_vaddr, end = begin + segment.p_memsz;
    if (library_begin == 0 || begin < library_begin) library_begin = begin;
    library_end = std::max(library_end, end);
  }
  return 1;
}

#if !defined(__SANITIZE_ADDRESS__)
void note_allocation() {
  if (!counting.load(std::memory_order_relaxed) || recording) return;
  recording = true;
  void* frames[kFrames];
  const int depth = backtrace(frames, kFrames);
  bool in_library = false;
  for (int f = 0; f < depth && !in_library; ++f) {
    const auto address = reinterpret_cast<uintptr_t>(frames[f]);
    in_library = address >= library_begin && address < library_end;
  }
  if (in_library) {
    library.fetch_add(1, std::memory_order_relaxed);
  } else {
    ours.fetch_add(1, std::memory_order_relaxed);
    const int slot = sites_taken.fetch_add(1, std::memory_order_relaxed);
    if (slot < kSites) {
      std::memcpy(site_frames[slot], frames, sizeof(frames));
      site_depth[slot] = depth;
    }
  }
  recording = false;
}
#endif
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);
void __libc_free(void*);

void* malloc(size_t size) {
  note_allocation();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  note_allocation();
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
  note_allocation();
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  note_allocation();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  note_allocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  note_allocation();
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(size_t size) {
  note_allocation();
  return __libc_valloc(size);
}
void* pvalloc(size_t size) {
  note_allocation();
  return __libc_pvalloc(size);
}
void free(void* p) { __libc_free(p); }
}
#endif

namespace ffb::testing {

bool AllocationCounter::available() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return true;
#endif
}

void AllocationCounter::start() {
  void* warm[2];
  backtrace(warm, 2);  // loads the unwinder now, not inside the first counted allocation
  if (library_end == 0) dl_iterate_phdr(find_library, nullptr);
  ours = 0;
  library = 0;
  sites_taken = 0;
  counting = true;
}

AllocationCount AllocationCounter::stop() {
  counting = false;
  return {ours.load(), library.load()};
}

std::string AllocationCounter::sites() {
  std::string text;
  const int n = std::min(sites_taken.load(), kSites);
  for (int s = 0; s < n; ++s) {
    char** names = backtrace_symbols(site_frames[s], site_depth[s]);
    text += "allocation " + std::to_string(s + 1) + ":\n";
    for (int f = 1; f < site_depth[s]; ++f) text += std::string("  ") + (names ? names[f] : "?") + "\n";
    std::free(names);
  }
  return text;
}

}  // namespace ffb::testing

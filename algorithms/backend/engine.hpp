// Process-wide CPU execution context: the oneDNN engine and stream, and the one place where the
// thread count is set for both oneDNN and our OpenMP kernels (they share the same libgomp pool).
#pragma once
#include <string>

namespace dnnl {
struct engine;
struct stream;
}  // namespace dnnl

namespace ffb {

dnnl::engine& cpu_engine();
// The calling thread's oneDNN stream: slot 0 unless a StreamSlot selected another. Slot 0 exists
// once any Matmul was created (or prepare_streams was called).
dnnl::stream& cpu_stream();

// Threads that run primitives at the same time (the pipelined FF schedule: one layer per thread)
// each use their own stream. prepare_streams(n) creates slots 0..n-1 (during setup: creating a
// stream allocates); a StreamSlot selects one for the calling thread while it lives.
void prepare_streams(int n);
class StreamSlot {
 public:
  explicit StreamSlot(int slot);
  ~StreamSlot();
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  int saved_;
};

// Sets the thread count for oneDNN and OpenMP together; n <= 0 means "all hardware threads".
// Also applies the denormal mode (below) to every thread of the pool.
void set_threads(int n);
int threads();

// Subnormal (denormal) floats take a slow microcode path on many x86 cores: on one Intel Xeon, FF
// trained 2.2x slower once its weights and moments held them. `flush` (the default, as deep-learning
// frameworks do) sets FTZ (results that would be subnormal become 0) and DAZ (subnormal inputs read
// as 0) in MXCSR on the calling thread and on every OpenMP thread, which is every thread that runs
// our kernels or oneDNN's (the pipelined schedule's stages are OpenMP threads too). `keep` clears
// both, for the study of what the stall costs. set_threads re-applies the mode.
enum class Denormals { flush, keep };
void set_denormals(Denormals mode);
Denormals denormals();
const char* to_string(Denormals mode);
Denormals parse_denormals(const std::string& text);  // "flush" | "keep"; throws naming both
// True when the calling thread and every OpenMP thread run in the selected mode (tests, manifests).
bool denormal_mode_on_all_threads();

// A one-line description of the threading set-up for manifests (threads, OMP_* variables).
std::string threading_description();

}  // namespace ffb

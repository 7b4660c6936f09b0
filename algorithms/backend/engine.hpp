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
dnnl::stream& cpu_stream();

// Sets the thread count for oneDNN and OpenMP together; n <= 0 means "all hardware threads".
void set_threads(int n);
int threads();

// A one-line description of the threading set-up for manifests (threads, OMP_* variables).
std::string threading_description();

}  // namespace ffb

// See engine.hpp. oneDNN is built with the OpenMP runtime here, so omp_set_num_threads governs it.
#include "algorithms/backend/engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <dnnl.hpp>
#include <fmt/format.h>
#include <omp.h>
#include <xmmintrin.h>

namespace ffb {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

namespace {
std::vector<std::unique_ptr<dnnl::stream>>& streams() {
  static std::vector<std::unique_ptr<dnnl::stream>> all;
  return all;
}
std::mutex streams_mutex;
thread_local int stream_slot = 0;
}  // namespace

void prepare_streams(int n) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  auto& all = streams();
  while (static_cast<int>(all.size()) < std::max(n, 1)) all.push_back(std::make_unique<dnnl::stream>(cpu_engine()));
}

dnnl::stream& cpu_stream() {
  auto& all = streams();
  if (stream_slot >= static_cast<int>(all.size()))
    throw std::logic_error(fmt::format("oneDNN stream slot {} was not prepared (prepare_streams({}) during setup)",
                                       stream_slot, stream_slot + 1));
  return *all[static_cast<size_t>(stream_slot)];
}

StreamSlot::StreamSlot(int slot) : saved_(stream_slot) { stream_slot = slot; }
StreamSlot::~StreamSlot() { stream_slot = saved_; }

namespace {
Denormals denormal_mode = Denormals::flush;
constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;  // MXCSR bits 15 and 6

void apply_denormal_mode_here() {
  const unsigned bits = kFlushToZero | kDenormalsAreZero;
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(denormal_mode == Denormals::flush ? (csr | bits) : (csr & ~bits));
}

bool denormal_mode_here() {
  const unsigned bits = kFlushToZero | kDenormalsAreZero;
  const unsigned set = _mm_getcsr() & bits;
  return denormal_mode == Denormals::flush ? set == bits : set == 0;
}
}  // namespace

void set_denormals(Denormals mode) {
  denormal_mode = mode;
  apply_denormal_mode_here();  // threads the pool creates later copy the creator's MXCSR
#pragma omp parallel num_threads(omp_get_max_threads())
  apply_denormal_mode_here();
}

Denormals denormals() { return denormal_mode; }

const char* to_string(Denormals mode) { return mode == Denormals::flush ? "flush" : "keep"; }

Denormals parse_denormals(const std::string& text) {
  if (text == "flush") return Denormals::flush;
  if (text == "keep") return Denormals::keep;
  throw std::invalid_argument(fmt::format("denormals '{}': use 'flush' (FTZ/DAZ on, the default) or 'keep' (IEEE "
                                          "subnormals, for the study of their cost)", text));
}

bool denormal_mode_on_all_threads() {
  int wrong = denormal_mode_here() ? 0 : 1;
#pragma omp parallel num_threads(omp_get_max_threads()) reduction(+ : wrong)
  wrong += denormal_mode_here() ? 0 : 1;
  return wrong == 0;
}

void set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
  set_denormals(denormal_mode);
}

int threads() { return omp_get_max_threads(); }

std::string threading_description() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "(unset)");
  };
  return fmt::format("threads={} OMP_NUM_THREADS={} OMP_WAIT_POLICY={} OMP_PROC_BIND={} hardware_threads={} denormals={}",
                     threads(), env("OMP_NUM_THREADS"), env("OMP_WAIT_POLICY"), env("OMP_PROC_BIND"),
                     std::thread::hardware_concurrency(), to_string(denormal_mode));
}

}  // namespace ffb

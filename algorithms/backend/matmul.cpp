// oneDNN-backed matmul. Memory objects are made once per primitive; run() only swaps data handles
// and calls the C API's execute with a fixed argument array, so our side allocates nothing.
#include "algorithms/backend/matmul.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

#include <dnnl.hpp>
#include <fmt/format.h>
#include <omp.h>

#include "algorithms/backend/engine.hpp"

namespace ffb {

namespace {
std::atomic<uint64_t> executed_flops{0};
}  // namespace

uint64_t matmul_flops_executed() { return executed_flops.load(std::memory_order_relaxed); }

MatmulShape MatmulShape::normalized() const {
  MatmulShape s = *this;
  if (s.lda == 0) s.lda = trans_a ? m : k;
  if (s.ldb == 0) s.ldb = trans_b ? k : n;
  if (s.ldc == 0) s.ldc = n;
  return s;
}

std::string MatmulShape::describe() const {
  return fmt::format("{}x{}x{} (MxNxK){}{}{}{}{}{}{}{}", m, n, k, trans_a ? " A^T" : "", trans_b ? " B^T" : "",
                     packed_b ? " B packed" : "", accumulate ? " +=C" : "", bias ? " +bias" : "", relu ? " relu" : "",
                     bf16 ? " bf16" : "",
                     threads > 0 ? fmt::format(" {}-thread#{}", threads, instance) : std::string());
}

struct Matmul::Impl {
  dnnl::matmul primitive;
  dnnl::memory a_mem, b_mem, c_mem, bias_mem, scratch_mem;
  dnnl::memory::desc scratch_desc;
  int64_t scratch_bytes = 0;
  std::string impl_name;
  // packed_b: the plain B and its conversion into the primitive's layout.
  dnnl::memory plain_b_mem;
  dnnl::reorder pack;
  bool packed_differs = false;
};

Matmul::Matmul(const MatmulShape& requested) : shape_(requested.normalized()), impl_(std::make_unique<Impl>()) {
  const auto& s = shape_;
  if (s.m <= 0 || s.n <= 0 || s.k <= 0)
    throw std::invalid_argument(fmt::format("matmul: impossible shape {}: every dimension must be >= 1", s.describe()));
  if (s.lda < (s.trans_a ? s.m : s.k) || s.ldb < (s.trans_b ? s.k : s.n) || s.ldc < s.n)
    throw std::invalid_argument(fmt::format("matmul: row stride shorter than the row in {}", s.describe()));

  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  const auto input_type = s.bf16 ? dt::bf16 : dt::f32;
  const dnnl::memory::desc a_md(dims{s.m, s.k}, input_type, s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});
  const dnnl::memory::desc b_md(dims{s.k, s.n}, input_type, s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});
  const dnnl::memory::desc c_md(dims{s.m, s.n}, dt::f32, dims{s.ldc, 1});
  const dnnl::memory::desc bias_md(dims{1, s.n}, dt::f32, dims{s.n, 1});

  dnnl::post_ops post_ops;
  if (s.accumulate) post_ops.append_sum(1.0f);
  if (s.relu) post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(post_ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  auto& eng = cpu_engine();
  prepare_streams(1);  // the stream run() uses exists before any step, never created inside one
  const auto b_request = s.packed_b ? dnnl::memory::desc(dims{s.k, s.n}, input_type, dnnl::memory::format_tag::any) : b_md;
  const auto desc = s.bias ? dnnl::matmul::desc(a_md, b_request, bias_md, c_md) : dnnl::matmul::desc(a_md, b_request, c_md);
  dnnl::matmul::primitive_desc pd;
  // oneDNN (OpenMP runtime) partitions the work for omp_get_max_threads() at creation.
  const int saved_threads = omp_get_max_threads();
  if (s.threads > 0) omp_set_num_threads(s.threads);
  try {
    pd = dnnl::matmul::primitive_desc(desc, attr, eng);
    impl_->primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    omp_set_num_threads(saved_threads);
    throw std::runtime_error(fmt::format("matmul {}: oneDNN has no implementation on this CPU ({}){}", s.describe(),
                                         e.what(), s.bf16 ? "; bf16 needs AVX512-BF16 or AMX: use precision f32" : ""));
  }
  omp_set_num_threads(saved_threads);
  impl_->a_mem = dnnl::memory(a_md, eng, DNNL_MEMORY_NONE);
  impl_->b_mem = dnnl::memory(pd.weights_desc(), eng, DNNL_MEMORY_NONE);
  if (s.packed_b) {
    impl_->plain_b_mem = dnnl::memory(b_md, eng, DNNL_MEMORY_NONE);
    impl_->pack = dnnl::reorder(dnnl::reorder::primitive_desc(eng, b_md, eng, pd.weights_desc()));
    impl_->packed_differs = pd.weights_desc() != b_md;
  }
  impl_->c_mem = dnnl::memory(c_md, eng, DNNL_MEMORY_NONE);
  if (s.bias) impl_->bias_mem = dnnl::memory(bias_md, eng, DNNL_MEMORY_NONE);
  impl_->scratch_desc = pd.scratchpad_desc();
  impl_->scratch_bytes = static_cast<int64_t>(impl_->scratch_desc.get_size());
  if (impl_->scratch_bytes > 0) impl_->scratch_mem = dnnl::memory(impl_->scratch_desc, eng, DNNL_MEMORY_NONE);
  impl_->impl_name = pd.impl_info_str();
}

Matmul::~Matmul() = default;

int64_t Matmul::scratchpad_bytes() const { return impl_->scratch_bytes; }
int64_t Matmul::packed_b_bytes() const {
  return shape_.packed_b ? static_cast<int64_t>(impl_->b_mem.get_desc().get_size()) : 0;
}
bool Matmul::packed_layout_differs() const { return impl_->packed_differs; }

void Matmul::pack_b(const void* plain_b, void* packed) const {
  if (!shape_.packed_b) throw std::logic_error(fmt::format("matmul {}: pack_b on a shape without packed_b", shape_.describe()));
  auto& im = *impl_;
  im.plain_b_mem.set_data_handle(const_cast<void*>(plain_b));
  im.b_mem.set_data_handle(packed);
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, im.plain_b_mem.get()}, {DNNL_ARG_TO, im.b_mem.get()}};
  auto& strm = cpu_stream();
  const auto status = dnnl_primitive_execute(im.pack.get(), strm.get(), 2, args);
  if (status != dnnl_success)
    throw std::runtime_error(fmt::format("matmul {}: packing B failed (status {})", shape_.describe(), static_cast<int>(status)));
  dnnl_stream_wait(strm.get());
}
const char* Matmul::implementation() const { return impl_->impl_name.c_str(); }

void Matmul::run(const void* a, const void* b, float* c, const float* bias, void* scratchpad) const {
  const auto start = std::chrono::steady_clock::now();
  auto& im = *impl_;
  im.a_mem.set_data_handle(const_cast<void*>(a));
  im.b_mem.set_data_handle(const_cast<void*>(b));
  im.c_mem.set_data_handle(c);
  dnnl_exec_arg_t args[5];
  int count = 0;
  args[count++] = {DNNL_ARG_SRC, im.a_mem.get()};
  args[count++] = {DNNL_ARG_WEIGHTS, im.b_mem.get()};
  args[count++] = {DNNL_ARG_DST, im.c_mem.get()};
  if (shape_.bias) {
    im.bias_mem.set_data_handle(const_cast<float*>(bias));
    args[count++] = {DNNL_ARG_BIAS, im.bias_mem.get()};
  }
  if (im.scratch_bytes > 0) {
    im.scratch_mem.set_data_handle(scratchpad);
    args[count++] = {DNNL_ARG_SCRATCHPAD, im.scratch_mem.get()};
  }
  auto& strm = cpu_stream();
  const auto status = dnnl_primitive_execute(im.primitive.get(), strm.get(), count, args);
  if (status != dnnl_success)
    throw std::runtime_error(fmt::format("matmul {}: oneDNN execute failed (status {})", shape_.describe(),
                                         static_cast<int>(status)));
  dnnl_stream_wait(strm.get());
  ++runs_;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  executed_flops.fetch_add(2ull * static_cast<uint64_t>(shape_.m) * static_cast<uint64_t>(shape_.n) *
                               static_cast<uint64_t>(shape_.k), std::memory_order_relaxed);
}

const Matmul& MatmulCache::get(const MatmulShape& shape) {
  const auto key = shape.normalized();
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    it = cache_.emplace(key, std::make_unique<Matmul>(key)).first;
    max_scratchpad_ = std::max(max_scratchpad_, it->second->scratchpad_bytes());
  }
  return *it->second;
}

std::vector<std::pair<MatmulShape, int64_t>> MatmulCache::run_counts() const {
  std::vector<std::pair<MatmulShape, int64_t>> counts;
  for (const auto& [shape, op] : cache_) counts.emplace_back(shape, op->runs());
  return counts;
}

std::vector<std::pair<double, int64_t>> MatmulCache::run_seconds_each() const {
  std::vector<std::pair<double, int64_t>> each;
  for (const auto& entry : cache_) each.emplace_back(entry.second->seconds(), entry.second->runs());
  return each;
}

void matmul(const MatmulShape& shape, const void* a, const void* b, float* c, const float* bias) {
  static MatmulCache cache;  // tests and tools only; algorithms own their cache
  const auto& op = cache.get(shape);
  std::vector<char> scratch(static_cast<size_t>(op.scratchpad_bytes()) + 64);
  std::vector<char> packed(static_cast<size_t>(op.packed_b_bytes()));
  if (shape.packed_b) op.pack_b(b, packed.data());
  op.run(a, shape.packed_b ? packed.data() : b, c, bias, scratch.empty() ? nullptr : scratch.data());
}

std::string onednn_version() {
  const auto* v = dnnl_version();
  return fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
}

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    default: return "other";
  }
}

}  // namespace ffb

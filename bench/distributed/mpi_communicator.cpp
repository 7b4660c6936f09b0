// See mpi_communicator.hpp. Without MPI (FFB_HAVE_MPI undefined) only the refusals are built.
#include "bench/distributed/mpi_communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#ifdef FFB_HAVE_MPI
#include <mpi.h>
#endif

namespace ffb {

bool launched_by_mpi() {
  // Open MPI, MPICH/Hydra and PMIx set these in every rank's environment.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

nlohmann::json PingPong::to_json() const {
  nlohmann::json j = {{"alpha_us", alpha_seconds * 1e6}, {"beta_gbytes_per_s", beta_bytes_per_second * 1e-9},
                      {"method", "ranks 0 and 1, blocking send/receive round trips, median of the repeats per size, halved; "
                                 "alpha = the 8-byte one-way time, 1/beta = least-squares slope over sizes >= 64 KiB"}};
  for (const auto& [bytes, seconds] : points) j["points"].push_back({{"bytes", bytes}, {"one_way_us", seconds * 1e6}});
  j["allreduce"] = {{"ranks", ranks}, {"alpha_us", allreduce_alpha_seconds * 1e6},
                    {"gbytes_per_s", allreduce_bytes_per_second * 1e-9},
                    {"method", "the Communicator's allreduce (float sum, in place, 8 MiB pieces) over all ranks, median of the repeats per size; "
                               "alpha = the smallest size's time, 1/rate = least-squares slope over sizes >= 64 KiB"}};
  for (const auto& [bytes, seconds] : allreduce_points)
    j["allreduce"]["points"].push_back({{"bytes", bytes}, {"us", seconds * 1e6}});
  return j;
}

#ifndef FFB_HAVE_MPI

bool mpi_available() { return false; }

namespace {
[[noreturn]] void no_mpi() {
  throw std::runtime_error("this ffbench was built without MPI, so nothing distributed can run: install Open MPI "
                           "(scripts/setup.sh installs openmpi-bin and libopenmpi-dev), then configure and build again");
}
}  // namespace

MpiSession::MpiSession() { no_mpi(); }
MpiSession::~MpiSession() = default;
Communicator& MpiSession::world() { no_mpi(); }
std::vector<std::string> MpiSession::host_names() { no_mpi(); }
PingPong measure_pingpong(Communicator&, int64_t, int) { no_mpi(); }
void end_mpi_after_error(int) {}

#else

bool mpi_available() { return true; }

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(fmt::format("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(length))));
}

// Messages above INT_MAX elements would need derived types; no layer of ours comes near.
int count_of(int64_t n) {
  if (n < 0 || n > 0x7fffffff) throw std::invalid_argument(fmt::format("MPI message of {} values is too large", n));
  return static_cast<int>(n);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(float* data, int64_t n) override {
    // In pieces of at most 8 MiB: measured with Open MPI 4.1 on 2 ranks of one host, an in-place
    // float allreduce ran at 4.3 GB/s up to 8 MiB and at 0.33 GB/s at 32 MiB (its algorithm for
    // large messages); the pieces keep every gradient buffer on the fast path.
    const auto start = Clock::now();
    for (int64_t done = 0; done < n; done += kAllreducePiece)
      check(MPI_Allreduce(MPI_IN_PLACE, data + done, count_of(std::min(kAllreducePiece, n - done)), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD), "Allreduce");
    account_collective(start, n * static_cast<int64_t>(sizeof(float)));
  }
  void allreduce_sum(double* data, int64_t n) override {
    const auto start = Clock::now();
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "Allreduce");
    account_collective(start, n * static_cast<int64_t>(sizeof(double)));
  }
  void allreduce_max(double* data, int64_t n) override {
    const auto start = Clock::now();
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "Allreduce");
    account_collective(start, n * static_cast<int64_t>(sizeof(double)));
  }
  bool any(bool flag) override {
    const auto start = Clock::now();
    int value = flag ? 1 : 0;
    check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "Allreduce");
    account_collective(start, static_cast<int64_t>(sizeof(int)));
    return value != 0;
  }
  void broadcast(float* data, int64_t n, int root) override {
    const auto start = Clock::now();
    check(MPI_Bcast(data, count_of(n), MPI_FLOAT, root, MPI_COMM_WORLD), "Bcast");
    account_collective(start, n * static_cast<int64_t>(sizeof(float)));
  }
  void begin_send(const float* data, int64_t n, int to, int slot) override {
    const auto start = Clock::now();
    wait(send_[slot]);  // a slot holds one transfer at a time
    check(MPI_Isend(data, count_of(n), MPI_FLOAT, to, kTagBase + slot, MPI_COMM_WORLD, &send_[slot]), "Isend");
    stats_.bytes_sent += n * static_cast<int64_t>(sizeof(float));
    ++stats_.messages;
    stats_.post_seconds += since(start);
  }
  void wait_send(int slot) override { timed_wait(send_[slot]); }
  void begin_receive(float* data, int64_t n, int from, int slot) override {
    const auto start = Clock::now();
    wait(receive_[slot]);
    check(MPI_Irecv(data, count_of(n), MPI_FLOAT, from, kTagBase + slot, MPI_COMM_WORLD, &receive_[slot]), "Irecv");
    stats_.bytes_received += n * static_cast<int64_t>(sizeof(float));
    stats_.post_seconds += since(start);
  }
  void wait_receive(int slot) override { timed_wait(receive_[slot]); }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "Barrier"); }
  const CommStats& stats() const override { return stats_; }
  void reset_stats() override { stats_ = {}; }

 private:
  static constexpr int kTagBase = 4200;
  static constexpr int64_t kAllreducePiece = int64_t{2} << 20;  // floats: 8 MiB
  static void wait(MPI_Request& request) {
    if (request != MPI_REQUEST_NULL) check(MPI_Wait(&request, MPI_STATUS_IGNORE), "Wait");
  }
  void timed_wait(MPI_Request& request) {
    if (request == MPI_REQUEST_NULL) return;
    const auto start = Clock::now();
    wait(request);
    stats_.wait_seconds += since(start);
  }
  void account_collective(Clock::time_point start, int64_t bytes) {
    stats_.reduce_seconds += since(start);
    stats_.bytes_sent += bytes;
    stats_.bytes_received += bytes;
    ++stats_.messages;
  }
  int rank_ = 0, size_ = 1;
  MPI_Request send_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  MPI_Request receive_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  CommStats stats_;
};

}  // namespace

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "Init_thread");
    if (provided < MPI_THREAD_FUNNELED)
      throw std::runtime_error("this MPI library does not allow OpenMP threads beside MPI (MPI_THREAD_FUNNELED)");
  }
  // Errors come back as codes, which check() turns into exceptions that name the call.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  world_ = std::make_unique<MpiCommunicator>();
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // Leaving because of an error: the other ranks may wait in a collective for this one, and
  // MPI_Finalize would wait for them. end_mpi_after_error() ends the job once the error is printed.
  if (finalized || std::uncaught_exceptions() > 0) return;
  MPI_Finalize();
}

void end_mpi_after_error(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
}

Communicator& MpiSession::world() { return *world_; }

std::vector<std::string> MpiSession::host_names() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  std::vector<char> all(static_cast<size_t>(MPI_MAX_PROCESSOR_NAME) * static_cast<size_t>(world_->size()));
  check(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, MPI_COMM_WORLD),
        "Allgather");
  std::vector<std::string> names;
  for (int r = 0; r < world_->size(); ++r) names.emplace_back(all.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME);
  return names;
}

PingPong measure_pingpong(Communicator& comm, int64_t max_bytes, int repeats) {
  if (comm.size() < 2) throw std::invalid_argument("the ping-pong needs 2 ranks or more: run it under mpirun -np 2");
  PingPong result;
  std::vector<char> buffer(static_cast<size_t>(max_bytes));
  const int rank = comm.rank();
  for (int64_t bytes = 8; bytes <= max_bytes; bytes *= 4) {
    std::vector<double> times;
    for (int r = 0; r < repeats + 2; ++r) {  // the first two warm the path up
      comm.barrier();
      const auto start = Clock::now();
      if (rank == 0) {
        check(MPI_Send(buffer.data(), count_of(bytes), MPI_BYTE, 1, 77, MPI_COMM_WORLD), "Send");
        check(MPI_Recv(buffer.data(), count_of(bytes), MPI_BYTE, 1, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "Recv");
      } else if (rank == 1) {
        check(MPI_Recv(buffer.data(), count_of(bytes), MPI_BYTE, 0, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "Recv");
        check(MPI_Send(buffer.data(), count_of(bytes), MPI_BYTE, 0, 77, MPI_COMM_WORLD), "Send");
      }
      if (r >= 2) times.push_back(since(start) / 2.0);
    }
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
    double median = times[times.size() / 2];
    comm.broadcast(reinterpret_cast<float*>(&median), 2, 0);  // rank 0's clock decides (a double is two floats)
    result.points.push_back({static_cast<double>(bytes), median});
  }
  // alpha: the smallest message's one-way time; beta: the least-squares slope of t over n for
  // messages of 64 KiB and more (where bandwidth, not latency, decides).
  auto rate = [](const std::vector<std::array<double, 2>>& points) {
    double sn = 0, st = 0, snn = 0, snt = 0, m = 0;
    for (const auto& [n, t] : points)
      if (n >= 65536) sn += n, st += t, snn += n * n, snt += n * t, m += 1;
    const double slope = m >= 2 ? (m * snt - sn * st) / (m * snn - sn * sn) : 0.0;
    return slope > 0 ? 1.0 / slope : 0.0;
  };
  result.alpha_seconds = result.points.front()[1];
  result.beta_bytes_per_second = rate(result.points);
  // The allreduce of the gradients, as the data-parallel mode calls it.
  result.ranks = comm.size();
  std::vector<float> values(static_cast<size_t>(max_bytes) / sizeof(float), 1.0f);
  for (int64_t bytes = 8; bytes <= max_bytes; bytes *= 4) {
    std::vector<double> times;
    for (int r = 0; r < repeats + 2; ++r) {
      comm.barrier();
      const auto start = Clock::now();
      comm.allreduce_sum(values.data(), bytes / static_cast<int64_t>(sizeof(float)));  // as training calls it
      if (r >= 2) times.push_back(since(start));
      std::fill(values.begin(), values.end(), 1.0f);  // keep the values finite
    }
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
    double median = times[times.size() / 2];
    comm.broadcast(reinterpret_cast<float*>(&median), 2, 0);
    result.allreduce_points.push_back({static_cast<double>(bytes), median});
  }
  result.allreduce_alpha_seconds = result.allreduce_points.front()[1];
  result.allreduce_bytes_per_second = rate(result.allreduce_points);
  return result;
}

#endif

}  // namespace ffb

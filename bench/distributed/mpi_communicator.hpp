// The Communicator (algorithms/backend/communicator.hpp) over MPI, and what a distributed run needs
// around it: MPI's start and end for the process, and the ping-pong that measures the network's
// latency and bandwidth for the scaling model. Built only when CMake finds MPI (FFB_HAVE_MPI).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/backend/communicator.hpp"

namespace ffb {

// True when this ffbench was built with MPI.
bool mpi_available();
// True when this process was started by mpirun/mpiexec (its environment says so), so a run
// started by hand does not pretend to be a one-rank MPI job.
bool launched_by_mpi();

// After an error has been printed: ends the whole MPI job (MPI_Abort, so no rank waits forever
// for this one) when MPI runs with more than one rank; nothing when MPI never started.
void end_mpi_after_error(int code);

// Starts MPI for this process (thread level "funneled": only the main thread calls MPI) and ends
// it on destruction. Throws, saying how to build with MPI, when the build has none.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // The communicator over every rank of the job (MPI_COMM_WORLD).
  Communicator& world();
  // Every rank's host name, in rank order (collective).
  std::vector<std::string> host_names();

 private:
  std::unique_ptr<Communicator> world_;
};

// Latency and bandwidth between ranks 0 and 1 (collective over all ranks; the others wait):
// round-trip times for message sizes from 8 B to `max_bytes` (x4 each), `repeats` round trips per
// size, the median per size halved; alpha is the 8-byte one-way time and 1/beta the least-squares
// slope of the one-way time over the sizes from 64 KiB: t(n) = alpha + n / beta.
// Then the Communicator's allreduce (sum of floats, in 8 MiB pieces, as training calls it) over all
// ranks for the same sizes, median per size, fitted the same way: what a gradient allreduce costs
// here, copies and the additions included.
struct PingPong {
  double alpha_seconds = 0.0;          // latency per message
  double beta_bytes_per_second = 0.0;  // bandwidth
  std::vector<std::array<double, 2>> points;  // (bytes, one-way seconds, median)
  int ranks = 0;                                  // of the allreduce
  double allreduce_alpha_seconds = 0.0;           // the smallest allreduce's time
  double allreduce_bytes_per_second = 0.0;        // 1 / least-squares slope over sizes >= 64 KiB
  std::vector<std::array<double, 2>> allreduce_points;  // (bytes, seconds, median)
  nlohmann::json to_json() const;
};
PingPong measure_pingpong(Communicator& comm, int64_t max_bytes = 64 << 20, int repeats = 20);

}  // namespace ffb

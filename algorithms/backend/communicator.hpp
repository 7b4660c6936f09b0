// What a training process needs from the other processes of a distributed run. The backend and
// the algorithms know only this interface; bench/distributed implements it over MPI (and a build
// without MPI has no implementation, so nothing distributed runs there).
//
// Two modes use it (README.md: "Past one machine"):
//   data      every rank trains on its slice of each batch; gradients are averaged over the ranks
//             (allreduce) before every update, so every rank makes the same update;
//   pipeline  rank r owns a contiguous block of layers (layer-local algorithms only) and trains it
//             on the normalised activations rank r-1 sent one step earlier; non-blocking sends
//             and receives into two slots (one in flight while the other is used).
// Every call is made from the process's main thread, outside OpenMP regions.
#pragma once
#include <cstdint>
#include <string>

namespace ffb {

enum class DistributedMode { none, data, pipeline };

std::string to_string(DistributedMode mode);
DistributedMode distributed_mode_from(const std::string& text);  // throws listing none, data, pipeline

// What one rank spent on communication, for the "past one machine" measurements.
struct CommStats {
  int64_t bytes_sent = 0, bytes_received = 0;
  int64_t messages = 0;          // point-to-point messages sent + collectives joined
  double reduce_seconds = 0.0;   // inside allreduce calls (data mode: communication, and waiting for slower ranks)
  double wait_seconds = 0.0;     // blocked in a receive or send wait (pipeline: the bubble and the transfer)
  double post_seconds = 0.0;     // posting non-blocking sends and receives
  double total() const { return reduce_seconds + wait_seconds + post_seconds; }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `n` values over all ranks, in place, on every rank.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_max(double* data, int64_t n) = 0;
  // True on every rank when `flag` is true on any rank (a stop decision all ranks must share).
  virtual bool any(bool flag) = 0;
  // Copies `n` floats from rank `root` to every rank.
  virtual void broadcast(float* data, int64_t n, int root) = 0;
  // Non-blocking point-to-point into one of two slots per direction: begin_send/begin_receive post
  // the transfer; wait_send/wait_receive block until that slot's transfer is done (no-ops when
  // nothing is posted on the slot). A slot's buffer must not be touched between its begin and wait.
  virtual void begin_send(const float* data, int64_t n, int to, int slot) = 0;
  virtual void wait_send(int slot) = 0;
  virtual void begin_receive(float* data, int64_t n, int from, int slot) = 0;
  virtual void wait_receive(int slot) = 0;
  // Blocks until every rank has called it.
  virtual void barrier() = 0;
  virtual const CommStats& stats() const = 0;
  virtual void reset_stats() = 0;
};

}  // namespace ffb

// How a point (or a training run) ended: the one place its names are written and read, for the
// result files (`status`), the resume check and the report (scripts/reporting/ reads the same
// names). A finished point is not run again by --resume; a failed one is.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>

namespace ffb {

enum class PointStatus {
  ok,         // measured
  diverged,   // the loss stopped being finite (recorded with where, the sweep goes on)
  collapsed,  // the best prediction at chance level, or a layer silent for an epoch
  skipped,    // could not run here (no MPI, no privilege for a link, no PyTorch), with the reason
  failed,     // crashed or refused: run again on --resume
};

inline const char* to_string(PointStatus status) {
  switch (status) {
    case PointStatus::ok: return "ok";
    case PointStatus::diverged: return "diverged";
    case PointStatus::collapsed: return "collapsed";
    case PointStatus::skipped: return "skipped";
    case PointStatus::failed: return "failed";
  }
  return "failed";
}

inline std::optional<PointStatus> point_status_from(const std::string& name) {
  for (auto s : {PointStatus::ok, PointStatus::diverged, PointStatus::collapsed, PointStatus::skipped, PointStatus::failed})
    if (name == to_string(s)) return s;
  return std::nullopt;
}

// Finished: --resume keeps it. Failed (or unknown) points run again.
inline bool is_finished(PointStatus status) { return status != PointStatus::failed; }

// Training's loss stopped being finite: a result of the run (status diverged), not an error of the program.
struct Diverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ffb

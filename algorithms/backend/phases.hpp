// Where a training step's wall time goes, part by part, on the thread that runs the step (the
// master of every parallel region it opens). An algorithm names its parts once, at setup; the step
// calls lap(part) after each part, which adds the time since the previous lap (or since the step
// began) to that part. Two clock reads' worth of work per part, no allocation. The harness reads
// the totals around its timed windows, so a missed speed target shows which part of the step the
// time went to, and how each part scales with threads (the products appear as parts too, so the
// parts sum to the step).
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include <omp.h>

namespace ffb {

class StepPhases {
 public:
  // Setup only (allocates). Indices into `names` are the parts' numbers.
  void define(std::vector<std::string> names) {
    names_ = std::move(names);
    seconds_.assign(names_.size(), 0.0);
  }
  // A step begins.
  void start() { last_ = std::chrono::steady_clock::now(); }
  // The time since the last lap (or start) goes to `part`. Ignored inside a parallel region (a
  // schedule that runs layers on several threads at once laps once, after the region).
  void lap(size_t part) {
    if (part >= seconds_.size() || omp_in_parallel()) return;
    const auto now = std::chrono::steady_clock::now();
    seconds_[part] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<double>& seconds() const { return seconds_; }

 private:
  std::vector<std::string> names_;
  std::vector<double> seconds_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace ffb

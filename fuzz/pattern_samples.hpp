// Calibration samples made from a fixed pattern (fuzz_common.hpp's
// pattern_value), for the ONNX harness and the seed generator: no data files,
// the same values on every run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "quanta/converter.hpp"

namespace quanta::fuzz {

class PatternSamples final : public convert::SampleSource {
 public:
  // counts[i]: elements of graph input i; `samples` samples in all.
  PatternSamples(std::vector<size_t> counts, int64_t samples)
      : counts_(std::move(counts)), samples_(samples) {}

  int64_t size() const override { return samples_; }

  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    if (next_ >= samples_) return false;
    sample.resize(counts_.size());
    for (size_t i = 0; i < counts_.size(); ++i) {
      sample[i].resize(counts_[i]);
      for (size_t k = 0; k < counts_[i]; ++k) {
        sample[i][k] = pattern_value(i + 7 * static_cast<size_t>(next_), k);
      }
    }
    ++next_;
    return true;
  }

  Status rewind() override {
    next_ = 0;
    return Status::Ok();
  }

 private:
  std::vector<size_t> counts_;
  int64_t samples_;
  int64_t next_ = 0;
};

// Element counts of the graph's inputs, or an empty vector when one is not
// positive or exceeds `max_elements`.
inline std::vector<size_t> input_counts(const std::vector<convert::InputSpec>& inputs,
                                        int64_t max_elements) {
  std::vector<size_t> counts;
  for (const convert::InputSpec& in : inputs) {
    int64_t n = 1;
    for (int64_t d : in.shape) {
      if (d <= 0 || __builtin_mul_overflow(n, d, &n) || n > max_elements) return {};
    }
    counts.push_back(static_cast<size_t>(n));
  }
  return counts;
}

}  // namespace quanta::fuzz

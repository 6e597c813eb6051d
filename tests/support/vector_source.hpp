// An in-memory calibration source for tests: one sample per vector, for a
// single-input model.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "quanta/converter.hpp"

namespace quanta::test {

class VectorSource : public convert::SampleSource {
 public:
  explicit VectorSource(std::vector<std::vector<float>> samples) : samples_(std::move(samples)) {}
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    if (pos_ >= samples_.size()) return false;
    sample.assign(1, samples_[pos_++]);
    return true;
  }
  Status rewind() override {
    pos_ = 0;
    return Status::Ok();
  }

 private:
  std::vector<std::vector<float>> samples_;
  size_t pos_ = 0;
};

}  // namespace quanta::test

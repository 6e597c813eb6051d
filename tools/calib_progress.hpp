// The calibration progress of `quanta convert` (docs/cli.md, "quanta convert").
//
// Each pass gets its own line with its own count: "calibration pass 1/2
// (ranges)" then "calibration pass 2/2 (histograms)" (one pass for minmax).
// On a terminal the line is redrawn in place (at most every 100 ms) with a
// bar, the count and the time left, and ends when the pass ends. Elsewhere (a
// log file, a pipe) there is no carriage return: one line when a pass ends,
// and one every 10 s during a long pass.
#pragma once

#include <functional>
#include <string>

#include "quanta/converter.hpp"

namespace quanta::cli {

class CalibrationProgressPrinter {
 public:
  // `write` receives the text (stderr by default); `now` gives seconds on a
  // steady clock (tests pass a fake one).
  explicit CalibrationProgressPrinter(bool terminal, std::function<void(const std::string&)> write = {},
                                      std::function<double()> now = {});
  CalibrationProgressPrinter(const CalibrationProgressPrinter&) = delete;
  CalibrationProgressPrinter& operator=(const CalibrationProgressPrinter&) = delete;

  void update(const convert::CalibrationProgress& p);
  // After calibration: ends the pass in progress (`ok`: it completed; else the
  // terminal line is only closed).
  void finish(bool ok);

 private:
  void draw(bool final);
  void end_pass(bool ok);

  bool terminal_;
  std::function<void(const std::string&)> write_;
  std::function<double()> now_;
  convert::CalibrationProgress last_;
  std::string what_;       // last_.what, owned
  bool open_ = false;      // a pass has started and not ended
  double pass_start_ = 0;  // time of the pass's start
  double last_draw_ = -1e30;
};

// "0.4 s", "12 s", "2 min 05 s"
std::string duration_str(double seconds);

}  // namespace quanta::cli

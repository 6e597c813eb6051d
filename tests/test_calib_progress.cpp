// The calibration progress of `quanta convert` (tools/calib_progress.hpp),
// with a fake clock: one line per pass with its own count and the time left,
// redrawn in place on a terminal, plain lines in a log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "calib_progress.hpp"

namespace quanta::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Harness {
  std::string out;
  double t = 100.0;
  CalibrationProgressPrinter printer;
  explicit Harness(bool terminal)
      : printer(terminal, [this](const std::string& s) { out += s; }, [this] { return t; }) {}
  // Reports samples `from`..`to` of a pass, one every `step` seconds (done =
  // 0 is the start of the pass, reported without delay).
  void pass(int pass, int passes, const char* what, int64_t from, int64_t to, int64_t total, double step) {
    for (int64_t i = from; i <= to; ++i) {
      if (i > 0) t += step;
      printer.update({pass, passes, what, i, total});
    }
  }
};

TEST(CalibProgress, LogGetsOneLinePerPassAndNoCarriageReturn) {
  Harness h(/*terminal=*/false);
  h.pass(1, 2, "ranges", 0, 600, 600, 0.001);
  h.pass(2, 2, "histograms", 0, 600, 600, 0.002);
  h.printer.finish(true);
  EXPECT_EQ(h.out,
            "calibration pass 1/2 (ranges): 600 samples in 0.6 s\n"
            "calibration pass 2/2 (histograms): 600 samples in 1.2 s\n");
}

TEST(CalibProgress, LongPassInALogReportsEveryTenSecondsWithTimeLeft) {
  Harness h(/*terminal=*/false);
  h.pass(1, 1, "ranges", 0, 100, 400, 0.125);  // 10 s for the first 80 of 400
  EXPECT_EQ(h.out, "calibration pass 1/1 (ranges): 80/400 samples, 40 s left\n");
  h.pass(1, 1, "ranges", 101, 400, 400, 0.125);
  EXPECT_EQ(h.out,
            "calibration pass 1/1 (ranges): 80/400 samples, 40 s left\n"
            "calibration pass 1/1 (ranges): 160/400 samples, 30 s left\n"
            "calibration pass 1/1 (ranges): 240/400 samples, 20 s left\n"
            "calibration pass 1/1 (ranges): 320/400 samples, 10 s left\n"
            "calibration pass 1/1 (ranges): 400 samples in 50 s\n");
}

TEST(CalibProgress, UnknownSizeEndsWhenTheNextPassStartsOrAtFinish) {
  Harness h(/*terminal=*/false);
  h.pass(1, 2, "ranges", 0, 5, -1, 1.0);
  EXPECT_EQ(h.out, "");
  h.pass(2, 2, "histograms", 0, 2, 5, 1.0);  // the first pass ends here
  EXPECT_EQ(h.out, "calibration pass 1/2 (ranges): 5 samples in 5.0 s\n");
  Harness m(/*terminal=*/false);
  m.pass(1, 1, "ranges", 0, 3, -1, 0.5);
  m.printer.finish(true);
  EXPECT_EQ(m.out, "calibration pass 1/1 (ranges): 3 samples in 1.5 s\n");
}

TEST(CalibProgress, TerminalRedrawsInPlaceWithABarAndEndsEachPassWithANewline) {
  Harness h(/*terminal=*/true);
  h.pass(1, 2, "ranges", 0, 4, 4, 1.0);
  EXPECT_EQ(h.out,
            "\rcalibration pass 1/2 (ranges) [..............................] 0/4 samples\033[K"
            "\rcalibration pass 1/2 (ranges) [#######.......................] 1/4 samples, 3.0 s left\033[K"
            "\rcalibration pass 1/2 (ranges) [###############...............] 2/4 samples, 2.0 s left\033[K"
            "\rcalibration pass 1/2 (ranges) [######################........] 3/4 samples, 1.0 s left\033[K"
            "\rcalibration pass 1/2 (ranges) [##############################] 4 samples in 4.0 s\033[K\n");
  // Redraws are at most every 0.1 s; a failure closes the line without a total.
  h.out.clear();
  h.pass(2, 2, "histograms", 0, 3, 4, 0.01);
  h.printer.finish(false);
  EXPECT_EQ(h.out, "\rcalibration pass 2/2 (histograms) [..............................] 0/4 samples\033[K\n");
}

TEST(CalibProgress, Durations) {
  EXPECT_EQ(duration_str(0.04), "0.0 s");
  EXPECT_EQ(duration_str(9.4), "9.4 s");
  EXPECT_EQ(duration_str(12.4), "12 s");
  EXPECT_EQ(duration_str(125), "2 min 05 s");
  EXPECT_EQ(duration_str(-3), "0.0 s");
}

}  // namespace
}  // namespace quanta::cli

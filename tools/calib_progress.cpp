#include "calib_progress.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace quanta::cli {
namespace {

constexpr double kTerminalRedraw = 0.1;  // seconds between terminal redraws
constexpr double kLogInterval = 10.0;    // seconds between log lines of one pass

}  // namespace

std::string duration_str(double seconds) {
  seconds = std::max(0.0, seconds);
  if (seconds < 9.95) return fmt::format("{:.1f} s", seconds);
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return fmt::format("{} s", s);
  return fmt::format("{} min {:02} s", s / 60, s % 60);
}

CalibrationProgressPrinter::CalibrationProgressPrinter(bool terminal,
                                                       std::function<void(const std::string&)> write,
                                                       std::function<double()> now)
    : terminal_(terminal), write_(std::move(write)), now_(std::move(now)) {
  if (!write_) {
    write_ = [](const std::string& s) {
      std::fflush(stdout);  // what was printed before comes first in a shared log
      std::fputs(s.c_str(), stderr);
      std::fflush(stderr);
    };
  }
  if (!now_) {
    now_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
}

void CalibrationProgressPrinter::update(const convert::CalibrationProgress& p) {
  const double t = now_();
  if (open_ && p.pass != last_.pass) end_pass(true);
  if (!open_) {
    open_ = true;
    pass_start_ = t;
    last_draw_ = terminal_ ? -1e30 : t;  // a log gets its first line after kLogInterval
  }
  last_ = p;
  what_ = p.what ? p.what : "";
  last_.what = what_.c_str();
  if (p.total >= 0 && p.done >= p.total) {
    end_pass(true);
    return;
  }
  if (t - last_draw_ >= (terminal_ ? kTerminalRedraw : kLogInterval)) {
    last_draw_ = t;
    draw(false);
  }
}

void CalibrationProgressPrinter::finish(bool ok) {
  if (open_) end_pass(ok);
}

void CalibrationProgressPrinter::end_pass(bool ok) {
  open_ = false;
  if (ok) {
    draw(true);
  } else if (terminal_ && last_draw_ > -1e30) {
    write_("\n");  // keep the partial line; the error follows on its own line
  }
}

void CalibrationProgressPrinter::draw(bool final) {
  const convert::CalibrationProgress& p = last_;
  const double elapsed = now_() - pass_start_;
  const std::string head = fmt::format("calibration pass {}/{} ({})", p.pass, p.passes, p.what);
  std::string count = p.total >= 0 ? fmt::format("{}/{} samples", p.done, p.total)
                                   : fmt::format("{} samples", p.done);
  std::string tail;
  if (final) {
    tail = fmt::format("{} samples in {}", p.done, duration_str(elapsed));
  } else if (p.total > 0 && p.done > 0) {  // the rate of this pass so far
    const double left = elapsed / static_cast<double>(p.done) * static_cast<double>(p.total - p.done);
    tail = fmt::format("{}, {} left", count, duration_str(left));
  } else {
    tail = count;
  }
  if (!terminal_) {
    write_(fmt::format("{}: {}\n", head, tail));
    return;
  }
  std::string bar;
  if (p.total > 0) {
    constexpr int64_t kWidth = 30;
    const int64_t filled = kWidth * std::min(p.done, p.total) / p.total;
    bar = fmt::format(" [{}{}]", std::string(static_cast<size_t>(filled), '#'),
                      std::string(static_cast<size_t>(kWidth - filled), '.'));
  }
  // "\033[K" clears what a longer previous draw left at the end of the line.
  write_(fmt::format("\r{}{} {}\033[K{}", head, bar, tail, final ? "\n" : ""));
}

}  // namespace quanta::cli

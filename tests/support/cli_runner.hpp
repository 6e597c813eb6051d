// Runs the built `quanta` binary (path in the QUANTA_BIN environment
// variable, set by CTest) and captures what it prints. Shared by the CLI tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quanta/npy.hpp"

namespace quanta::test {

struct CliOutcome {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;
  int signal = 0;
  std::string output;   // stdout, and stderr unless it was discarded
};

// Single-quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);
// The binary under test ("" when QUANTA_BIN is not set).
std::string quanta_bin();
// Runs `quanta <args>` through the shell. stderr joins stdout unless
// `discard_stderr`. Adds a test failure when the output holds a sanitizer
// report, whatever the exit status.
CliOutcome run_quanta(const std::string& args, bool discard_stderr = false);

// The line of `text` that starts with `prefix` ("" if none).
std::string line_starting(const std::string& text, const std::string& prefix);
// "12.50% (6/48)", as `quanta eval` and `compare` print a ratio.
std::string percent_count(int64_t k, int64_t n);
// npy::write_file, adding a test failure if it fails.
void write_npy(const std::string& path, const npy::Array& a);
// A 1-D int64 array (labels).
npy::Array int64_array(const std::vector<int64_t>& v);

}  // namespace quanta::test

// The process exited normally (no signal: no crash) with status `c`.
#define EXPECT_EXIT_CODE(o, c)                                                            \
  do {                                                                                    \
    EXPECT_TRUE((o).exited) << "killed by signal " << (o).signal << "\n" << (o).output;   \
    EXPECT_EQ((o).code, (c)) << (o).output;                                               \
  } while (0)

// Runs the built `quanta` binary (path in the QUANTA_BIN environment
// variable, set by CTest) and captures what it prints. Shared by the CLI tests.
#pragma once

#include <string>

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

}  // namespace quanta::test

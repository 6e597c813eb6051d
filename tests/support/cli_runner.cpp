#include "support/cli_runner.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace quanta::test {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string quanta_bin() {
  const char* b = std::getenv("QUANTA_BIN");
  return b ? b : "";
}

CliOutcome run_quanta(const std::string& args, bool discard_stderr) {
  const std::string cmd =
      shell_quote(quanta_bin()) + " " + args + (discard_stderr ? " 2>/dev/null" : " 2>&1");
  CliOutcome o;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) o.output.append(buf, n);
  const int status = pclose(p);
  o.exited = WIFEXITED(status);
  if (o.exited) o.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  if (o.output.find("Sanitizer") != std::string::npos ||
      o.output.find("runtime error:") != std::string::npos) {
    ADD_FAILURE() << "sanitizer report from: quanta " << args << "\n" << o.output;
  }
  return o;
}

}  // namespace quanta::test

#include "support/cli_runner.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

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

std::string line_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

std::string percent_count(int64_t k, int64_t n) {
  return fmt::format("{:.2f}% ({}/{})", 100.0 * static_cast<double>(k) / static_cast<double>(n), k, n);
}

void write_npy(const std::string& path, const npy::Array& a) {
  const Status st = npy::write_file(path, a);
  EXPECT_TRUE(st.ok()) << st.to_string();
}

npy::Array int64_array(const std::vector<int64_t>& v) {
  return npy::from_bytes(npy::ElementType::kI64, {static_cast<int64_t>(v.size())}, v.data(), v.size() * 8);
}

}  // namespace quanta::test

#include "limits.hpp"

#include <exception>
#include <fmt/format.h>
#include <new>

namespace quanta::convert::detail {

int64_t shape_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (!checked_mul(n, d, &n)) return INT64_MAX;
  }
  return n;
}

int64_t bounded_elements(const std::vector<int64_t>& shape) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) {
      empty = true;
      continue;
    }
    if (!checked_mul(nonzero, d, &nonzero) || nonzero > kMaxTensorElements) return -1;
  }
  return empty ? 0 : nonzero;
}

std::string shape_problem(const std::vector<int64_t>& shape, bool positive) {
  for (int64_t d : shape) {
    if (d < 0) return fmt::format("has the negative dimension {}", d);
    if (d == 0 && positive) return "has a dimension of size 0";
  }
  if (bounded_elements(shape) < 0) {
    return fmt::format("has more than {} elements (the converter's limit for one tensor)",
                       kMaxTensorElements);
  }
  return "";
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

namespace {
std::string format_bytes(double bytes, bool whole_if_exact) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  bytes /= 1024;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  if (whole_if_exact && bytes == static_cast<double>(static_cast<int64_t>(bytes))) {
    return fmt::format("{:.0f} {}", bytes, kUnits[u]);
  }
  return fmt::format("{:.1f} {}", bytes, kUnits[u]);
}
}  // namespace

std::string byte_size(double bytes) { return format_bytes(bytes, false); }
std::string limit_size(double bytes) { return format_bytes(bytes, true); }

Status current_exception_status(const char* function) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status{StatusCode::kInternal, fmt::format("{}: out of memory (std::bad_alloc)", function)};
  } catch (const std::exception& e) {
    return Status{StatusCode::kInternal, fmt::format("{}: unexpected exception: {}", function, e.what())};
  } catch (...) {
    return Status{StatusCode::kInternal, fmt::format("{}: unexpected exception of unknown type", function)};
  }
}

}  // namespace quanta::convert::detail

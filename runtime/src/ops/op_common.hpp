// Internal helpers shared by the ops' load-time checks and their prepare
// steps (ops/<op>.cpp): reading an options table with its schema
// defaults, the options type each op expects, and small shape utilities.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "model_impl.hpp"
#include "quanta/kernels/ref.h"

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define QUANTA_OPS_TRY(expr)             \
  do {                                   \
    if (::quanta::Status quanta_ops_status_ = (expr); !quanta_ops_status_.ok()) { \
      return quanta_ops_status_;         \
    }                                    \
  } while (0)

namespace quanta::detail {

// The node's options unpacked into the object-API struct T (for example
// fb::Conv2DOptionsT). A node without options (or whose options are of another
// type; shape_check refuses that) yields T's schema defaults.
template <class T>
T read_options(const fb::Node* node) {
  T out;
  if (node != nullptr) {
    if (const auto* table = node->template options_as<typename T::TableType>()) {
      table->UnPackTo(&out);
    }
  }
  return out;
}

// The options table type of each op (Options::NONE: the op has none), from
// quanta/op_list.def.
inline fb::Options expected_options(OpType op) {
  static constexpr fb::Options kOptions[] = {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) fb::Options::options,
#include "quanta/op_list.def"
  };
  const size_t i = static_cast<size_t>(op);
  return i < std::size(kOptions) ? kOptions[i] : fb::Options::NONE;
}

inline kernels::Act to_act(fb::Activation a) { return static_cast<kernels::Act>(a); }

// Product of shape[begin, end); saturates at INT64_MAX (a dimension product
// is not bounded by the element count when another dimension is 0).
inline int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) {
    if (__builtin_mul_overflow(p, shape[i], &p)) return INT64_MAX;
  }
  return p;
}

// Transpose: the permutation actually applied (empty perm = reverse the axes).
inline std::vector<int> effective_perm(const std::vector<int32_t>& perm, size_t rank) {
  std::vector<int> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    out[i] = perm.empty() ? static_cast<int>(rank - 1 - i) : perm[i];
  }
  return out;
}

}  // namespace quanta::detail

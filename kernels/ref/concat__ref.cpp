#include <cstring>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// For each outer row, the rows of the inputs are appended in input order.
void concat__ref(int64_t outer, int n_inputs, const void* const* x, const int64_t* inner_bytes,
                 void* y) {
  auto* out = static_cast<unsigned char*>(y);
  for (int64_t o = 0; o < outer; ++o) {
    for (int i = 0; i < n_inputs; ++i) {
      const auto* src = static_cast<const unsigned char*>(x[i]) + o * inner_bytes[i];
      if (inner_bytes[i] > 0) std::memcpy(out, src, static_cast<size_t>(inner_bytes[i]));
      out += inner_bytes[i];
    }
  }
}

}  // namespace quanta::kernels

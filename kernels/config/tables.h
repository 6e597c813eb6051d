// The per-tier table builders (kernels/config/<tier>.cpp) and the glue they
// share. Internal to kernels/config: ops use kernel_config() (config.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/config.h"

namespace quanta::kernels::config_detail {

// One builder per tier file. A builder starts from its parent's table and
// overrides slots; kernel_config() calls each once.
KernelConfig ref_config();
KernelConfig avx2_config();
KernelConfig avx512vnni_config();

// The residual of GEMM row r0, channel c0 (null: no fused Add), in *tmp.
inline const QResidual* gemm_residual_at(const Qu8GemmArgs& a, int64_t r0, int64_t c0,
                                         QResidual* tmp) {
  if (!a.has_res) return nullptr;
  *tmp = a.res;
  tmp->data = a.res.data + static_cast<size_t>(r0) * a.res.stride + static_cast<size_t>(c0);
  return tmp;
}

// Byte offset of packed block `c0 / block_channels` (column ranges).
inline const void* packed_block(const void* packed, int64_t c0, int block_channels,
                                size_t block_bytes) {
  return static_cast<const uint8_t*>(packed) +
         static_cast<size_t>(c0 / block_channels) * block_bytes;
}

}  // namespace quanta::kernels::config_detail

// The reference tier: every slot empty, so every op runs its reference kernel
// (ref.h). The root of the tier tables: avx2_config() starts from it.
#include "tables.h"

namespace quanta::kernels::config_detail {

KernelConfig ref_config() { return KernelConfig{}; }

}  // namespace quanta::kernels::config_detail

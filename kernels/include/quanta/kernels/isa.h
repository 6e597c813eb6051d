// TRANSITION (issue 12): the old name of tier.h, kept only because
// runtime/src/ops/ still includes it. Remove it once runtime/src/ops/ has
// moved to one file per op and includes "quanta/kernels/tier.h" (see the
// TRANSITION block at the end of tier.h). Do not include it in new code.
#pragma once

#include "quanta/kernels/tier.h"

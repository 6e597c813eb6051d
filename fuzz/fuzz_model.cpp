// Targets 1 and 2 (docs/fuzzing.md): a .quanta image through
// Model::load_buffer, Session::create and one run().
//
// fuzz_model feeds the bytes as they are: most mutations then fail the
// integrity trailer, so it exercises the header, the FlatBuffers verifier and
// the CRC check. fuzz_model_sealed (QUANTA_FUZZ_RESEAL) first rewrites the
// last 8 bytes as the trailer of the bytes before them ("QSUM" + CRC-32,
// docs/format.md), so every mutation reaches the structural and semantic
// validation and, when it passes, the session and the kernels.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "quanta/model_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#ifdef QUANTA_FUZZ_RESEAL
  std::vector<uint8_t> bytes(data, data + size);
  quanta::ModelWriter::reseal(bytes);
  auto model = quanta::Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
#else
  auto model = quanta::Model::load_buffer(data, size, /*copy=*/true);
#endif
  if (!model) {
    quanta::fuzz::check_error(model.status(), "Model::load_buffer");
    return 0;
  }
  quanta::fuzz::run_model(*model);
  return 0;
}

// `quanta demo-model`: writes the demo classifier in float and int8.
#include <unistd.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.hpp"
#include "demo_model.hpp"

namespace quanta::cli {

int run_demo_model(const DemoModelArgs& a) {
  demo::DemoOptions options;
  options.calibration_samples = a.samples;
  options.progress = isatty(STDERR_FILENO) != 0;
  auto paths = demo::write_demo_models(a.out_dir, options);
  if (!paths) throw Error(paths.status().to_string());
  for (const std::string& p : {paths->fp32, paths->int8}) {
    auto model = Model::load_file(p);
    if (!model) throw Error(fmt::format("{}: the written model does not load: {}", p, model.status().to_string()));
    std::cout << fmt::format("wrote {} ({} bytes)\n", p, (*model)->file_size());
  }
  return kExitOk;
}

}  // namespace quanta::cli

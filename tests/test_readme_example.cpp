// README.md's "Embedding the runtime" example, compiled as it is written
// (CMake copies the ```cpp block into the build tree) and run on the demo's
// converted model: the documented code must build and classify real images.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "quanta/npy.hpp"
#include "support/cli_runner.hpp"

// Defines int classify(const std::vector<float>& image).
#include "readme_example.inc"

namespace {

namespace fs = std::filesystem;

TEST(ReadmeExample, ClassifiesFashionMnistWithTheConvertedModel) {
  const std::string src = QUANTA_SOURCE_DIR;
  const fs::path dir = fs::temp_directory_path() / ("quanta_readme_" + std::to_string(::getpid()));
  fs::create_directories(dir / "build" / "models");
  // The file the example loads, made as the demo makes it.
  const auto conv = quanta::test::run_quanta(
      "convert " + quanta::test::shell_quote(src + "/models/fashion_cnn_bn.onnx") + " -o " +
      quanta::test::shell_quote((dir / "build/models/fashion_cnn_int8.quanta").string()) +
      " --calib " + quanta::test::shell_quote(src + "/models/fashion_calib_x.npy") + " -q");
  ASSERT_TRUE(conv.exited && conv.code == 0) << conv.output;

  auto x = quanta::npy::read_file(src + "/models/fashion_eval_x.npy");
  auto y = quanta::npy::read_file(src + "/models/fashion_eval_y.npy");
  ASSERT_TRUE(x.ok() && y.ok());
  const std::vector<float> images = quanta::npy::to_floats(*x);
  const std::vector<float> labels = quanta::npy::to_floats(*y);
  const size_t per_image = 28 * 28, n = 100;
  ASSERT_GE(images.size(), n * per_image);

  const fs::path cwd = fs::current_path();
  fs::current_path(dir);  // the example names a path relative to the repository root
  int correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::vector<float> image(images.begin() + static_cast<long>(i * per_image),
                                   images.begin() + static_cast<long>((i + 1) * per_image));
    const int label = classify(image);
    ASSERT_GE(label, 0) << "classify() failed on image " << i;
    correct += label == static_cast<int>(labels[i]);
  }
  fs::current_path(cwd);
  fs::remove_all(dir);
  // The int8 model scores about 91% on these images (README).
  EXPECT_GE(correct, 80) << correct << " of " << n << " images classified correctly";
}

}  // namespace

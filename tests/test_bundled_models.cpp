// The models committed under models/ are exactly what `quanta demo-model`
// writes today, and they load and run. (If the generator or the format
// changes on purpose, regenerate them: `quanta demo-model --out models`.)
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "demo_model.hpp"

namespace quanta {
namespace {

// The repository root, compiled in by CMake.
std::string source_dir() { return QUANTA_SOURCE_DIR; }

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(BundledModels, MatchTheGenerator) {
  const demo::DemoOptions opts;
  const std::vector<uint8_t> fp32 = demo::build_fp32(opts).finish();
  auto ranges = demo::calibrate(opts);
  ASSERT_TRUE(ranges.ok()) << ranges.status().to_string();
  auto int8 = demo::build_int8(opts, *ranges);
  ASSERT_TRUE(int8.ok()) << int8.status().to_string();
  EXPECT_EQ(read_all(source_dir() + "/models/demo_cnn_fp32.quanta"), fp32)
      << "models/demo_cnn_fp32.quanta is stale: run `quanta demo-model --out models`";
  EXPECT_EQ(read_all(source_dir() + "/models/demo_cnn_int8.quanta"), int8->finish())
      << "models/demo_cnn_int8.quanta is stale: run `quanta demo-model --out models`";
}

TEST(BundledModels, LoadAndRunFromFile) {
  for (const char* name : {"demo_cnn_fp32.quanta", "demo_cnn_int8.quanta"}) {
    auto model = Model::load_file(source_dir() + "/models/" + name);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto s = Session::create(*model);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    std::vector<float> x(16 * 16 * 3, 0.25f), y(10);
    ASSERT_TRUE((*s)->set_input(0, x).ok());
    ASSERT_TRUE((*s)->run().ok());
    ASSERT_TRUE((*s)->get_output(0, y).ok());
    double sum = 0;
    for (float v : y) sum += v;
    EXPECT_NEAR(sum, 1.0, 0.05) << name;  // softmax probabilities
  }
}

}  // namespace
}  // namespace quanta

// Quanta C++ example: load a .quanta model, list its inputs and outputs, and
// run it on caller-owned buffers bound by name (Session::run(inputs, outputs)).
//
//   classify_cpp MODEL [--threads N] [--tier auto|ref|avx2|avx512vnni]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <quanta/quanta.hpp>

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t d = 0; d < shape.size(); ++d) s += (d ? "," : "") + std::to_string(shape[d]);
  return s + "]";
}

int fail(const char* what, const quanta::Status& status) {
  std::fprintf(stderr, "classify_cpp: %s: %s\n", what, status.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: classify_cpp MODEL [--threads N] [--tier T]\n");
    return 2;
  }
  quanta::SessionOptions options;
  for (int a = 2; a + 1 < argc; a += 2) {
    const std::string opt = argv[a], value = argv[a + 1];
    if (opt == "--threads") {
      options.threads = std::atoi(value.c_str());
    } else if (opt == "--tier" && quanta::parse_kernel_tier(value, &options.tier)) {
    } else {
      std::fprintf(stderr, "classify_cpp: bad option %s %s\n", opt.c_str(), value.c_str());
      return 2;
    }
  }

  auto model = quanta::Model::load_file(argv[1]);
  if (!model) return fail("loading the model", model.status());
  for (size_t i = 0; i < (*model)->num_inputs(); ++i) {
    const quanta::TensorInfo& t = (*model)->input(i);
    std::printf("input  '%s' %s %s\n", t.name.c_str(), shape_text(t.shape).c_str(),
                quanta::dtype_name(t.dtype));
  }
  for (size_t i = 0; i < (*model)->num_outputs(); ++i) {
    const quanta::TensorInfo& t = (*model)->output(i);
    std::printf("output '%s' %s %s\n", t.name.c_str(), shape_text(t.shape).c_str(),
                quanta::dtype_name(t.dtype));
  }
  auto session = quanta::Session::create(*model, options);
  if (!session) return fail("creating the session", session.status());

  // Caller-owned float buffers, one per input and one for the first output.
  std::vector<std::vector<float>> in_data;
  std::vector<quanta::InputBuffer> inputs;
  for (size_t i = 0; i < (*model)->num_inputs(); ++i) {
    const quanta::TensorInfo& t = (*model)->input(i);
    std::vector<float> v(static_cast<size_t>(t.num_elements));
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>((k * 37) % 101) / 100.0f;
    in_data.push_back(std::move(v));
  }
  for (size_t i = 0; i < in_data.size(); ++i) {
    inputs.push_back({(*model)->input(i).name, in_data[i].data(), in_data[i].size() * sizeof(float)});
  }
  const quanta::TensorInfo& out = (*model)->output(0);
  std::vector<float> scores(static_cast<size_t>(out.num_elements));
  const quanta::OutputBuffer outputs[] = {{out.name, scores.data(), scores.size() * sizeof(float)}};
  if (quanta::Status s = (*session)->run(inputs, outputs); !s.ok()) return fail("running", s);

  const size_t best = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
  std::printf("tier %s, %d thread(s): '%s' argmax %zu (score %.4f)\n",
              quanta::kernel_tier_name((*session)->tier()), (*session)->threads(), out.name.c_str(),
              best, scores[best]);
  return 0;
}

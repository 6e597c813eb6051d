// Writes the seed corpora of the fuzz targets (docs/fuzzing.md) from the
// project's own files, so that no binary seed is committed:
//
//   quanta_fuzz_seeds --source SRC --out DIR [--onnx-testdata DATA]
//
//   DIR/onnx   every ONNX model of SRC/models and SRC/tests/data/zoo up to
//              kMaxOnnxBytes, and the single-operator models of ONNX's own
//              test data (DATA/node/*/model.onnx, Debian's libonnx-testdata)
//              whose operators the converter knows, as they are and with
//              every input but the first frozen into an initializer (its
//              test_data_set_0 value), so that weights are constant;
//   DIR/model  SRC/models/*.quanta, and every ONNX seed converted to float
//              and int8 .quanta (calibrated on a few pattern samples), up to
//              kMaxModelBytes each;
//   DIR/npy    small arrays of every element type and rank, format versions
//              1.0, 2.0 and 3.0, and a few the reader must refuse;
//   DIR/image  tiny PNG, JPEG, BMP and PNM images, each behind the 4-byte
//              preprocessing header of fuzz_calib_image.cpp.
//
// Deterministic: the same sources give the same files (named by content).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>
#include <stb_image_write.h>
#include <zlib.h>

#include "onnx/op_table.hpp"
#include "pattern_samples.hpp"
#include "quanta/converter.hpp"
#include "quanta/npy.hpp"

namespace fs = std::filesystem;
using namespace quanta;

namespace {

constexpr size_t kMaxOnnxBytes = 64 << 10;
constexpr size_t kMaxNodeTestBytes = 16 << 10;
constexpr size_t kMaxModelBytes = 64 << 10;

using Bytes = std::vector<uint8_t>;

bool read_file(const fs::path& p, Bytes* out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// Writes `bytes` as DIR/<prefix>-<crc32>.<ext> (same content, same name).
class Corpus {
 public:
  Corpus(fs::path dir, std::string ext) : dir_(std::move(dir)), ext_(std::move(ext)) {
    fs::create_directories(dir_);
  }
  void add(const std::string& prefix, const Bytes& bytes) {
    const auto crc = static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), bytes.data(), bytes.size()));
    const fs::path p = dir_ / fmt::format("{}-{:08x}.{}", prefix, crc, ext_);
    if (!names_.insert(p.filename().string()).second) return;
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + p.string());
  }
  size_t size() const { return names_.size(); }

 private:
  fs::path dir_;
  std::string ext_;
  std::set<std::string> names_;
};

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// ------------------------------------------------------------------ ONNX

// True if the importer lowers or folds every op of `g` (its op table,
// converter/src/onnx/op_table.cpp); a node test using any other op is not a
// useful seed.
bool known_ops(const onnx::GraphProto& g) {
  for (const auto& n : g.node()) {
    if (convert::importer::find_op(n.op_type()) == nullptr) return false;
    for (const auto& a : n.attribute()) {
      if (a.has_g() && !known_ops(a.g())) return false;
    }
  }
  return true;
}

// Every graph input but the first that has test data becomes an initializer
// holding that data. Returns false when there is nothing to freeze.
bool freeze_inputs(const fs::path& case_dir, onnx::ModelProto* m) {
  std::set<std::string> inits;
  for (const auto& t : m->graph().initializer()) inits.insert(t.name());
  std::vector<std::string> data_inputs;
  for (const auto& in : m->graph().input()) {
    if (!inits.count(in.name())) data_inputs.push_back(in.name());
  }
  bool frozen = false;
  for (size_t i = 1; i < data_inputs.size(); ++i) {
    Bytes pb;
    if (!read_file(case_dir / "test_data_set_0" / fmt::format("input_{}.pb", i), &pb)) continue;
    onnx::TensorProto t;
    if (!t.ParseFromArray(pb.data(), static_cast<int>(pb.size()))) continue;
    t.set_name(data_inputs[i]);
    *m->mutable_graph()->add_initializer() = t;
    auto* gin = m->mutable_graph()->mutable_input();
    for (int k = 0; k < gin->size(); ++k) {
      if (gin->Get(k).name() == data_inputs[i]) {
        gin->DeleteSubrange(k, 1);
        break;
      }
    }
    frozen = true;
  }
  return frozen;
}

void node_tests(const fs::path& data_dir, std::vector<std::pair<std::string, Bytes>>* onnx) {
  const fs::path node_dir = data_dir / "node";
  std::error_code ec;
  if (!fs::is_directory(node_dir, ec)) {
    std::cerr << "quanta_fuzz_seeds: no " << node_dir.string()
              << " (install libonnx-testdata for more ONNX seeds)\n";
    return;
  }
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(node_dir)) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  for (const fs::path& dir : cases) {
    Bytes bytes;
    onnx::ModelProto m;
    if (!read_file(dir / "model.onnx", &bytes) || bytes.size() > kMaxNodeTestBytes ||
        !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        !known_ops(m.graph())) {
      continue;
    }
    const std::string name = dir.filename().string();
    onnx->emplace_back(name, bytes);
    if (freeze_inputs(dir, &m)) {
      Bytes frozen = to_bytes(m.SerializeAsString());
      if (frozen.size() <= kMaxNodeTestBytes) onnx->emplace_back(name + "_frozen", frozen);
    }
  }
}

// ------------------------------------------------------------------ .quanta

// The float and int8 conversions of one ONNX seed, when they succeed.
void convert_seed(const std::string& name, const Bytes& onnx_bytes, Corpus* models) {
  auto g = convert::import_onnx_bytes(onnx_bytes.data(), onnx_bytes.size());
  if (!g) return;
  auto fp32 = convert::build_fp32(**g);
  if (!fp32 || fp32->size() > kMaxModelBytes) return;
  models->add(name + "_fp32", *fp32);
  std::vector<size_t> counts = fuzz::input_counts(convert::graph_inputs(**g), 1 << 20);
  if (counts.empty()) return;
  fuzz::PatternSamples samples(std::move(counts), 4);
  convert::CalibrationOptions copts;
  copts.method = convert::CalibrationMethod::kMinMax;
  auto calibration = convert::calibrate(**g, samples, copts);
  if (!calibration) return;
  auto int8 = convert::build_int8(**g, *calibration, {}, nullptr);
  if (int8 && int8->size() <= kMaxModelBytes) models->add(name + "_int8", *int8);
}

// ------------------------------------------------------------------ .npy

// A header of format version `major` (2 or 3: 4-byte length) for `dict`.
Bytes npy_v2(int major, const std::string& dict, const Bytes& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const auto len = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void npy_seeds(Corpus* npys) {
  const npy::ElementType types[] = {npy::ElementType::kF32, npy::ElementType::kF64,
                                    npy::ElementType::kU8,  npy::ElementType::kI8,
                                    npy::ElementType::kI32, npy::ElementType::kI64};
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {3}, {2, 3}, {4, 1, 2, 2}, {2, 2, 2, 1, 1}, {0}, {0, 4}, {3, 0}, {2, 3, 0}, {0, 2, 3},
      {65536, 65536, 0}};
  for (npy::ElementType t : types) {
    for (const auto& shape : shapes) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      Bytes data(static_cast<size_t>(n) * npy::element_size(t));
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 29 + 3);
      auto bytes = npy::serialize(npy::from_bytes(t, shape, data.data(), data.size()));
      if (bytes) npys->add(npy::element_name(t), *bytes);
    }
  }
  const Bytes four_floats(16, 0x3f);
  npys->add("v2", npy_v2(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", four_floats));
  npys->add("v3", npy_v2(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats));
  // Refused by the reader: Fortran order, big-endian, bool, a structured dtype.
  npys->add("refused", npy_v2(2, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats));
  npys->add("refused", npy_v2(2, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four_floats));
  npys->add("refused", npy_v2(2, "{'descr': '|b1', 'fortran_order': False, 'shape': (16,), }", four_floats));
  npys->add("refused", npy_v2(2, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", four_floats));
}

// ------------------------------------------------------------------ images

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<Bytes*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

Bytes pixels(int w, int h, int comp) {
  Bytes px(static_cast<size_t>(w * h * comp));
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 53 + 17);
  return px;
}

void image_seeds(Corpus* images) {
  struct Shape { int w, h, comp; };
  const Shape shapes[] = {{1, 1, 1}, {3, 2, 1}, {8, 8, 3}, {5, 7, 4}, {16, 4, 2}, {9, 9, 3}};
  // Headers (fuzz_calib_image.cpp): flags, height - 1, width - 1, resize_shorter.
  const uint8_t headers[][4] = {{1, 7, 7, 0}, {0, 3, 5, 1}, {3, 1, 1, 3}, {13, 15, 15, 2},
                                {5, 0, 0, 4}, {9, 31, 2, 0}};
  size_t k = 0;
  auto add = [&](const char* kind, const Bytes& file) {
    const uint8_t* h = headers[k++ % std::size(headers)];
    Bytes seed(h, h + 4);
    seed.insert(seed.end(), file.begin(), file.end());
    images->add(kind, seed);
  };
  for (const Shape& s : shapes) {
    const Bytes px = pixels(s.w, s.h, s.comp);
    Bytes png, jpg, bmp;
    stbi_write_png_to_func(append, &png, s.w, s.h, s.comp, px.data(), s.w * s.comp);
    stbi_write_jpg_to_func(append, &jpg, s.w, s.h, s.comp, px.data(), 90);
    stbi_write_bmp_to_func(append, &bmp, s.w, s.h, s.comp, px.data());
    add("png", png);
    add("jpg", jpg);
    add("bmp", bmp);
  }
  // Netpbm: a format the converter does not decode (only PNG, JPEG and BMP,
  // whatever the extension: converter/src/image_decode.cpp), so its refusal path.
  Bytes ppm = to_bytes("P6\n3 2\n255\n");
  const Bytes px = pixels(3, 2, 3);
  ppm.insert(ppm.end(), px.begin(), px.end());
  add("ppm", ppm);
}

int usage() {
  std::cerr << "usage: quanta_fuzz_seeds --source SRC --out DIR [--onnx-testdata DATA]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path source, out, testdata;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--source") source = argv[i + 1];
    else if (flag == "--out") out = argv[i + 1];
    else if (flag == "--onnx-testdata") testdata = argv[i + 1];
    else return usage();
  }
  if (source.empty() || out.empty() || argc % 2 == 0) return usage();
  try {
    std::vector<std::pair<std::string, Bytes>> onnx;
    for (const char* sub : {"models", "tests/data/zoo"}) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(source / sub)) {
        if (e.path().extension() == ".onnx") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& p : files) {
        Bytes bytes;
        if (read_file(p, &bytes) && bytes.size() <= kMaxOnnxBytes) {
          onnx.emplace_back(p.stem().string(), std::move(bytes));
        }
      }
    }
    if (!testdata.empty()) node_tests(testdata, &onnx);

    Corpus onnx_corpus(out / "onnx", "onnx");
    Corpus models(out / "model", "quanta");
    for (const auto& [name, bytes] : onnx) {
      onnx_corpus.add(name, bytes);
      convert_seed(name, bytes, &models);
    }
    for (const auto& e : fs::directory_iterator(source / "models")) {
      Bytes bytes;
      if (e.path().extension() == ".quanta" && read_file(e.path(), &bytes)) {
        models.add(e.path().stem().string(), bytes);
      }
    }
    Corpus npys(out / "npy", "npy");
    npy_seeds(&npys);
    Corpus images(out / "image", "img");
    image_seeds(&images);
    std::cout << fmt::format("quanta_fuzz_seeds: {} onnx, {} model, {} npy, {} image seeds in {}\n",
                             onnx_corpus.size(), models.size(), npys.size(), images.size(),
                             out.string());
  } catch (const std::exception& e) {
    std::cerr << "quanta_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

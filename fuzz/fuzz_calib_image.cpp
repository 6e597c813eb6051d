// Target 6 (docs/fuzzing.md): the calibration image reader
// (convert::open_image_dir, converter/src/calib_data.cpp): PNG, JPEG and BMP
// decoding (converter/src/image_decode.cpp),
// resize, center crop, normalization and layout.
//
// Input: a 4-byte preprocessing header, then the image file's bytes (PNG,
// JPEG, BMP, ...), written as the only file of a scratch directory.
//   byte 0: bit 0 three channels (else one), bit 1 NHWC (else NCHW),
//           bit 2 BGR (else RGB), bit 3 no crop (plain resize)
//   byte 1: model input height - 1 (1..64 after & 63)
//   byte 2: model input width - 1 (1..64 after & 63)
//   byte 3: resize_shorter, one of kShorter[byte 3 % 6]
// The seeds (fuzz/make_seeds.cpp) carry the same header.
//
// Limit: an image whose header declares more than kMaxPixels pixels, or
// that resize_shorter would enlarge beyond that, is skipped: decoding or
// resizing it is legitimate work below the converter's own bound (2^26
// pixels, docs/converter.md), only too slow to do thousands of times a
// second. Zero-sized images are not skipped.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "image_decode.hpp"
#include "quanta/converter.hpp"

namespace {

using namespace quanta;
using namespace quanta::convert;

constexpr size_t kHeader = 4;
constexpr int kShorter[6] = {0, 1, 7, 32, 64, 256};
constexpr int64_t kMaxPixels = int64_t{1} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader || size - kHeader > static_cast<size_t>(INT32_MAX)) return 0;
  const std::string file = fuzz::write_scratch("image.png", data + kHeader, size - kHeader);
  int iw = 0, ih = 0;
  std::string why;
  // The converter's own header reader (the one open_image_dir uses).
  if (quanta::convert::detail::read_image_header(file, &iw, &ih, &why)) {
    if (int64_t{iw} * ih > kMaxPixels) return 0;
    const int64_t s = kShorter[data[3] % 6];
    if (s > 0 && iw > 0 && ih > 0) {  // the size resize_shorter gives (calib_data.cpp)
      const int64_t nw = iw <= ih ? s : int64_t{iw} * s / ih;
      const int64_t nh = iw <= ih ? int64_t{ih} * s / iw : s;
      if (nw * nh > kMaxPixels) return 0;
    }
  }
  const int channels = (data[0] & 1) != 0 ? 3 : 1;
  const bool nhwc = (data[0] & 2) != 0;
  const int64_t h = (data[1] & 63) + 1;
  const int64_t w = (data[2] & 63) + 1;
  ImagePreprocess pre;
  pre.layout = nhwc ? ImageLayout::kNHWC : ImageLayout::kNCHW;
  pre.order = (data[0] & 4) != 0 ? ChannelOrder::kBGR : ChannelOrder::kRGB;
  pre.crop = (data[0] & 8) == 0;
  pre.resize_shorter = kShorter[data[3] % 6];
  pre.mean = {0.5f};
  pre.std = {0.25f};

  const std::vector<int64_t> shape = nhwc ? std::vector<int64_t>{1, h, w, channels}
                                          : std::vector<int64_t>{1, channels, h, w};
  auto source = open_image_dir(fuzz::scratch_dir(), {InputSpec{"image", shape}}, pre);
  if (!source) {
    fuzz::check_error(source.status(), "open_image_dir");
    return 0;
  }
  std::vector<std::vector<float>> sample;
  auto more = (*source)->next(sample);
  if (!more) {
    fuzz::check_error(more.status(), "SampleSource::next");
    return 0;
  }
  if (!*more) fuzz::fail("open_image_dir listed an image that next() does not return", "");
  const size_t expect = static_cast<size_t>(channels * h * w);
  if (sample.size() != 1 || sample[0].size() != expect) {
    fuzz::fail("an image sample does not have the model input's element count",
               std::to_string(sample.empty() ? 0 : sample[0].size()) + " vs " +
                   std::to_string(expect));
  }
  return 0;
}

// PNG, JPEG and BMP decoding for calibration images, with memory bounded by
// the image's declared size (image_decode.cpp; docs/converter.md, "Images").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quanta::convert::detail {

// The size an image file declares in its header. False with `*why` set when
// the file is not a PNG, JPEG or BMP image or cannot be read.
bool read_image_header(const std::string& path, int* width, int* height, std::string* why);

// Decodes the whole image to 8-bit pixels with `channels` (1 or 3) per pixel,
// row by row. Every allocation the decoder makes is refused beyond a budget
// derived from the header's size, so a small file whose compressed data
// inflates far past its declared picture (a decompression bomb) fails with
// "out of memory" instead of taking gigabytes. False with `*why` on failure.
bool decode_image(const std::string& path, int channels, int* width, int* height,
                  std::vector<uint8_t>* pixels, std::string* why);

}  // namespace quanta::convert::detail

// Calibration image decoding: PNG (libpng), JPEG (libjpeg-turbo) and BMP
// (stb_image), recognized by their first bytes (image_decode.cpp;
// docs/converter.md, "Images").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quanta::convert::detail {

// The size an image file declares in its header. False with `*why` set when
// the file is not a readable PNG, JPEG or BMP image.
bool read_image_header(const std::string& path, int* width, int* height, std::string* why);

// Decodes the whole picture to 8-bit pixels with `channels` (1: luma, or 3:
// RGB) per pixel, row by row. The header's size is set in *width / *height
// first; when it is outside [1, max_pixels] pixels nothing is decoded and
// `pixels` stays empty (the caller reports the size). False with `*why` when
// the file cannot be decoded.
bool decode_image(const std::string& path, int channels, int64_t max_pixels, int* width,
                  int* height, std::vector<uint8_t>* pixels, std::string* why);

}  // namespace quanta::convert::detail

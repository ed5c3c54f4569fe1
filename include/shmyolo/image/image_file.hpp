// Reading encoded images safely: the header is checked (format, size, a
// complete file) before any pixel is decoded, so a hostile or broken file
// costs nothing and yields one clear line.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include <opencv2/core.hpp>
#include <shmyolo/error.hpp>

namespace shmyolo::image {

enum class Format { jpeg, png, bmp };

struct Header {
  Format format = Format::jpeg;
  int width = 0;
  int height = 0;
};

struct Limits {
  std::uint64_t max_pixels = 100'000'000;  // 100 MP: more than any camera frame, far below a decompression bomb
  std::uint64_t max_bytes = 256ULL << 20;
};

enum class ImageErrc {
  unreadable,    // no file, or no permission
  too_large,     // more bytes than Limits::max_bytes
  bad_size,      // the header claims no pixels, or more than Limits::max_pixels
  not_an_image,  // not a JPEG, PNG or BMP
  truncated,     // the file ends early
  corrupt,       // the decoder refused it
};

[[nodiscard]] std::string_view to_string(ImageErrc code);
[[nodiscard]] std::string_view to_string(Format format);

// The message names the image and what is wrong with it.
using ImageError = Error<ImageErrc>;

template <class T>
using ImageResult = Result<T, ImageErrc>;

// Format and size from the header; refuses truncated files and sizes outside
// 1..limits.max_pixels. `name` is what messages call the image.
[[nodiscard]] ImageResult<Header> probe(std::span<const std::uint8_t> bytes, std::string_view name,
                                        const Limits& limits = {});
// probe, then decode to 8-bit BGR.
[[nodiscard]] ImageResult<cv::Mat> decode(std::span<const std::uint8_t> bytes, std::string_view name,
                                          const Limits& limits = {});
[[nodiscard]] ImageResult<cv::Mat> load(const std::filesystem::path& path, const Limits& limits = {});

}  // namespace shmyolo::image

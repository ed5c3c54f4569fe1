#include <shmyolo/image/image_file.hpp>

#include <algorithm>
#include <fstream>
#include <vector>

#include <opencv2/imgcodecs.hpp>

namespace shmyolo::image {

std::string_view to_string(Format format) {
  switch (format) {
    case Format::jpeg: return "JPEG";
    case Format::png: return "PNG";
    case Format::bmp: return "BMP";
  }
  return "image";
}

std::string_view to_string(ImageErrc code) {
  switch (code) {
    case ImageErrc::unreadable: return "image unreadable";
    case ImageErrc::too_large: return "image file too large";
    case ImageErrc::bad_size: return "image size refused";
    case ImageErrc::not_an_image: return "not an image";
    case ImageErrc::truncated: return "image truncated";
    case ImageErrc::corrupt: return "image corrupt";
  }
  return "image error";
}

namespace {

std::uint32_t be16(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0] << 8 | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
std::int32_t le32(const std::uint8_t* p) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                   static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
}

std::string named(std::string_view name) {
  return "image " + std::string(name);
}

// Walks the JPEG segments to the first start-of-frame marker.
ImageResult<Header> probe_jpeg(std::span<const std::uint8_t> b, std::string_view name) {
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (b[i] != 0xFF)
      return make_error(ImageErrc::corrupt, named(name) + " is a corrupt JPEG (bad marker); re-encode it");
    const std::uint8_t marker = b[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    const std::uint32_t length = be16(&b[i + 2]);
    if (sof) {
      if (i + 9 > b.size()) break;
      return Header{Format::jpeg, static_cast<int>(be16(&b[i + 7])), static_cast<int>(be16(&b[i + 5]))};
    }
    if (length < 2)
      return make_error(ImageErrc::corrupt, named(name) + " is a corrupt JPEG (bad segment length); re-encode it");
    i += 2 + length;
  }
  return make_error(ImageErrc::truncated, named(name) + " is a truncated JPEG: its header ends before the image size");
}

bool jpeg_complete(std::span<const std::uint8_t> b) {
  // The end-of-image marker, allowing trailing padding some encoders add.
  const std::size_t from = b.size() > 4096 ? b.size() - 4096 : 0;
  for (std::size_t i = b.size() - 1; i > from; --i) {
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
  }
  return false;
}

}  // namespace

ImageResult<Header> probe(std::span<const std::uint8_t> b, std::string_view name, const Limits& limits) {
  if (b.empty()) return make_error(ImageErrc::truncated, named(name) + " is empty");
  if (b.size() > limits.max_bytes) {
    return make_error(ImageErrc::too_large, named(name) + " is " + std::to_string(b.size()) +
                                                " bytes, above the limit of " + std::to_string(limits.max_bytes));
  }
  ImageResult<Header> h = make_error(ImageErrc::not_an_image, named(name) + " is not a JPEG, PNG or BMP image");
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    h = probe_jpeg(b, name);
    if (h && !jpeg_complete(b))
      return make_error(ImageErrc::truncated, named(name) + " is a truncated JPEG (no end-of-image marker)");
  } else if (b.size() >= 8 && be32(b.data()) == 0x89504E47 && be32(b.data() + 4) == 0x0D0A1A0A) {
    if (b.size() < 24 || be32(b.data() + 12) != 0x49484452)
      return make_error(ImageErrc::truncated, named(name) + " is a truncated PNG");
    h = Header{Format::png, static_cast<int>(std::min<std::uint32_t>(be32(b.data() + 16), 1U << 30)),
               static_cast<int>(std::min<std::uint32_t>(be32(b.data() + 20), 1U << 30))};
    const std::uint8_t iend[] = {'I', 'E', 'N', 'D'};
    if (b.size() < 12 || !std::equal(iend, iend + 4, b.end() - 8)) {
      return make_error(ImageErrc::truncated, named(name) + " is a truncated PNG (no IEND chunk)");
    }
  } else if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    const std::int32_t w = le32(b.data() + 18);
    const std::int32_t hh = le32(b.data() + 22);
    h = Header{Format::bmp, w, hh == INT32_MIN ? 0 : std::abs(hh)};
  }
  if (!h) return h;
  const auto pixels =
      static_cast<std::uint64_t>(std::max(h->width, 0)) * static_cast<std::uint64_t>(std::max(h->height, 0));
  if (h->width <= 0 || h->height <= 0) {
    return make_error(ImageErrc::bad_size, named(name) + ": its " + std::string(to_string(h->format)) +
                                               " header claims " + std::to_string(h->width) + "x" +
                                               std::to_string(h->height) + " pixels");
  }
  if (pixels > limits.max_pixels) {
    return make_error(ImageErrc::bad_size, named(name) + ": its " + std::string(to_string(h->format)) +
                                               " header claims " + std::to_string(h->width) + "x" +
                                               std::to_string(h->height) + " pixels, above the limit of " +
                                               std::to_string(limits.max_pixels) + "; refused before decoding");
  }
  return h;
}

ImageResult<cv::Mat> decode(std::span<const std::uint8_t> bytes, std::string_view name, const Limits& limits) {
  auto header = probe(bytes, name, limits);
  if (!header) return std::unexpected(header.error());
  cv::Mat img;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::uint8_t*>(bytes.data()));
    img = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    img.release();
  }
  if (img.empty()) return make_error(ImageErrc::corrupt, named(name) + " could not be decoded: the file is corrupt");
  if (img.cols != header->width || img.rows != header->height) {
    return make_error(ImageErrc::corrupt,
                      named(name) + " decoded to another size than its header states: the file is corrupt");
  }
  return img;
}

ImageResult<cv::Mat> load(const std::filesystem::path& path, const Limits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    return make_error(ImageErrc::unreadable,
                      "cannot read image " + path.string() +
                          (std::filesystem::exists(path, ec) ? ": permission denied" : ": no such file"));
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode(bytes, path.string(), limits);
}

}  // namespace shmyolo::image

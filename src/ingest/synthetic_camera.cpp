#include <shmyolo/ingest/synthetic_camera.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <opencv2/imgproc.hpp>

namespace shmyolo::ingest {
namespace {

// splitmix64: a tiny, well-mixed generator; the same seed gives the same scene.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(next() >> 40) / static_cast<float>(1ULL << 24);
  }
  int between(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
};

// Bounces a coordinate between 0 and `span` (a triangle wave): closed form,
// so any frame can be rendered without the ones before it.
float bounce(float p, float span) {
  if (span <= 0) return 0;
  float q = std::fmod(p, 2 * span);
  if (q < 0) q += 2 * span;
  return q <= span ? q : 2 * span - q;
}

std::uint8_t clamp_u8(int v) {
  return static_cast<std::uint8_t>(std::clamp(v, 0, 255));
}

// Proportions of the standing figure, shared by drawing and hit-testing.
constexpr float kHead = 0.18F;  // head diameter / height
constexpr float kHip = 0.62F;   // where the legs start / height

bool inside(float px, float py, float x1, float y1, float x2, float y2) {
  return px >= x1 && px <= x2 && py >= y1 && py <= y2;
}

bool in_circle(float px, float py, float cx, float cy, float r) {
  return (px - cx) * (px - cx) + (py - cy) * (py - cy) <= r * r;
}

// Whether point (px, py) is on an object of `class_id` whose box is
// (x, y, w, h): the shapes draw_object() fills.
bool covers(int class_id, float x, float y, float w, float h, float px, float py) {
  switch (class_id) {
    case 0: return in_circle(px, py, x + w / 2, y + h / 2, h / 2);
    case 1: return inside(px, py, x, y, x + w, y + h);
    case 2: {  // apex at the top centre, base at the bottom
      if (py < y || py > y + h) return false;
      const float half = (py - y) / h * w / 2;
      return std::abs(px - (x + w / 2)) <= half;
    }
    default: {
      const float head = h * kHead;
      return in_circle(px, py, x + w / 2, y + head / 2, head / 2) ||
             inside(px, py, x + w * 0.15F, y + head, x + w * 0.85F, y + h * kHip) ||
             inside(px, py, x + w * 0.2F, y + h * kHip, x + w * 0.45F, y + h) ||
             inside(px, py, x + w * 0.55F, y + h * kHip, x + w * 0.8F, y + h);
    }
  }
}

}  // namespace

const std::vector<std::string>& SyntheticCamera::class_names() {
  static const std::vector<std::string> names{"circle", "square", "triangle", "person"};
  return names;
}

SyntheticCamera::SyntheticCamera(const SyntheticCameraOptions& options) : options_(options) {
  Random rng{options.seed * 0x2545F4914F6CDD1DULL + 1};
  for (int c = 0; c < 3; ++c) {
    background_.base[c] = static_cast<std::uint8_t>(rng.between(20, 200));
    background_.tint[c] = static_cast<std::uint8_t>(rng.between(20, 230));
  }
  background_.pattern = rng.between(0, 3);
  background_.noise = rng.between(4, 18);
  const int count = rng.between(options.min_objects, std::max(options.min_objects, options.max_objects));
  const float short_side = static_cast<float>(std::min(options.width, options.height));
  for (int i = 0; i < count; ++i) {
    Mover m{};
    m.class_id = rng.between(0, 3);
    m.size = rng.uniform(0.12F, 0.35F) * short_side;
    m.aspect = m.class_id == 3 ? rng.uniform(0.35F, 0.5F)
                               : (m.class_id == 0 || m.class_id == 1 ? 1.0F : rng.uniform(0.8F, 1.3F));
    m.x0 = rng.uniform(0, static_cast<float>(options.width));
    m.y0 = rng.uniform(0, static_cast<float>(options.height));
    const float speed = rng.uniform(0.002F, 0.012F) * short_side;
    const float angle = rng.uniform(0, 6.2831853F);
    m.vx = speed * std::cos(angle);
    m.vy = speed * std::sin(angle);
    for (auto& channel_value : m.color) channel_value = static_cast<std::uint8_t>(rng.between(0, 255));
    // One channel far from the background's, so every object stands out.
    const int channel = rng.between(0, 2);
    m.color[channel] =
        static_cast<std::uint8_t>(background_.base[channel] > 127 ? rng.between(0, 40) : rng.between(215, 255));
    movers_.push_back(m);
  }
}

void SyntheticCamera::draw_background(std::uint64_t index, std::uint8_t* bgr, std::size_t stride) const {
  const int w = options_.width;
  const int h = options_.height;
  Random noise{options_.seed ^ (index * 0xD1B54A32D192ED03ULL)};
  const Background& b = background_;
  // The gradient's colour at blend t, truncated as it always was: the
  // bundled model learnt these exact pixels (a test pins them).
  const auto shade = [&b](float t) {
    std::array<int, 3> v{};
    for (int c = 0; c < 3; ++c) {
      v[c] = static_cast<int>(static_cast<float>(b.base[c]) * (1 - t) + static_cast<float>(b.tint[c]) * t);
    }
    return v;
  };
  // Per-pixel work is a table lookup: the shade depends on x alone, on y
  // alone, or takes one of two values; the noise byte maps to an offset.
  std::array<int, 256> offset{};
  for (int v = 0; v < 256; ++v) offset[static_cast<std::size_t>(v)] = v % (2 * b.noise + 1) - b.noise;
  std::vector<std::array<int, 3>> by_x;
  if (b.pattern == 1) {
    by_x.reserve(static_cast<std::size_t>(w));
    for (int x = 0; x < w; ++x) by_x.push_back(shade(static_cast<float>(x) / static_cast<float>(w)));
  }
  const float light = b.pattern == 2 ? 0.2F : 0.15F;
  const float dark = b.pattern == 2 ? 0.7F : 0.6F;
  const std::array<std::array<int, 3>, 2> tiles{shade(light), shade(dark)};
  for (int y = 0; y < h; ++y) {
    std::uint8_t* row = bgr + static_cast<std::size_t>(y) * stride;
    const std::array<int, 3> row_shade = shade(static_cast<float>(y) / static_cast<float>(h));
    std::uint64_t bits = 0;
    for (int x = 0; x < w; ++x) {
      const std::array<int, 3>* v = &row_shade;
      switch (b.pattern) {
        case 0: break;
        case 1: v = &by_x[static_cast<std::size_t>(x)]; break;
        case 2: v = &tiles[((x + y) / 24) % 2 == 0 ? 0 : 1]; break;
        default: v = &tiles[((x / 40) + (y / 40)) % 2 == 0 ? 0 : 1]; break;
      }
      if ((x & 7) == 0) bits = noise.next();
      const int n = offset[(bits >> ((x & 7) * 8)) & 0xFF];
      for (int c = 0; c < 3; ++c) row[x * 3 + c] = clamp_u8((*v)[static_cast<std::size_t>(c)] + n);
    }
  }
}

void SyntheticCamera::draw_object(const Placed& p, std::uint8_t* bgr, std::size_t stride) const {
  const Mover& m = *p.mover;
  const float x = p.x;
  const float y = p.y;
  cv::Mat img(options_.height, options_.width, CV_8UC3, bgr, stride);
  const cv::Scalar color(m.color[0], m.color[1], m.color[2]);
  const float bw = m.size * m.aspect;
  const float bh = m.size;
  const auto pt = [](float px, float py) {
    return cv::Point(static_cast<int>(std::lround(px)), static_cast<int>(std::lround(py)));
  };
  switch (m.class_id) {
    case 0:
      cv::circle(img, pt(x + bw / 2, y + bh / 2), static_cast<int>(std::lround(bh / 2)), color, cv::FILLED, cv::LINE_8);
      break;
    case 1: cv::rectangle(img, pt(x, y), pt(x + bw, y + bh), color, cv::FILLED, cv::LINE_8); break;
    case 2: {
      const std::array<cv::Point, 3> tri{pt(x + bw / 2, y), pt(x, y + bh), pt(x + bw, y + bh)};
      cv::fillConvexPoly(img, tri.data(), 3, color, cv::LINE_8);
      break;
    }
    default: {  // a standing figure: head, body, legs (the same parts as covers())
      const float head = bh * kHead;
      cv::circle(img, pt(x + bw / 2, y + head / 2), static_cast<int>(std::lround(head / 2)), color, cv::FILLED,
                 cv::LINE_8);
      cv::rectangle(img, pt(x + bw * 0.15F, y + head), pt(x + bw * 0.85F, y + bh * kHip), color, cv::FILLED,
                    cv::LINE_8);
      cv::rectangle(img, pt(x + bw * 0.2F, y + bh * kHip), pt(x + bw * 0.45F, y + bh), color, cv::FILLED, cv::LINE_8);
      cv::rectangle(img, pt(x + bw * 0.55F, y + bh * kHip), pt(x + bw * 0.8F, y + bh), color, cv::FILLED, cv::LINE_8);
      break;
    }
  }
}

std::vector<SyntheticCamera::Placed> SyntheticCamera::place(std::uint64_t index) const {
  std::vector<Placed> placed;
  placed.reserve(movers_.size());
  const auto t = static_cast<float>(index);
  for (const Mover& m : movers_) {
    const float bw = m.size * m.aspect;
    placed.push_back({&m, bounce(m.x0 + m.vx * t, static_cast<float>(options_.width) - bw),
                      bounce(m.y0 + m.vy * t, static_cast<float>(options_.height) - m.size)});
  }
  return placed;
}

float SyntheticCamera::visibility(const std::vector<Placed>& placed, std::size_t i) {
  constexpr int kSamples = 24;  // 24 x 24 points: visibility to within about 0.5 %
  const Placed& p = placed[i];
  const float w = p.mover->size * p.mover->aspect;
  const float h = p.mover->size;
  int own = 0;
  int seen = 0;
  for (int sy = 0; sy < kSamples; ++sy) {
    for (int sx = 0; sx < kSamples; ++sx) {
      const float px = p.x + (static_cast<float>(sx) + 0.5F) * w / kSamples;
      const float py = p.y + (static_cast<float>(sy) + 0.5F) * h / kSamples;
      if (!covers(p.mover->class_id, p.x, p.y, w, h, px, py)) continue;
      ++own;
      bool hidden = false;
      for (std::size_t j = i + 1; j < placed.size() && !hidden; ++j) {
        const Placed& q = placed[j];
        hidden = covers(q.mover->class_id, q.x, q.y, q.mover->size * q.mover->aspect, q.mover->size, px, py);
      }
      if (!hidden) ++seen;
    }
  }
  return own == 0 ? 0.0F : static_cast<float>(seen) / static_cast<float>(own);
}

void SyntheticCamera::truth(std::uint64_t index, std::vector<GroundTruth>& truth) const {
  truth.clear();
  const std::vector<Placed> placed = place(index);
  const auto fw = static_cast<float>(options_.width);
  const auto fh = static_cast<float>(options_.height);
  for (std::size_t i = 0; i < placed.size(); ++i) {
    const Placed& p = placed[i];
    const float bw = p.mover->size * p.mover->aspect;
    const float bh = p.mover->size;
    GroundTruth g{p.mover->class_id,
                  std::clamp(p.x, 0.0F, fw),
                  std::clamp(p.y, 0.0F, fh),
                  std::clamp(p.x + bw, 0.0F, fw),
                  std::clamp(p.y + bh, 0.0F, fh),
                  visibility(placed, i),
                  static_cast<int>(p.mover - movers_.data())};
    if (g.x2 - g.x1 >= 2 && g.y2 - g.y1 >= 2) truth.push_back(g);
  }
}

void SyntheticCamera::render(std::uint64_t index, std::uint8_t* bgr, std::size_t stride,
                             std::vector<GroundTruth>& truth) const {
  draw_background(index, bgr, stride);
  for (const Placed& p : place(index)) draw_object(p, bgr, stride);
  this->truth(index, truth);
}

}  // namespace shmyolo::ingest

#include "modbus_output.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include <shmyolo/modbus/register_map.hpp>

#include "statistics.hpp"

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kSecondNs = 1'000'000'000;
constexpr std::uint64_t kRateWindowNs = 3 * kSecondNs;  // fps over the last 3 s, as /v1/cameras

std::uint16_t saturated(std::uint64_t v) {
  return static_cast<std::uint16_t>(std::min<std::uint64_t>(v, 0xFFFF));
}

}  // namespace

ModbusOutput::ModbusOutput(const Context& ctx, const std::vector<bus::FrameRing>& cameras)
    : ctx_(ctx), cameras_(cameras), state_(cameras.size()) {}

std::unique_ptr<ModbusOutput> ModbusOutput::start(const Context& ctx, const std::vector<bus::FrameRing>& cameras) {
  const std::optional<config::ModbusConfig> configured = ctx.config->outputs.modbus;
  if (!configured.has_value()) return nullptr;
  const config::ModbusConfig& config = *configured;
  std::unique_ptr<ModbusOutput> out(new ModbusOutput(ctx, cameras));
  const auto inputs = modbus::camera_base(cameras.size());
  int bits = 0;
  for (const auto& a : config.alarms) bits = std::max(bits, a.bit + 1);
  // The map's version and camera count, fixed for the run: in place before a PLC can read them.
  const std::array<std::pair<std::uint16_t, std::uint16_t>, 2> fixed{
      {{modbus::kVersion, modbus::kMapVersion}, {modbus::kCameraCount, static_cast<std::uint16_t>(cameras.size())}}};
  auto server =
      modbus::Server::start(config, inputs, static_cast<std::uint16_t>(std::max<std::size_t>(1, cameras.size())),
                            static_cast<std::uint16_t>(bits), fixed);
  if (!server) {
    std::fprintf(stderr, "shmyolo: aggregator: %s\n", server.error().c_str());
    return nullptr;
  }
  out->server_ = std::move(*server);
  if (auto ids = detect::class_ids(ctx.model.names, config.classes); ids) out->class_ids_ = std::move(*ids);
  for (const auto& a : config.alarms) {
    Alarm alarm;
    alarm.config = a;
    alarm.bit = Debounce(a.on_after_s, a.off_after_s);
    const auto& cams = ctx.config->cameras;
    alarm.camera =
        static_cast<std::size_t>(std::ranges::find(cams, a.camera, &config::CameraConfig::name) - cams.begin());
    if (!a.zone.empty()) {
      const auto& zones = cams[alarm.camera].zones;
      alarm.zone =
          static_cast<std::size_t>(std::ranges::find(zones, a.zone, &config::ZoneConfig::name) - zones.begin());
    }
    if (auto ids = detect::class_ids(ctx.model.names, a.classes); ids) alarm.classes = std::move(*ids);
    out->alarms_.push_back(std::move(alarm));
  }
  out->started_ns_ = bus::monotonic_ns();
  out->next_beat_ns_ = out->started_ns_;
  std::fprintf(stderr, "shmyolo: modbus: serving on %s:%d (register map: shmyolo modbus map CONFIG)\n",
               config.bind.c_str(), out->server_->port());
  return out;
}

void ModbusOutput::store32(std::uint16_t address, std::uint64_t value) {
  const auto v = static_cast<std::uint32_t>(std::min<std::uint64_t>(value, 0xFFFFFFFF));
  const std::array<std::uint16_t, 2> words{static_cast<std::uint16_t>(v >> 16), static_cast<std::uint16_t>(v & 0xFFFF)};
  server_->store(address, words);
}

// Whether the newest result has at least `min` tracks of the alarm's classes
// in its zone (or frame); a change starts the debounce's clock.
void ModbusOutput::judge(Alarm& a, const CameraTracking& tracking, std::uint64_t now) {
  const track::Scene* scene = tracking.scene();
  int n = 0;
  if (scene != nullptr) {
    for (const auto& [class_id, count] : scene->occupancy(a.zone.value_or(scene->zones().size()))) {
      if (a.classes.empty() || std::ranges::find(a.classes, class_id) != a.classes.end()) n += count;
    }
  }
  a.bit.observe(n >= a.config.min, now);
}

void ModbusOutput::debounce(std::uint64_t now) {
  for (auto& a : alarms_) {
    if (a.bit.settle(now)) server_->set_bit(static_cast<std::uint16_t>(a.config.bit), a.bit.on());
  }
}

void ModbusOutput::result(const ResultRecord& r, const CameraTracking& tracking) {
  for (auto& a : alarms_) {
    if (a.camera == r.camera) judge(a, tracking, bus::monotonic_ns());
  }
  Camera& cam = state_[r.camera];
  const std::uint16_t base = modbus::camera_base(r.camera);
  ++cam.sequence;
  ++sequence_;
  cam.last_result_ns = bus::monotonic_ns();
  cam.recent_ns.push_back(cam.last_result_ns);
  std::array<std::uint16_t, modbus::kMaxClasses> per_class{};
  for (std::uint32_t i = 0; i < r.count; ++i) {
    const auto k = std::ranges::find(class_ids_, r.detections[i].class_id);
    if (k != class_ids_.end()) ++per_class[static_cast<std::size_t>(k - class_ids_.begin())];
  }
  server_->store(static_cast<std::uint16_t>(base + modbus::kClassCounts),
                 std::span(per_class).first(std::min(class_ids_.size(), modbus::kMaxClasses)));
  const std::array<std::uint16_t, 3> head{cam.sequence, saturated(r.count), saturated(tracking.active_tracks())};
  server_->store(static_cast<std::uint16_t>(base + modbus::kCameraSequence), head);
  const std::array<std::uint16_t, 1> seq{sequence_};
  server_->store(modbus::kResultSequence, seq);
  if (const track::Scene* scene = tracking.scene()) {
    std::array<std::uint16_t, modbus::kMaxZones> zones{};
    const std::size_t nz = std::min(scene->zones().size(), modbus::kMaxZones);
    for (std::size_t z = 0; z < nz; ++z) {
      int n = 0;
      for (const auto& [class_id, count] : scene->occupancy(z)) n += count;
      zones[z] = saturated(static_cast<std::uint64_t>(n));
    }
    server_->store(static_cast<std::uint16_t>(base + modbus::kZoneOccupancy), std::span(zones).first(nz));
    const auto& lines = scene->line_counts();
    for (std::size_t l = 0; l < std::min(lines.size(), modbus::kMaxLines); ++l) {
      const auto at = static_cast<std::uint16_t>(base + modbus::kLineCounts + 4 * l);
      store32(at, lines[l].forward);
      store32(static_cast<std::uint16_t>(at + 2), lines[l].backward);
    }
  }
}

void ModbusOutput::tick() {
  const std::uint64_t now = bus::monotonic_ns();
  if (now >= next_beat_ns_) {
    ++heartbeat_;
    next_beat_ns_ += kSecondNs;
    if (next_beat_ns_ <= now) next_beat_ns_ = now + kSecondNs;  // after a long stall, one beat, not a burst
  }
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    const CameraCounts counts = camera_counts(ctx_.config->cameras[c].name, cameras_[c], ctx_.status->cameras[c]);
    frames_in += counts.frames_in;
    frames_out += counts.frames_out;
    Camera& cam = state_[c];
    while (!cam.recent_ns.empty() && now - cam.recent_ns.front() > kRateWindowNs) cam.recent_ns.pop_front();
    const std::uint16_t base = modbus::camera_base(c);
    // relaxed: a state read for display.
    const std::array<std::uint16_t, 2> head{saturated(ctx_.status->cameras[c].state.load(std::memory_order_relaxed)),
                                            saturated(cam.recent_ns.size() * 10 * kSecondNs / kRateWindowNs)};
    server_->store(base, head);
    store32(static_cast<std::uint16_t>(base + modbus::kCameraFramesOut), counts.frames_out);
    const std::array<std::uint16_t, 1> age{cam.last_result_ns == 0 ? std::uint16_t{0xFFFF}
                                                                   : saturated((now - cam.last_result_ns) / 1'000'000)};
    server_->store(static_cast<std::uint16_t>(base + modbus::kResultAgeMs), age);
    const std::array<std::uint16_t, 1> unacknowledged{
        static_cast<std::uint16_t>(server_->holding(static_cast<std::uint16_t>(c)) != cam.sequence ? 1 : 0)};
    server_->store(static_cast<std::uint16_t>(base + modbus::kUnacknowledged), unacknowledged);
  }
  // relaxed: counters read for display.
  const std::array<std::uint16_t, 3> block{heartbeat_, static_cast<std::uint16_t>(stop_requested() ? 2 : 1),
                                           saturated(ctx_.status->workers_ready.load(std::memory_order_relaxed))};
  server_->store(modbus::kHeartbeat, block);
  store32(modbus::kFramesIn, frames_in);
  store32(modbus::kFramesOut, frames_out);
  store32(modbus::kUptime, (now - started_ns_) / kSecondNs);
  // relaxed: a counter read for display.
  const std::array<std::uint16_t, 1> starts{saturated(ctx_.status->aggregator_starts.load(std::memory_order_relaxed))};
  server_->store(modbus::kAggregatorStarts, starts);
  debounce(now);
}

}  // namespace shmyolo::pipeline

#include <shmyolo/modbus/register_map.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace shmyolo::modbus {
namespace {

void add(std::vector<Register>& map, std::uint16_t address, std::uint16_t words, std::string name, std::string meaning,
         Register::Table table = Register::Table::input) {
  map.push_back({address, words, table, std::move(name), std::move(meaning)});
}

const char* table_name(Register::Table t) {
  switch (t) {
    case Register::Table::input: return "input";
    case Register::Table::holding: return "holding";
    case Register::Table::discrete: return "discrete";
  }
  return "input";
}

void add_pipeline(std::vector<Register>& m) {
  add(m, kHeartbeat, 1, "pipeline.heartbeat", "+1 every second while the aggregator runs; wraps at 65535");
  add(m, kPipelineState, 1, "pipeline.state", "1 running, 2 stopping");
  add(m, kWorkersReady, 1, "pipeline.workers_ready", "workers that have loaded the model");
  add(m, kCameraCount, 1, "pipeline.cameras", "cameras in the config (blocks below)");
  add(m, kFramesIn, 2, "pipeline.frames_in", "frames published by all cameras (32-bit, high word first)");
  add(m, kFramesOut, 2, "pipeline.frames_out", "results of all cameras (32-bit, high word first)");
  add(m, kUptime, 2, "pipeline.uptime_s", "seconds since this aggregator started (32-bit); 0 again after a restart");
  add(m, kVersion, 1, "pipeline.map_version", fmt::format("{}: the layout of this map", kMapVersion));
  add(m, kResultSequence, 1, "pipeline.result_sequence", "+1 on every result of any camera; wraps");
  add(m, kAggregatorStarts, 1, "pipeline.aggregator_starts",
      "1 at the first start, +1 at each restart: counts and tracks began again");
}

void add_camera(std::vector<Register>& m, const config::PipelineConfig& config, std::size_t c) {
  const auto& cam = config.cameras[c];
  const std::uint16_t base = camera_base(c);
  const auto at = [base](std::uint16_t offset) { return static_cast<std::uint16_t>(base + offset); };
  const std::string n = cam.name;
  add(m, at(kCameraState), 1, n + ".state",
      "0 starting, 1 running, 2 retrying, 3 finished, 4 stopped, 5 failed, 6 waiting");
  add(m, at(kFpsTenths), 1, n + ".fps_x10", "results per second x 10, over the last 3 s");
  add(m, at(kCameraFramesOut), 2, n + ".frames_out", "results (32-bit, high word first)");
  add(m, at(kResultAgeMs), 1, n + ".result_age_ms", "ms since the newest result; 65535 at most and before the first");
  add(m, at(kCameraSequence), 1, n + ".result_sequence", "+1 on each result: a new result to read; wraps");
  add(m, at(kObjects), 1, n + ".objects", "boxes in the newest result");
  add(m, at(kActiveTracks), 1, n + ".tracks", "confirmed tracks followed now");
  add(m, at(kUnacknowledged), 1, n + ".unacknowledged",
      fmt::format("1 while holding register {} differs from {}.result_sequence", c, n));
  const auto& classes = config.outputs.modbus ? config.outputs.modbus->classes : std::vector<std::string>{};
  for (std::size_t k = 0; k < std::min(classes.size(), kMaxClasses); ++k) {
    add(m, at(static_cast<std::uint16_t>(kClassCounts + k)), 1, fmt::format("{}.count.{}", n, classes[k]),
        fmt::format("boxes of class {} in the newest result", classes[k]));
  }
  for (std::size_t z = 0; z < std::min(cam.zones.size(), kMaxZones); ++z) {
    add(m, at(static_cast<std::uint16_t>(kZoneOccupancy + z)), 1, fmt::format("{}.zone.{}", n, cam.zones[z].name),
        fmt::format("tracks in zone {} now", cam.zones[z].name));
  }
  for (std::size_t l = 0; l < std::min(cam.lines.size(), kMaxLines); ++l) {
    const auto offset = static_cast<std::uint16_t>(kLineCounts + 4 * l);
    const std::string& line = cam.lines[l].name;
    add(m, at(offset), 2, fmt::format("{}.line.{}.forward", n, line),
        fmt::format("tracks that crossed line {} forward (32-bit)", line));
    add(m, at(static_cast<std::uint16_t>(offset + 2)), 2, fmt::format("{}.line.{}.backward", n, line),
        fmt::format("tracks that crossed line {} backward (32-bit)", line));
  }
}

}  // namespace

std::vector<Register> register_map(const config::PipelineConfig& config) {
  std::vector<Register> map;
  add_pipeline(map);
  for (std::size_t c = 0; c < config.cameras.size(); ++c) add_camera(map, config, c);
  for (std::size_t c = 0; c < config.cameras.size(); ++c) {
    add(map, static_cast<std::uint16_t>(c), 1, config.cameras[c].name + ".acknowledge",
        fmt::format("write {}.result_sequence here once its result is handled", config.cameras[c].name),
        Register::Table::holding);
  }
  if (config.outputs.modbus) {
    for (const auto& a : config.outputs.modbus->alarms) {
      std::string classes;
      for (const auto& k : a.classes) classes += (classes.empty() ? "" : " ") + k;
      add(map, static_cast<std::uint16_t>(a.bit), 1, "alarm." + a.name,
          fmt::format("on while at least {} {} in {}{} (on after {} s, off after {} s)", a.min,
                      classes.empty() ? "tracks" : classes, a.camera, a.zone.empty() ? "" : " zone " + a.zone,
                      a.on_after_s, a.off_after_s),
          Register::Table::discrete);
    }
  }
  return map;
}

std::string map_table(const std::vector<Register>& map) {
  std::string out = fmt::format("{:<9} {:>7} {:>5}  {:<36} {}\n", "table", "address", "words", "name", "meaning");
  for (const auto& r : map) {
    out += fmt::format("{:<9} {:>7} {:>5}  {:<36} {}\n", table_name(r.table), r.address, r.words, r.name, r.meaning);
  }
  return out;
}

std::string map_csv(const std::vector<Register>& map) {
  std::string out = "table,address,words,name,meaning\n";
  for (const auto& r : map) {
    std::string meaning = r.meaning;
    std::ranges::replace(meaning, '"', '\'');
    out += fmt::format("{},{},{},{},\"{}\"\n", table_name(r.table), r.address, r.words, r.name, meaning);
  }
  return out;
}

}  // namespace shmyolo::modbus

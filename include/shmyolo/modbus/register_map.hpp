// The Modbus register map a PLC polls: fixed by the configuration alone, so
// `shmyolo modbus map CONFIG` prints exactly what the running pipeline serves
// (docs/modbus.md). Everything is an input register (function code 04,
// read-only) but the acknowledge registers, which are holding registers
// (03 to read, 06 or 16 to write).
//
//   input registers  0..99                the pipeline block
//                    100 + 100*c ..        camera c's block, in config order
//   holding registers c                    camera c's acknowledge
//   discrete inputs   the alarms' bits     (function code 02), from the config
//
// 32-bit values take two registers, high word first (the "big-endian"
// word order most PLCs call ABCD).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <shmyolo/config/pipeline_config.hpp>

namespace shmyolo::modbus {

inline constexpr std::uint16_t kMapVersion = 1;
inline constexpr std::uint16_t kCameraBase = 100;
inline constexpr std::uint16_t kCameraStride = 100;
inline constexpr std::size_t kMaxClasses = 16;  // per-class counts a camera block holds
inline constexpr std::size_t kMaxZones = 16;
inline constexpr std::size_t kMaxLines = 8;

// Offsets in the pipeline block.
enum PipelineRegister : std::uint16_t {
  kHeartbeat = 0,      // +1 every second while the aggregator runs (wraps at 65535)
  kPipelineState = 1,  // 1 running, 2 stopping
  kWorkersReady = 2,
  kCameraCount = 3,
  kFramesIn = 4,           // 32-bit
  kFramesOut = 6,          // 32-bit
  kUptime = 8,             // seconds since the aggregator started, 32-bit
  kVersion = 10,           // kMapVersion
  kResultSequence = 11,    // +1 on every result of any camera
  kAggregatorStarts = 12,  // 1 at the first start, +1 at each restart of the aggregator
};

// Offsets in a camera's block.
enum CameraRegister : std::uint16_t {
  kCameraState = 0,      // 0 starting, 1 running, 2 retrying, 3 finished, 4 stopped, 5 failed
  kFpsTenths = 1,        // results per second x 10, over the last 3 s
  kCameraFramesOut = 2,  // 32-bit
  kResultAgeMs = 4,      // since the newest result, saturating at 65535 (also when none yet)
  kCameraSequence = 5,   // +1 on each of this camera's results: the handshake's "new result"
  kObjects = 6,          // boxes in the newest result
  kActiveTracks = 7,
  kUnacknowledged = 8,  // 1 while the acknowledge register differs from kCameraSequence
  kClassCounts = 10,    // boxes of each outputs.modbus.classes entry in the newest result
  kZoneOccupancy = 30,  // tracks in each zone now, in config order
  kLineCounts = 50,     // per line: forward (32-bit), backward (32-bit)
};

struct Register {
  std::uint16_t address = 0;  // 0-based, as on the wire (PLC manuals often add 30001 or 40001)
  std::uint16_t words = 1;
  enum class Table { input, holding, discrete };
  Table table = Table::input;
  std::string name;  // e.g. "yard.zone.danger"
  std::string meaning;
};

// The map for a config: every register, in address order.
[[nodiscard]] std::vector<Register> register_map(const config::PipelineConfig& config);

[[nodiscard]] constexpr std::uint16_t camera_base(std::size_t camera) {
  return static_cast<std::uint16_t>(kCameraBase + kCameraStride * camera);
}

// The map as a table for people, or as CSV for a PLC tool.
[[nodiscard]] std::string map_table(const std::vector<Register>& map);
[[nodiscard]] std::string map_csv(const std::vector<Register>& map);

}  // namespace shmyolo::modbus

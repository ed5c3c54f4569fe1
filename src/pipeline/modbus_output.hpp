// The pipeline's values in the Modbus register map (modbus/register_map.hpp,
// docs/modbus.md), kept current by the aggregator: each camera's block after
// each of its results, the pipeline block and the heartbeat on every turn of
// the aggregator's loop (at least every 100 ms), so no value is older than
// that while the aggregator runs.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include <shmyolo/bus/ring.hpp>
#include <shmyolo/modbus/server.hpp>
#include <shmyolo/pipeline/result.hpp>

#include "camera_tracking.hpp"
#include "context.hpp"
#include "debounce.hpp"

namespace shmyolo::pipeline {

class ModbusOutput {
 public:
  // Starts the server; nothing (the reason said) when it cannot listen.
  static std::unique_ptr<ModbusOutput> start(const Context& ctx, const std::vector<bus::FrameRing>& cameras);

  // After a camera's result (its tracking already updated).
  void result(const ResultRecord& r, const CameraTracking& tracking);
  // The heartbeat, the pipeline block, ages, acknowledgements and alarms.
  void tick();

 private:
  struct Camera {
    std::uint16_t sequence = 0;
    std::uint64_t last_result_ns = 0;
    std::deque<std::uint64_t> recent_ns;  // results in the last 3 s, for fps
  };
  struct Alarm {
    config::ModbusAlarm config;
    std::size_t camera = 0;
    std::optional<std::size_t> zone;  // index in the camera's zones; none: the whole frame
    std::vector<int> classes;
    Debounce bit;
  };
  ModbusOutput(const Context& ctx, const std::vector<bus::FrameRing>& cameras);
  void judge(Alarm& a, const CameraTracking& tracking, std::uint64_t now);
  void debounce(std::uint64_t now);
  void store32(std::uint16_t address, std::uint64_t value);

  const Context& ctx_;
  const std::vector<bus::FrameRing>& cameras_;
  std::unique_ptr<modbus::Server> server_;
  std::vector<int> class_ids_;  // outputs.modbus.classes, resolved
  std::vector<Camera> state_;
  std::vector<Alarm> alarms_;
  std::uint16_t heartbeat_ = 0;
  std::uint16_t sequence_ = 0;
  std::uint64_t started_ns_ = 0;
  std::uint64_t next_beat_ns_ = 0;
};

}  // namespace shmyolo::pipeline

// A Modbus alarm's debounce: the bit a PLC reads follows its condition only
// once the condition has held `on_after` seconds (to set) or been gone
// `off_after` seconds (to clear), so a flickering detection does not make the
// bit chatter. Times are CLOCK_MONOTONIC ns; pure logic, tested on times alone.
#pragma once

#include <cstdint>

namespace shmyolo::pipeline {

class Debounce {
 public:
  Debounce() = default;
  Debounce(double on_after_s, double off_after_s)
      : on_after_ns_(static_cast<std::uint64_t>(on_after_s * 1e9)),
        off_after_ns_(static_cast<std::uint64_t>(off_after_s * 1e9)) {}

  // The condition as the newest result has it; a change restarts the clock.
  void observe(bool condition, std::uint64_t now_ns) {
    if (condition == condition_) return;
    condition_ = condition;
    changed_ns_ = now_ns;
  }

  // Whether the bit changes now; on() is then the new value.
  bool settle(std::uint64_t now_ns) {
    if (condition_ == on_) return false;
    const std::uint64_t wait = condition_ ? on_after_ns_ : off_after_ns_;
    if (now_ns - changed_ns_ < wait) return false;
    on_ = condition_;
    return true;
  }

  [[nodiscard]] bool on() const { return on_; }

 private:
  std::uint64_t on_after_ns_ = 0;
  std::uint64_t off_after_ns_ = 0;
  bool condition_ = false;  // as the newest result has it
  bool on_ = false;         // as served
  std::uint64_t changed_ns_ = 0;
};

}  // namespace shmyolo::pipeline

// shmyolo bench modbus: how fast the pipeline's Modbus server answers PLCs
// while the pipeline runs. A pipeline of `cameras` synthetic cameras at
// 10 fps with a zone and a line each, and `clients` libmodbus clients
// reading a camera's block (54 input registers) back to back for `seconds`:
// each read's round trip, and how old the values were (result_age_ms).
#pragma once

#include <string>
#include <vector>

namespace shmyolo::bench {

struct ModbusBenchOptions {
  std::string model;
  std::string shmyolo_bin;
  int cameras = 2;
  int clients = 10;
  double seconds = 10;
};

struct ModbusBenchReport {
  std::vector<double> read_ms;  // round trips
  std::vector<double> age_ms;   // result_age_ms read
  std::uint64_t failed = 0;
  double seconds = 0;
  std::string error;
};

[[nodiscard]] ModbusBenchReport run_modbus_bench(const ModbusBenchOptions& options);
[[nodiscard]] std::string modbus_table(const ModbusBenchOptions& options, const ModbusBenchReport& report);

}  // namespace shmyolo::bench

// A Modbus TCP server on libmodbus, on a thread of its own, serving one
// register map (register_map.hpp). The owner writes input registers; PLCs
// read them (and the discrete inputs) and write only the acknowledge
// registers. Anything else (a write elsewhere, a function code other than
// 02, 03, 04, 06 and 16, an address out of the map) gets a Modbus exception
// response; a malformed frame closes its connection. At most max_clients connections; one more is closed at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/sync.hpp>

// libmodbus's own type names, declared so that users need not include modbus.h.
struct _modbus;            // NOLINT(bugprone-reserved-identifier)
struct _modbus_mapping_t;  // NOLINT(bugprone-reserved-identifier)

namespace shmyolo::modbus {

class Server {
 public:
  // Binds and starts serving `input_registers` input registers,
  // `holding_registers` (writable) holding registers and `input_bits`
  // discrete inputs, all 0 but the input registers in `fixed` (address,
  // value), which are in place before the first request is answered.
  static std::expected<std::unique_ptr<Server>, std::string> start(
      const config::ModbusConfig& config, std::uint16_t input_registers, std::uint16_t holding_registers,
      std::uint16_t input_bits, std::span<const std::pair<std::uint16_t, std::uint16_t>> fixed = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Input registers from `address` on (clipped to the map).
  void store(std::uint16_t address, std::span<const std::uint16_t> values);
  [[nodiscard]] std::uint16_t holding(std::uint16_t address) const;
  void set_bit(std::uint16_t address, bool on);
  [[nodiscard]] int port() const { return port_; }

 private:
  Server() = default;
  void serve();

  _modbus* ctx_ = nullptr;
  _modbus_mapping_t* map_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  int max_clients_ = 0;
  mutable Mutex mutex_;            // guards the mapping's registers (libmodbus reads them in modbus_reply)
  std::atomic<bool> stop_{false};  // relaxed: a flag the serving thread polls
  std::thread thread_;
};

}  // namespace shmyolo::modbus

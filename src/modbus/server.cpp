#include <shmyolo/modbus/server.hpp>

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace shmyolo::modbus {
namespace {

// A frame's bytes must follow each other within this: a client sending a
// byte at a time holds the serving thread for no longer than it takes.
constexpr int kByteTimeoutUs = 50'000;
constexpr int kPollUs = 100'000;  // how often the serving thread looks at its stop flag

// An MBAP header that says what came: protocol 0, and a length that counts
// the bytes after it. libmodbus reads frames by their function code and
// does not check these, so bytes of another protocol would be answered.
bool whole_frame(const std::uint8_t* q, int n) {
  const int length = (q[4] << 8) | q[5];
  return n >= 8 && q[2] == 0 && q[3] == 0 && length == n - 6;
}

bool allowed(int function) {
  return function == MODBUS_FC_READ_DISCRETE_INPUTS || function == MODBUS_FC_READ_HOLDING_REGISTERS ||
         function == MODBUS_FC_READ_INPUT_REGISTERS || function == MODBUS_FC_WRITE_SINGLE_REGISTER ||
         function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS;
}

}  // namespace

std::expected<std::unique_ptr<Server>, std::string> Server::start(
    const config::ModbusConfig& config, std::uint16_t input_registers, std::uint16_t holding_registers,
    std::uint16_t input_bits, std::span<const std::pair<std::uint16_t, std::uint16_t>> fixed) {
  std::unique_ptr<Server> s(new Server());
  s->max_clients_ = config.max_clients;
  s->ctx_ = modbus_new_tcp(config.bind.c_str(), config.port);
  if (s->ctx_ == nullptr) return std::unexpected(fmt::format("modbus: {}", modbus_strerror(errno)));
  modbus_set_byte_timeout(s->ctx_, 0, kByteTimeoutUs);
  modbus_set_indication_timeout(s->ctx_, 0, kByteTimeoutUs);
  s->map_ = modbus_mapping_new(0, input_bits, holding_registers, input_registers);
  if (s->map_ == nullptr) return std::unexpected(fmt::format("modbus: {}", modbus_strerror(errno)));
  // Before the serving thread exists: no client reads these as 0.
  for (const auto& [address, value] : fixed) {
    if (address < input_registers) s->map_->tab_input_registers[address] = value;
  }
  s->listener_ = modbus_tcp_listen(s->ctx_, config.max_clients);
  if (s->listener_ < 0) {
    return std::unexpected(fmt::format("modbus: cannot listen on {}:{} ({}): pick another outputs.modbus.port",
                                       config.bind, config.port, modbus_strerror(errno)));
  }
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(s->listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  s->thread_ = std::thread([self = s.get()] { self->serve(); });
  return s;
}

Server::~Server() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) ::close(listener_);
  if (map_ != nullptr) modbus_mapping_free(map_);
  if (ctx_ != nullptr) modbus_free(ctx_);
}

void Server::store(std::uint16_t address, std::span<const std::uint16_t> values) {
  const MutexLock lock(mutex_);
  const auto end = std::min<std::size_t>(static_cast<std::size_t>(address) + values.size(),
                                         static_cast<std::size_t>(map_->nb_input_registers));
  for (std::size_t a = address; a < end; ++a) map_->tab_input_registers[a] = values[a - address];
}

std::uint16_t Server::holding(std::uint16_t address) const {
  const MutexLock lock(mutex_);
  return address < map_->nb_registers ? map_->tab_registers[address] : 0;
}

void Server::set_bit(std::uint16_t address, bool on) {
  const MutexLock lock(mutex_);
  if (address < map_->nb_input_bits) map_->tab_input_bits[address] = on ? 1 : 0;
}

void Server::serve() {
  std::vector<int> clients;
  while (!stop_.load(std::memory_order_relaxed)) {
    fd_set ready;
    FD_ZERO(&ready);
    FD_SET(listener_, &ready);
    int top = listener_;
    for (const int c : clients) {
      FD_SET(c, &ready);
      top = std::max(top, c);
    }
    timeval wait{.tv_sec = 0, .tv_usec = kPollUs};
    if (::select(top + 1, &ready, nullptr, nullptr, &wait) <= 0) continue;
    if (FD_ISSET(listener_, &ready)) {
      const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0 && (std::cmp_greater_equal(clients.size(), max_clients_) || c >= FD_SETSIZE)) {
        ::close(c);  // over the limit: the client sees the connection closed
      } else if (c >= 0) {
        clients.push_back(c);
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      if (!FD_ISSET(*it, &ready)) {
        ++it;
        continue;
      }
      modbus_set_socket(ctx_, *it);
      std::array<std::uint8_t, MODBUS_TCP_MAX_ADU_LENGTH> query{};
      const int n = modbus_receive(ctx_, query.data());
      if (n == -1 || (n > 0 && !whole_frame(query.data(), n))) {  // closed, or not Modbus: drop the connection
        ::close(*it);
        it = clients.erase(it);
        continue;
      }
      if (n > 0) {
        const int header = modbus_get_header_length(ctx_);
        if (!allowed(query[static_cast<std::size_t>(header)])) {
          modbus_reply_exception(ctx_, query.data(), MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
        } else {
          const MutexLock lock(mutex_);
          modbus_reply(ctx_, query.data(), n, map_);
        }
      }
      ++it;
    }
  }
  for (const int c : clients) ::close(c);
}

}  // namespace shmyolo::modbus

// The server's front door: it accepts connections itself and gives one to a
// request thread only once its request head has fully arrived, so clients
// that send their headers slowly (slowloris) hold a socket in one epoll loop,
// not a thread, and are dropped with 408 after the head deadline.
//
// cpp-httplib (Debian 12's 0.11.4) runs a whole connection on one of its
// pool's threads from accept() on, and its read timeout is per read, so a
// byte a second never times out. It has no public hook between accept() and
// the first read; the gate takes its place through two private members
// (the listening socket and process_and_close_socket), reached by explicit
// template instantiation, which the language exempts from access checks
// ([temp.spec.general]/6). gate.cpp pins the library version it was written
// against.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <shmyolo/sync.hpp>

namespace shmyolo::http {

struct GateOptions {
  std::size_t threads = 8;  // requests served at once
  std::chrono::milliseconds head_timeout{10'000};
  // From a request's first byte until its body is read: past it, the
  // connection is shut down and its thread freed.
  std::chrono::milliseconds request_timeout{60'000};
  std::size_t max_connections = 256;         // waiting for their head and being served, together
  std::size_t max_waiting_per_address = 32;  // past it, that address's longest-waiting connection goes
  bool tls = false;                          // heads are encrypted: wait for the first bytes only (see docs/http.md)
  std::chrono::microseconds read_timeout{5'000'000};   // of one read, once a request is in work
  std::chrono::microseconds write_timeout{5'000'000};  // cpp-httplib's default (CPPHTTPLIB_WRITE_TIMEOUT_SECOND)
};

class Gate {
 public:
  // `server` is bound (bind_to_port) and outlives the gate.
  Gate(httplib::Server& server, const GateOptions& options);
  // Starts accepting. Apart from the constructor, so that whoever keeps the
  // gate has it stored before the first request can ask for it.
  void start();
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Stops accepting, drops connections still sending their heads, and waits
  // for the requests in work to be answered.
  void stop();
  [[nodiscard]] bool running() const { return running_.load(std::memory_order_acquire); }

  // A handler calls this as it starts: the request from this peer has been
  // read whole, so its deadline no longer applies.
  void request_read(const std::string& address, int port) SHMYOLO_EXCLUDES(reading_mutex_);
  // After each answer on a connection that stays open (HTTPS keep-alive):
  // its next request has request_timeout from now.
  void answered(const std::string& address, int port) SHMYOLO_EXCLUDES(reading_mutex_);

 private:
  struct Waiting {
    std::string address;
    int port = 0;
    std::chrono::steady_clock::time_point accepted;
  };
  struct Reading {  // a connection on a request thread
    int fd = -1;
    bool armed = true;  // its request is not yet read whole: the deadline applies
    std::chrono::steady_clock::time_point deadline;
  };
  using Peer = std::pair<std::string, int>;

  void loop();
  void accept_all(int listener);
  [[nodiscard]] bool make_room(const std::string& address);
  void check(int fd);
  void drop_late();
  // Those whose deadline is before `now` (time_point::max(): all).
  void cut_slow_requests(std::chrono::steady_clock::time_point now) SHMYOLO_EXCLUDES(reading_mutex_);
  void drop_all();
  void admit(int fd);
  void refuse(int fd, int status);
  void forget(int fd);

  httplib::Server& server_;
  const GateOptions options_;
  std::unique_ptr<httplib::ThreadPool> pool_;
  int wake_fd_ = -1;   // an eventfd: stop() ends the wait
  int epoll_fd_ = -1;  // edge-triggered for waiting connections: woken by new bytes, not by bytes still unread
  // release on stop(), acquire by event streams: they end once it is false.
  std::atomic<bool> running_{true};
  std::atomic<std::size_t> serving_{0};  // connections handed to the pool, not yet closed
  // The gate thread's alone:
  std::unordered_map<int, Waiting> waiting_;  // by socket
  std::map<std::string, std::size_t> waiting_by_address_;
  std::vector<char> peek_;  // check()'s buffer for the head seen so far
  Mutex reading_mutex_;
  std::map<Peer, Reading> reading_ SHMYOLO_GUARDED_BY(reading_mutex_);
  std::thread thread_;
};

}  // namespace shmyolo::http

#include "gate.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>

namespace shmyolo::http {
namespace {

// The members reached below are this version's; another one may differ.
static_assert(std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
              "src/http/gate.cpp reaches into cpp-httplib 0.11.4 (Debian 12): check its members again");

using ProcessSocket = bool (httplib::Server::*)(socket_t);
using ListenSocket = std::atomic<socket_t> httplib::Server::*;
struct ProcessTag {};
struct ListenTag {};
ProcessSocket member(ProcessTag);
ListenSocket member(ListenTag);

template <ProcessSocket Process, ListenSocket Listen>
struct Expose {
  friend ProcessSocket member(ProcessTag) { return Process; }
  friend ListenSocket member(ListenTag) { return Listen; }
};
// Explicit instantiation may name private members ([temp.spec.general]/6).
// process_and_close_socket is virtual: called through the pointer it is
// SSLServer's for an HTTPS server (the TLS handshake, then the requests).
template struct Expose<&httplib::Server::process_and_close_socket, &httplib::Server::svr_sock_>;

// 8 KiB request line plus 8 KiB of headers: cpp-httplib's own limits
// (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH, CPPHTTPLIB_HEADER_MAX_LENGTH). A head
// that fills this without ending is handed on for the library to refuse.
constexpr std::size_t kMaxHead = 16 * 1024 + 4;

std::string address_of(const sockaddr_storage& peer) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (peer.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text.data(), text.size());
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text.data(), text.size());
  }
  return text.data();
}

int port_of(const sockaddr_storage& peer) {
  return ntohs(peer.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(peer).sin6_port
                                          : reinterpret_cast<const sockaddr_in&>(peer).sin_port);
}

// Best effort and never blocking: the socket is closed right after.
void say(int fd, int status) {
  constexpr std::string_view kLate =
      R"json({"error":"the request head did not arrive in time (http.header_timeout, )json"
      R"json(or sooner while many connections wait)","status":408})json";
  constexpr std::string_view kFull = R"json({"error":"too many connections: retry later","status":503})json";
  const std::string_view body = status == 408 ? kLate : kFull;
  const std::string reply = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}\n",
      status, status == 408 ? "Request Timeout" : "Service Unavailable", body.size() + 1,
      status == 503 ? "Retry-After: 1\r\n" : "", body);
  (void)::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

Gate::Gate(httplib::Server& server, const GateOptions& options)
    : server_(server),
      options_(options),
      pool_(std::make_unique<httplib::ThreadPool>(options.threads)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      peek_(kMaxHead) {}

void Gate::start() {
  thread_ = std::thread([this] { loop(); });
}

Gate::~Gate() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void Gate::stop() {
  if (!thread_.joinable()) return;
  running_.store(false, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
  thread_.join();
  // Requests still arriving will get no answer now: cut them, so no thread
  // waits on a client that keeps sending slowly.
  cut_slow_requests(std::chrono::steady_clock::time_point::max());
  // Requests in work see the listening socket gone and end after their answer.
  auto& listener = server_.*member(ListenTag{});
  const socket_t fd = listener.exchange(INVALID_SOCKET);
  if (fd != INVALID_SOCKET) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }
  pool_->shutdown();
}

void Gate::loop() {
  const socket_t listener = (server_.*member(ListenTag{})).load();
  ::fcntl(listener, F_SETFL, ::fcntl(listener, F_GETFL) | O_NONBLOCK);  // accept_all takes what is there
  // cpp-httplib listens with a backlog of 5: a burst of connections (or an
  // attack) past it has its SYNs dropped and retried a second later. Calling
  // listen() again only raises the backlog; the gate empties it at once.
  ::listen(listener, SOMAXCONN);
  epoll_event wake{.events = EPOLLIN, .data = {.fd = wake_fd_}};
  epoll_event listen{.events = EPOLLIN, .data = {.fd = listener}};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listener, &listen);
  std::array<epoll_event, 64> events{};
  while (running_.load(std::memory_order_acquire)) {
    // 100 ms: how late a head deadline may be noticed.
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wake_fd_) return drop_all();
      if (fd == listener) {
        accept_all(listener);
      } else if (waiting_.contains(fd)) {
        check(fd);
      }
    }
    drop_late();
    cut_slow_requests(std::chrono::steady_clock::now());
  }
  drop_all();
}

void Gate::drop_all() {
  while (!waiting_.empty()) refuse(waiting_.begin()->first, 0);
}

void Gate::accept_all(int listener) {
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: none left (the listener is non-blocking); else retried on the next wake
    std::string address = address_of(peer);
    const int port = port_of(peer);
    if (!make_room(address)) {  // every connection is being served: this one waits for none
      if (!options_.tls) say(fd, 503);
      ::close(fd);
      continue;
    }
    // What cpp-httplib's own accept loop sets: its reads and writes wait
    // this long (TLS reads rely on it).
    const auto timeval_of = [](std::chrono::microseconds t) {
      return timeval{.tv_sec = static_cast<time_t>(t.count() / 1'000'000),
                     .tv_usec = static_cast<suseconds_t>(t.count() % 1'000'000)};
    };
    const timeval rcv = timeval_of(options_.read_timeout);
    const timeval snd = timeval_of(options_.write_timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
    ++waiting_by_address_[address];
    waiting_.emplace(fd, Waiting{std::move(address), port, std::chrono::steady_clock::now()});
    epoll_event e{.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data = {.fd = fd}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e);
    check(fd);  // a head that came with the connection goes at once
  }
}

// At a limit, the connection that has waited longest for its head (of the
// same address, or of any) is dropped for the new one: a slow client can
// only push out slow clients, since one that sends its head at once waits
// for milliseconds. Refusing new connections instead would let a few slow
// ones lock out everyone behind the same address (a NAT, a proxy, the
// monitoring on the same host). False when nothing waits to make room.
bool Gate::make_room(const std::string& address) {
  const auto oldest = [&](bool same_address) {
    int fd = -1;
    auto first = std::chrono::steady_clock::time_point::max();
    for (const auto& [f, w] : waiting_) {
      if ((!same_address || w.address == address) && w.accepted < first) {
        first = w.accepted;
        fd = f;
      }
    }
    return fd;
  };
  const auto count = waiting_by_address_.find(address);
  if (count != waiting_by_address_.end() && count->second >= options_.max_waiting_per_address)
    refuse(oldest(true), 408);
  // relaxed: a count for a limit; one more or less admitted at the edge is harmless.
  if (waiting_.size() + serving_.load(std::memory_order_relaxed) < options_.max_connections) return true;
  if (waiting_.empty()) return false;
  refuse(oldest(false), 408);
  return true;
}

// New bytes (or a hang-up) on a waiting connection: what has come so far is
// peeked, left in the socket for the library to read.
void Gate::check(int fd) {
  const ssize_t n = ::recv(fd, peek_.data(), peek_.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return refuse(fd, 0);  // the client hung up
  if (n <= 0) return;
  const std::string_view seen(peek_.data(), static_cast<std::size_t>(n));
  const bool head = seen.find("\r\n\r\n") != std::string_view::npos || seen.size() == kMaxHead;
  if (options_.tls || head) admit(fd);
}

void Gate::drop_late() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<int> late;
  for (const auto& [fd, w] : waiting_) {
    if (now >= w.accepted + options_.head_timeout) late.push_back(fd);
  }
  for (const int fd : late) refuse(fd, 408);
}

void Gate::forget(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  const auto it = waiting_.find(fd);
  if (--waiting_by_address_[it->second.address] == 0) waiting_by_address_.erase(it->second.address);
  waiting_.erase(it);
}

void Gate::admit(int fd) {
  Peer peer{waiting_.at(fd).address, waiting_.at(fd).port};
  const auto deadline = waiting_.at(fd).accepted + options_.request_timeout;
  forget(fd);
  {
    const MutexLock lock(reading_mutex_);
    reading_[peer] = Reading{.fd = fd, .armed = true, .deadline = deadline};
  }
  // relaxed: a count for a limit (see accept_all).
  serving_.fetch_add(1, std::memory_order_relaxed);
  pool_->enqueue([this, fd, peer = std::move(peer)] {
    (server_.*member(ProcessTag{}))(fd);  // reads, answers, closes
    {
      const MutexLock lock(reading_mutex_);
      if (const auto it = reading_.find(peer); it != reading_.end() && it->second.fd == fd) reading_.erase(it);
    }
    serving_.fetch_sub(1, std::memory_order_relaxed);
  });
}

void Gate::request_read(const std::string& address, int port) {
  const MutexLock lock(reading_mutex_);
  if (const auto it = reading_.find(Peer{address, port}); it != reading_.end()) it->second.armed = false;
}

void Gate::answered(const std::string& address, int port) {
  if (!options_.tls) return;  // plain HTTP closes the connection after its answer
  const MutexLock lock(reading_mutex_);
  if (const auto it = reading_.find(Peer{address, port}); it != reading_.end()) {
    it->second.armed = true;
    it->second.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
  }
}

// Requests still not read whole past their deadline (a body sent a byte at a
// time): their sockets are shut down, so the library's read fails and the
// thread is free. The fd is checked to be the same peer's first: once the
// library has closed it, the number may already name a new connection.
void Gate::cut_slow_requests(std::chrono::steady_clock::time_point now) {
  const MutexLock lock(reading_mutex_);
  for (auto it = reading_.begin(); it != reading_.end();) {
    if (!it->second.armed || now < it->second.deadline) {
      ++it;
      continue;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const bool same = ::getpeername(it->second.fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
                      address_of(peer) == it->first.first && port_of(peer) == it->first.second;
    if (same) ::shutdown(it->second.fd, SHUT_RDWR);
    it = reading_.erase(it);
  }
}

void Gate::refuse(int fd, int status) {
  forget(fd);
  if (status != 0 && !options_.tls) say(fd, status);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace shmyolo::http

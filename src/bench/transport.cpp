// Each transport runs in two forked processes: the producer stamps the time
// it hands a frame over; the consumer notes the time it holds a usable copy
// (a claimed slot, or a fully received buffer) and writes the difference into
// an anonymous shared array the parent reads afterwards.
#include "transport.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/ring.hpp>

#include "transport_internal.hpp"

namespace shmyolo::bench {
namespace {

using bus::monotonic_ns;

void set_error(Shared& s, const std::string& text) {
  std::snprintf(s.error, sizeof(s.error), "%s", text.c_str());
}

double cpu_seconds_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool read_full(int fd, std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_full(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// A transport's two ends. open_* run in the child after fork.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual int copies() const = 0;
  virtual void open_producer() {}
  virtual void open_consumer() {}
  // Hands over `frame`, whose first 8 bytes the caller stamped.
  virtual bool send(std::byte* frame, std::size_t bytes) = 0;
  // Returns the stamp of the frame now usable, or 0 on failure.
  virtual std::uint64_t receive(std::size_t bytes) = 0;
  virtual void close_producer() {}
};

// The frame bus: the producer writes straight into the slot.
class ShmTransport final : public Transport {
 public:
  ShmTransport(const TransportOptions& o, bus::ConsumerOptions c)
      : consumer_options_(c), ring_(create_bench_ring(fmt::format("shmyolo.bench.{}", ::getpid()), o)) {}
  int copies() const override { return 0; }
  void open_producer() override { producer_ = std::make_unique<bus::Producer>(bus::Producer::attach(*ring_).value()); }
  void open_consumer() override { consumer_ = std::make_unique<bus::Consumer>(*ring_, consumer_options_); }
  bool send(std::byte* frame, std::size_t bytes) override { return bus_send(*producer_, frame, bytes); }
  std::uint64_t receive(std::size_t) override { return bus_receive(*consumer_); }
  void close_producer() override { producer_.reset(); }

 private:
  bus::ConsumerOptions consumer_options_;
  std::unique_ptr<bus::FrameRing> ring_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> consumer_;
};

// A stream of [stamp][frame] records over a file descriptor pair.
class StreamTransport final : public Transport {
 public:
  enum class Kind { unix_socket, pipe };
  StreamTransport(Kind kind, std::size_t bytes) : buffer_(bytes) {
    int fds[2];
    if (kind == Kind::unix_socket) {
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
    } else {
      if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
      ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // the default maximum (/proc/sys/fs/pipe-max-size)
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  ~StreamTransport() override {
    ::close(read_fd_);
    ::close(write_fd_);
  }
  int copies() const override { return 2; }  // into the kernel, out of it
  bool send(std::byte* frame, std::size_t bytes) override { return write_full(write_fd_, frame, bytes); }
  std::uint64_t receive(std::size_t bytes) override {
    if (!read_full(read_fd_, buffer_.data(), bytes)) return 0;
    std::uint64_t stamp = 0;
    std::memcpy(&stamp, buffer_.data(), sizeof(stamp));
    return stamp;
  }

 private:
  std::vector<std::byte> buffer_;
  int read_fd_ = -1;
  int write_fd_ = -1;
};

// "Write a temp file, read it back": write + rename, inotify wakes the reader.
class FileTransport final : public Transport {
 public:
  FileTransport(const std::filesystem::path& parent, std::size_t bytes) : buffer_(bytes) {
    dir_ = parent / fmt::format("shmyolo-bench-{}", ::getpid());
    std::filesystem::create_directories(dir_);
  }
  ~FileTransport() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int copies() const override { return 2; }  // into the page cache, out of it
  void open_consumer() override {
    inotify_ = ::inotify_init1(IN_CLOEXEC);
    ::inotify_add_watch(inotify_, dir_.c_str(), IN_MOVED_TO);
  }
  bool send(std::byte* frame, std::size_t bytes) override {
    const auto tmp = dir_ / fmt::format("{}.tmp", counter_);
    const auto done = dir_ / fmt::format("{}.raw", counter_++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const bool ok = write_full(fd, frame, bytes);
    ::close(fd);
    return ok && ::rename(tmp.c_str(), done.c_str()) == 0;
  }
  std::uint64_t receive(std::size_t bytes) override {
    const auto path = dir_ / fmt::format("{}.raw", counter_++);
    while (::access(path.c_str(), F_OK) != 0) {
      alignas(inotify_event) char events[4096];
      if (::read(inotify_, events, sizeof(events)) <= 0) return 0;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    const bool ok = read_full(fd, buffer_.data(), bytes);
    ::close(fd);
    ::unlink(path.c_str());
    if (!ok) return 0;
    std::uint64_t stamp = 0;
    std::memcpy(&stamp, buffer_.data(), sizeof(stamp));
    return stamp;
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::byte> buffer_;
  int inotify_ = -1;
  std::uint64_t counter_ = 0;
};

// ZeroMQ PUSH/PULL over ipc://.
class ZmqTransport final : public Transport {
 public:
  ZmqTransport() : endpoint_(fmt::format("ipc:///tmp/shmyolo-bench-{}.ipc", ::getpid())) {}
  ~ZmqTransport() override {
    if (socket_ != nullptr) zmq_close(socket_);
    if (context_ != nullptr) zmq_ctx_term(context_);
  }
  int copies() const override { return 3; }  // into the message, into the kernel, out of it
  void open_producer() override {
    context_ = zmq_ctx_new();
    socket_ = zmq_socket(context_, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_connect(socket_, endpoint_.c_str());
  }
  void open_consumer() override {
    context_ = zmq_ctx_new();
    socket_ = zmq_socket(context_, ZMQ_PULL);
    zmq_bind(socket_, endpoint_.c_str());
  }
  bool send(std::byte* frame, std::size_t bytes) override { return zmq_send(socket_, frame, bytes, 0) >= 0; }
  std::uint64_t receive(std::size_t) override {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket_, 0) < 0) return 0;
    std::uint64_t stamp = 0;
    std::memcpy(&stamp, zmq_msg_data(&msg), sizeof(stamp));
    zmq_msg_close(&msg);
    return stamp;
  }
  void close_producer() override {
    zmq_close(socket_);
    socket_ = nullptr;
    zmq_ctx_term(context_);
    context_ = nullptr;
  }

 private:
  std::string endpoint_;
  void* context_ = nullptr;
  void* socket_ = nullptr;
};

// The floor under any blocking hand-off: one process FUTEX_WAKEs another
// that sleeps in FUTEX_WAIT on a shared page. No frame moves.
class BareFutexTransport final : public Transport {
 public:
  BareFutexTransport() {
    void* mem = mmap(nullptr, sizeof(Words), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("cannot map the futex page");
    words_ = new (mem) Words{};
  }
  ~BareFutexTransport() override { munmap(words_, sizeof(Words)); }
  int copies() const override { return 0; }
  bool send(std::byte* frame, std::size_t) override {
    // One frame in flight: wait until the consumer took the previous one.
    while (words_->taken.load(std::memory_order_acquire) != words_->bell.load(std::memory_order_relaxed)) {
      sched_yield();
    }
    std::uint64_t stamp = 0;
    std::memcpy(&stamp, frame, sizeof(stamp));
    // relaxed: the seq_cst increment of the bell below orders it.
    words_->stamp.store(stamp, std::memory_order_relaxed);
    words_->bell.fetch_add(1, std::memory_order_seq_cst);
    syscall(SYS_futex, &words_->bell, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    return true;
  }
  std::uint64_t receive(std::size_t) override {
    std::uint32_t v = 0;
    while ((v = words_->bell.load(std::memory_order_seq_cst)) == seen_) {
      syscall(SYS_futex, &words_->bell, FUTEX_WAIT, v, nullptr, nullptr, 0);
    }
    seen_ = v;
    const std::uint64_t stamp = words_->stamp.load(std::memory_order_relaxed);
    words_->taken.store(v, std::memory_order_release);
    return stamp;
  }

 private:
  struct Words {
    std::atomic<std::uint32_t> bell{0};
    std::atomic<std::uint32_t> taken{0};
    std::atomic<std::uint64_t> stamp{0};
  };
  Words* words_ = nullptr;
  std::uint32_t seen_ = 0;
};

void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

[[noreturn]] void run_consumer(Transport& t, Shared& s, const Phase& phase, std::size_t bytes, int cpu) {
  pin_to(cpu);
  t.open_consumer();
  const double cpu_start = cpu_seconds_self();
  for (int i = 0; i < phase.frames; ++i) {
    const std::uint64_t stamp = t.receive(bytes);
    const std::uint64_t now = monotonic_ns();
    if (stamp == 0) {
      set_error(s, fmt::format("consumer lost the stream after {} frames", i));
      _exit(1);
    }
    if (i == 0) s.first_ns = now;
    s.last_ns = now;
    s.latency_ns[i] = now - stamp;
    s.received = static_cast<std::uint64_t>(i) + 1;
  }
  s.cpu_seconds = cpu_seconds_self() - cpu_start;
  _exit(0);
}

[[noreturn]] void run_producer(Transport& t, Shared& s, const Phase& phase, std::size_t bytes, int cpu) {
  pin_to(cpu);
  t.open_producer();
  std::vector<std::byte> frame(bytes);
  for (std::size_t i = 0; i < bytes; i += 4096) frame[i] = static_cast<std::byte>(i >> 12);
  // Let the consumer reach its wait before the first frame.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < phase.frames; ++i) {
    if (phase.rate_hz > 0) {
      std::this_thread::sleep_until(start + std::chrono::duration<double>(i / phase.rate_hz));
    }
    const std::uint64_t stamp = monotonic_ns();
    std::memcpy(frame.data(), &stamp, sizeof(stamp));
    if (!t.send(frame.data(), bytes)) {
      set_error(s, fmt::format("producer failed at frame {}: {}", i, std::strerror(errno)));
      _exit(1);
    }
  }
  t.close_producer();
  _exit(0);
}

std::unique_ptr<Transport> make_transport(const std::string& name, const TransportOptions& o, std::size_t bytes,
                                          bus::ConsumerOptions consumer) {
  if (name == "shm") return std::make_unique<ShmTransport>(o, consumer);
  if (name == "file-tmpfs")
    return std::make_unique<FileTransport>(o.shm_dir.empty() ? bus::default_shm_dir() : o.shm_dir, bytes);
  if (name == "file-disk") return std::make_unique<FileTransport>(o.disk_dir.empty() ? "/var/tmp" : o.disk_dir, bytes);
  if (name == "unix-socket") return std::make_unique<StreamTransport>(StreamTransport::Kind::unix_socket, bytes);
  if (name == "pipe") return std::make_unique<StreamTransport>(StreamTransport::Kind::pipe, bytes);
  if (name == "zeromq") return std::make_unique<ZmqTransport>();
  if (name == "bare-futex") return std::make_unique<BareFutexTransport>();
  throw std::invalid_argument("unknown transport " + name);
}

// Runs one phase in two fresh processes; returns the shared results.
bool run_phase(const std::string& name, const TransportOptions& o, const Phase& phase, bus::ConsumerOptions consumer,
               std::pair<int, int> cpus, Shared& s, int& copies) {
  const std::size_t bytes = static_cast<std::size_t>(o.width) * o.height * 3;
  std::memset(&s, 0, sizeof(s));
  auto transport = make_transport(name, o, bytes, consumer);
  copies = transport->copies();
  const pid_t consumer_pid = fork();
  if (consumer_pid == 0) run_consumer(*transport, s, phase, bytes, cpus.second);
  const pid_t producer_pid = fork();
  if (producer_pid == 0) run_producer(*transport, s, phase, bytes, cpus.first);
  int status_c = 0;
  int status_p = 0;
  waitpid(producer_pid, &status_p, 0);
  waitpid(consumer_pid, &status_c, 0);
  return WIFEXITED(status_c) && WEXITSTATUS(status_c) == 0 && WIFEXITED(status_p) && WEXITSTATUS(status_p) == 0;
}

struct Variant {
  std::string transport;
  std::string placement;
  std::pair<int, int> cpus;
  bus::ConsumerOptions consumer;
};

TransportResult run_variant(const Variant& v, const TransportOptions& o, Shared& s) {
  TransportResult r;
  r.transport = v.transport;
  r.placement = v.placement;
  measure_transport(
      r, o, s, [&](const Phase& phase) { return run_phase(v.transport, o, phase, v.consumer, v.cpus, s, r.copies); });
  return r;
}

}  // namespace

std::vector<std::string> transport_names() {
  return {"shm", "file-tmpfs", "file-disk", "unix-socket", "pipe", "zeromq", "bare-futex"};
}

TransportReport run_transport_bench(const TransportOptions& o,
                                    const std::function<void(const TransportResult&)>& progress) {
  TransportReport report = start_report(o);
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("cannot map the results area");
  auto& shared = *static_cast<Shared*>(mem);
  const auto wanted = [&](const std::string& n) {
    return o.only.empty() || std::find(o.only.begin(), o.only.end(), n) != o.only.end();
  };
  std::vector<Variant> variants;
  const std::pair<int, int> unpinned{-1, -1};
  const std::pair<int, int> apart{0, 1};
  for (const auto& name : transport_names()) {
    if (!wanted(name)) continue;
    variants.push_back({name, "unpinned", unpinned, {}});
    if (report.cpus >= 2 && (name == "shm" || name == "unix-socket")) {
      variants.push_back({name, "pinned apart (cpu0 -> cpu1)", apart, {}});
      variants.push_back({name, "pinned together (cpu1 -> cpu1)", {1, 1}, {}});
    }
    if (name == "shm") {
      // Spin long enough to cover the gap between paced frames: pure polling.
      const auto gap = std::chrono::microseconds(static_cast<long>(2e6 / o.rate_hz));
      variants.push_back({name, "spin-before-sleep, pinned apart", report.cpus >= 2 ? apart : unpinned, {gap}});
    }
  }
  for (const auto& v : variants) {
    report.results.push_back(run_variant(v, o, shared));
    if (progress) progress(report.results.back());
  }
  munmap(mem, sizeof(Shared));
  return report;
}

}  // namespace shmyolo::bench

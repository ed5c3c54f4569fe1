// `shmyolo bench transport` on Windows. Windows has no fork: each run starts
// this same program twice more (`shmyolo bench transport-child ...`), a
// consumer and then a producer, which meet by names made from a token: the
// frame bus's ring (made by the parent, so its name lives across both), a
// named pipe, or a folder of files. The producer stamps the time it hands a
// frame over; the consumer notes when it holds a usable frame (a claimed
// slot, or a fully received buffer) and writes the difference into a named
// results mapping the parent reads afterwards.
#include <windows.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>

#include "transport.hpp"
#include "transport_internal.hpp"

namespace shmyolo::bench {
namespace {

using bus::monotonic_ns;

// A named, pagefile-backed mapping of one Shared, closed with its handle.
class SharedMapping {
 public:
  SharedMapping(const std::string& name, bool create) {
    handle_ = create
                  ? CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, sizeof(Shared), name.c_str())
                  : OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, name.c_str());
    if (handle_ == nullptr) throw std::runtime_error("cannot map the results area " + name);
    view_ = static_cast<Shared*>(MapViewOfFile(handle_, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(Shared)));
    if (view_ == nullptr) {
      CloseHandle(handle_);
      throw std::runtime_error("cannot map the results area " + name);
    }
  }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping() {
    UnmapViewOfFile(view_);
    CloseHandle(handle_);
  }
  Shared& get() const { return *view_; }

 private:
  HANDLE handle_ = nullptr;
  Shared* view_ = nullptr;
};

std::string last_error_text() {
  return fmt::format("Windows error {}", GetLastError());
}

double cpu_seconds_self() {
  FILETIME created{};
  FILETIME exited{};
  FILETIME kernel{};
  FILETIME user{};
  GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user);
  const auto ticks = [](FILETIME t) { return (static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime; };
  return static_cast<double>(ticks(kernel) + ticks(user)) / 1e7;  // 100 ns units
}

// What a child needs to find its side of a run.
struct ChildArgs {
  std::string role;  // "producer" or "consumer"
  std::string transport;
  std::string token;  // names the ring, pipe, folder and results of one run
  int frames = 0;
  double rate_hz = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::string dir;  // the file transport's parent folder
  [[nodiscard]] std::size_t bytes() const { return static_cast<std::size_t>(width) * height * 3; }
};

std::string ring_name(const std::string& token) {
  return "shmyolo.bench." + token;
}

std::string results_name(const std::string& token) {
  return "Local\\shmyolo-bench-" + token;
}

std::filesystem::path file_dir(const std::string& parent, const std::string& token) {
  return std::filesystem::path(parent) / ("shmyolo-bench-" + token);
}

class Transport {
 public:
  virtual ~Transport() = default;
  virtual bool send(std::byte* frame, std::size_t bytes) = 0;
  virtual std::uint64_t receive(std::size_t bytes) = 0;                        // the frame's stamp, or 0
  [[nodiscard]] virtual std::string why() const { return last_error_text(); }  // after a 0 from receive
};

// The frame bus: the producer writes straight into the slot.
class ShmTransport final : public Transport {
 public:
  explicit ShmTransport(const ChildArgs& a) {
    auto ring = bus::FrameRing::attach(ring_name(a.token));
    if (!ring) throw std::runtime_error(ring.error().message);
    ring_ = std::make_unique<bus::FrameRing>(std::move(*ring));
    if (a.role == "producer") {
      auto producer = bus::Producer::attach(*ring_);
      if (!producer) throw std::runtime_error(producer.error().message);
      producer_ = std::make_unique<bus::Producer>(std::move(*producer));
    } else {
      consumer_ = std::make_unique<bus::Consumer>(*ring_);
    }
  }
  bool send(std::byte* frame, std::size_t bytes) override { return bus_send(*producer_, frame, bytes); }
  std::uint64_t receive(std::size_t /*bytes*/) override { return bus_receive(*consumer_); }

 private:
  std::unique_ptr<bus::FrameRing> ring_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> consumer_;
};

bool read_full(HANDLE h, std::byte* p, std::size_t n) {
  while (n > 0) {
    DWORD got = 0;
    const auto want = static_cast<DWORD>(std::min<std::size_t>(n, 1U << 30));
    if (ReadFile(h, p, want, &got, nullptr) == 0 || got == 0) return false;
    p += got;
    n -= got;
  }
  return true;
}

bool write_full(HANDLE h, const std::byte* p, std::size_t n) {
  while (n > 0) {
    DWORD put = 0;
    const auto want = static_cast<DWORD>(std::min<std::size_t>(n, 1U << 30));
    if (WriteFile(h, p, want, &put, nullptr) == 0 || put == 0) return false;
    p += put;
    n -= put;
  }
  return true;
}

std::uint64_t stamp_of(const std::vector<std::byte>& frame) {
  std::uint64_t stamp = 0;
  std::memcpy(&stamp, frame.data(), sizeof stamp);
  return stamp;
}

// A named pipe, the usual way between Windows processes: the consumer is
// the server, with a 1 MiB buffer (as the Linux pipe's).
class PipeTransport final : public Transport {
 public:
  explicit PipeTransport(const ChildArgs& a) : buffer_(a.role == "consumer" ? a.bytes() : 0) {
    const std::string name = "\\\\.\\pipe\\shmyolo-bench-" + a.token;
    if (a.role == "consumer") {
      pipe_ =
          CreateNamedPipeA(name.c_str(), PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 0, 1U << 20, 0, nullptr);
      if (pipe_ == INVALID_HANDLE_VALUE) throw std::runtime_error("cannot make the pipe: " + last_error_text());
      if (ConnectNamedPipe(pipe_, nullptr) == 0 && GetLastError() != ERROR_PIPE_CONNECTED) {
        throw std::runtime_error("no producer connected: " + last_error_text());
      }
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((pipe_ = CreateFileA(name.c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr)) ==
           INVALID_HANDLE_VALUE) {
      // The consumer has not made it yet, or it is between connections.
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no pipe: " + last_error_text());
      WaitNamedPipeA(name.c_str(), 100);
    }
  }
  PipeTransport(const PipeTransport&) = delete;
  PipeTransport& operator=(const PipeTransport&) = delete;
  ~PipeTransport() override { CloseHandle(pipe_); }
  bool send(std::byte* frame, std::size_t bytes) override { return write_full(pipe_, frame, bytes); }
  std::uint64_t receive(std::size_t bytes) override {
    return read_full(pipe_, buffer_.data(), bytes) ? stamp_of(buffer_) : 0;
  }

 private:
  std::vector<std::byte> buffer_;
  HANDLE pipe_ = INVALID_HANDLE_VALUE;
};

// "Write a temp file, read it back": write + rename; the reader sleeps on a
// change notification of the folder.
class FileTransport final : public Transport {
 public:
  explicit FileTransport(const ChildArgs& a) : dir_(file_dir(a.dir, a.token)), buffer_(a.bytes()) {
    if (a.role != "consumer") return;
    change_ = FindFirstChangeNotificationA(dir_.string().c_str(), FALSE, FILE_NOTIFY_CHANGE_FILE_NAME);
    if (change_ == INVALID_HANDLE_VALUE) throw std::runtime_error("cannot watch " + dir_.string());
  }
  FileTransport(const FileTransport&) = delete;
  FileTransport& operator=(const FileTransport&) = delete;
  ~FileTransport() override {
    if (change_ != INVALID_HANDLE_VALUE) FindCloseChangeNotification(change_);
  }
  bool send(std::byte* frame, std::size_t bytes) override {
    const auto tmp = dir_ / fmt::format("{}.tmp", counter_);
    const auto done = dir_ / fmt::format("{}.raw", counter_++);
    HANDLE f =
        CreateFileA(tmp.string().c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (f == INVALID_HANDLE_VALUE) return false;
    const bool ok = write_full(f, frame, bytes);
    CloseHandle(f);
    return ok && MoveFileExA(tmp.string().c_str(), done.string().c_str(), MOVEFILE_REPLACE_EXISTING) != 0;
  }
  std::uint64_t receive(std::size_t bytes) override {
    const auto path = dir_ / fmt::format("{}.raw", counter_++);
    // A change after the check leaves the notification signalled: none is missed.
    while (GetFileAttributesA(path.string().c_str()) == INVALID_FILE_ATTRIBUTES) {
      if (WaitForSingleObject(change_, 10000) != WAIT_OBJECT_0) {
        error_ = "no file came in 10 s: " + path.string();
        return 0;
      }
      FindNextChangeNotification(change_);
    }
    // Shared: the writer's handle can outlive its rename for a moment (seen under Wine).
    HANDLE f = CreateFileA(path.string().c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_EXISTING, 0, nullptr);
    if (f == INVALID_HANDLE_VALUE) {
      error_ = fmt::format("cannot open {}: {}", path.string(), last_error_text());
      return 0;
    }
    const bool ok = read_full(f, buffer_.data(), bytes);
    CloseHandle(f);
    DeleteFileA(path.string().c_str());
    return ok ? stamp_of(buffer_) : 0;
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::byte> buffer_;
  HANDLE change_ = INVALID_HANDLE_VALUE;
  std::uint64_t counter_ = 0;
  std::string error_;

 public:
  [[nodiscard]] std::string why() const override { return error_; }
};

int copies_of(const std::string& transport) {
  return transport == "shm" ? 0 : 2;  // a pipe or a file: into the system, out of it
}

std::unique_ptr<Transport> open_transport(const ChildArgs& a) {
  if (a.transport == "shm") return std::make_unique<ShmTransport>(a);
  if (a.transport == "named-pipe") return std::make_unique<PipeTransport>(a);
  if (a.transport == "file-disk") return std::make_unique<FileTransport>(a);
  throw std::invalid_argument("unknown transport " + a.transport);
}

void set_error(Shared& s, const std::string& text) {
  std::snprintf(s.error, sizeof s.error, "%s", text.c_str());
}

int run_consumer(Transport& t, Shared& s, const ChildArgs& a) {
  const double cpu_start = cpu_seconds_self();
  for (int i = 0; i < a.frames; ++i) {
    const std::uint64_t stamp = t.receive(a.bytes());
    const std::uint64_t now = monotonic_ns();
    if (stamp == 0) {
      set_error(s, fmt::format("consumer lost the stream after {} frames: {}", i, t.why()));
      return 1;
    }
    if (i == 0) s.first_ns = now;
    s.last_ns = now;
    s.latency_ns[i] = now - stamp;
    s.received = static_cast<std::uint64_t>(i) + 1;
  }
  s.cpu_seconds = cpu_seconds_self() - cpu_start;
  return 0;
}

int run_producer(Transport& t, Shared& s, const ChildArgs& a) {
  std::vector<std::byte> frame(a.bytes());
  for (std::size_t i = 0; i < frame.size(); i += 4096) frame[i] = static_cast<std::byte>(i >> 12);
  // Let the consumer reach its wait before the first frame.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < a.frames; ++i) {
    if (a.rate_hz > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(i / a.rate_hz));
    const std::uint64_t stamp = monotonic_ns();
    std::memcpy(frame.data(), &stamp, sizeof stamp);
    if (!t.send(frame.data(), frame.size())) {
      set_error(s, fmt::format("producer failed at frame {}: {}", i, last_error_text()));
      return 1;
    }
  }
  return 0;
}

// A child process, ended if still running when this goes.
class Child {
 public:
  explicit Child(std::string command) {
    STARTUPINFOA si{};
    si.cb = sizeof si;
    if (CreateProcessA(nullptr, command.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi_) == 0) {
      throw std::runtime_error("cannot start " + command + ": " + last_error_text());
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    TerminateProcess(pi_.hProcess, 1);  // a no-op for one that exited
    CloseHandle(pi_.hThread);
    CloseHandle(pi_.hProcess);
  }
  bool succeeded(DWORD timeout_ms) const {
    DWORD code = 1;
    return WaitForSingleObject(pi_.hProcess, timeout_ms) == WAIT_OBJECT_0 &&
           GetExitCodeProcess(pi_.hProcess, &code) != 0 && code == 0;
  }

 private:
  PROCESS_INFORMATION pi_{};
};

std::string self_path() {
  std::string path(MAX_PATH, '\0');
  path.resize(GetModuleFileNameA(nullptr, path.data(), MAX_PATH));
  return path;
}

std::string child_command(const ChildArgs& a) {
  return fmt::format("\"{}\" bench transport-child {} {} {} {} {} {} {} \"{}\"", self_path(), a.role, a.transport,
                     a.token, a.frames, a.rate_hz, a.width, a.height, a.dir);
}

// One run in two fresh processes; their results are copied into `s`.
bool run_phase(const std::string& transport, const TransportOptions& o, const Phase& phase, Shared& s,
               const std::string& token) {
  const SharedMapping results(results_name(token), true);  // zero-filled by the system
  const auto parent = o.disk_dir.empty() ? std::filesystem::temp_directory_path() : o.disk_dir;
  std::string folder = parent.string();
  if (folder.ends_with('\\') || folder.ends_with('/')) folder += '.';  // "C:\Temp\" would escape its closing quote
  ChildArgs a{"consumer", transport, token, phase.frames, phase.rate_hz, o.width, o.height, folder};
  // The parent holds the ring, so its name lives across both children.
  const auto ring = transport == "shm" ? create_bench_ring(ring_name(token), o) : nullptr;
  const auto dir = file_dir(a.dir, token);
  if (transport == "file-disk") std::filesystem::create_directories(dir);
  bool ok = false;
  {
    const Child consumer(child_command(a));
    a.role = "producer";
    const Child producer(child_command(a));
    constexpr DWORD kPhaseTimeoutMs = 300'000;
    ok = producer.succeeded(kPhaseTimeoutMs);
    ok = consumer.succeeded(ok ? kPhaseTimeoutMs : 2000) && ok;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  s = results.get();
  return ok;
}

TransportResult run_transport(const std::string& name, const TransportOptions& o, Shared& s, int& phases) {
  TransportResult r;
  r.transport = name;
  r.placement = "unpinned";
  r.copies = copies_of(name);
  measure_transport(r, o, s, [&](const Phase& phase) {
    return run_phase(name, o, phase, s, fmt::format("{}-{}", GetCurrentProcessId(), phases++));
  });
  return r;
}

}  // namespace

std::vector<std::string> transport_names() {
  return {"shm", "named-pipe", "file-disk"};
}

TransportReport run_transport_bench(const TransportOptions& o,
                                    const std::function<void(const TransportResult&)>& progress) {
  TransportReport report = start_report(o);
  int phases = 0;
  const auto results = std::make_unique<Shared>();
  for (const auto& name : transport_names()) {
    if (!o.only.empty() && std::ranges::find(o.only, name) == o.only.end()) continue;
    report.results.push_back(run_transport(name, o, *results, phases));
    if (progress) progress(report.results.back());
  }
  return report;
}

int run_transport_child(const std::vector<std::string>& args) {
  if (args.size() != 8) {
    std::fprintf(stderr, "shmyolo: bench transport-child takes 8 words, got %zu\n", args.size());
    return 2;
  }
  ChildArgs a;
  a.role = args[0];
  a.transport = args[1];
  a.token = args[2];
  a.frames = std::min(std::stoi(args[3]), kMaxFrames);
  a.rate_hz = std::stod(args[4]);
  a.width = static_cast<std::uint32_t>(std::stoul(args[5]));
  a.height = static_cast<std::uint32_t>(std::stoul(args[6]));
  a.dir = args[7];
  try {
    const SharedMapping results(results_name(a.token), false);
    Shared& s = results.get();
    try {
      auto t = open_transport(a);
      return a.role == "consumer" ? run_consumer(*t, s, a) : run_producer(*t, s, a);
    } catch (const std::exception& e) {
      set_error(s, a.role + ": " + e.what());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmyolo: %s\n", e.what());
    return 1;
  }
}

}  // namespace shmyolo::bench

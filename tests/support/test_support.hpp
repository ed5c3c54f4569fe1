// Helpers for tests that run real processes.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace shmyolo::test {

// A fresh directory on /dev/shm's tmpfs for one test's segments, removed after.
class TempShmDir {
 public:
  TempShmDir();
  ~TempShmDir();
  TempShmDir(const TempShmDir&) = delete;
  TempShmDir& operator=(const TempShmDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // The segments (files named shmyolo.*) in the directory.
  [[nodiscard]] std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

// A fresh folder in the temporary directory for one test's files, removed after.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` to the file `name` in the folder; its path.
  std::filesystem::path write(const std::string& name, const std::string& bytes) const;

 private:
  std::filesystem::path path_;
};

struct Spawned {
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of the child's stdout
};

// fork + exec with stdout captured (stderr merged into it). The child gets
// SIGTERM when the test process ends, so nothing outlives a failed test.
Spawned spawn(const std::vector<std::string>& argv);
// Waits for exit; nothing when the timeout passes (the child is then killed).
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);
// Reads what the child wrote so far, until EOF or the timeout.
std::string read_output(int fd, std::chrono::milliseconds timeout);
// Reads until `needle` appears in the output or the timeout passes.
bool read_until(int fd, const std::string& needle, std::chrono::milliseconds timeout, std::string* seen = nullptr);

struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Ends a spawned run as a user's Ctrl-C does (SIGINT), waits up to `timeout`
// for its exit (exit_code -1 when none came) and reads what it wrote since.
RunResult interrupt(const Spawned& process, std::chrono::milliseconds timeout);

// A loopback TCP port that nothing listens on now (the kernel's choice), so
// tests running side by side never pick the same one.
int free_port();
// Waits until something accepts TCP connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

// A real MQTT broker (Debian's mosquitto) on a loopback port, stopped with
// the object; the constructor returns once it accepts connections.
class Broker {
 public:
  explicit Broker(int port);
  // With a mosquitto.conf of the test's (its listener must be `port`): a
  // broker with a password file, TLS, ...
  Broker(int port, const std::filesystem::path& config);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;
  [[nodiscard]] bool ready() const { return ready_; }
  // mosquitto_sub on `topic` (with -v and `extra` arguments), returned once
  // the broker has acknowledged the subscription, so nothing published after
  // this returns is missed. Its output carries mosquitto_sub's debug lines
  // (-d) beside each "topic payload" line.
  [[nodiscard]] Spawned subscribe(const std::string& topic, const std::vector<std::string>& extra = {}) const;

 private:
  int port_;
  Spawned server_;
  bool ready_ = false;
};

// SIGTERM, then waits up to 5 s for the exit.
void stop(const Spawned& process);

std::string shmyolo_bin();
std::string bus_peer_bin();
// The checkout, the build folder and the shared test data (models/, media/).
// Only test_support.cpp is compiled with these paths, so moving the checkout
// recompiles one file, not every test (the compiler cache keys on the flags).
std::string source_dir();
std::string binary_dir();
std::string shared_dir();

}  // namespace shmyolo::test

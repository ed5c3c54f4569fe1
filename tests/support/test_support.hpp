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

struct Spawned {
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of the child's stdout
};

// fork + exec with stdout captured (stderr merged into it).
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

std::string shmyolo_bin();
std::string bus_peer_bin();

}  // namespace shmyolo::test

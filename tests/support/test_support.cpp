#include "test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <random>
#include <thread>

namespace shmyolo::test {

TempShmDir::TempShmDir() {
  std::random_device rd;
  path_ =
      std::filesystem::path("/dev/shm") / ("shmyolo-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempShmDir::~TempShmDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("shmyolo-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& bytes) const {
  std::ofstream(path_ / name, std::ios::binary) << bytes;
  return path_ / name;
}

std::vector<std::string> TempShmDir::entries() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path_)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("shmyolo.")) out.push_back(name);
  }
  return out;
}

Spawned spawn(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child goes with the test: a test that fails an ASSERT before it
    // stops what it spawned (a broker's subscriber, a pipeline) leaves no
    // process behind. SIGTERM, so a pipeline still stops cleanly.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) _exit(127);  // the test died before the line above
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string read_output(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  read_until(fd, std::string(1, '\0'), timeout, &out);
  return out;
}

bool read_until(int fd, const std::string& needle, std::chrono::milliseconds timeout, std::string* seen) {
  std::string buf;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf.find(needle) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  if (seen != nullptr) *seen += buf;
  return buf.find(needle) != std::string::npos;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const Spawned s = spawn(argv);
  RunResult r;
  r.output = read_output(s.stdout_fd, timeout);
  ::close(s.stdout_fd);
  r.exit_code = wait_exit(s.pid, timeout).value_or(-1);
  return r;
}

RunResult interrupt(const Spawned& process, std::chrono::milliseconds timeout) {
  ::kill(process.pid, SIGINT);
  RunResult r;
  r.exit_code = wait_exit(process.pid, timeout).value_or(-1);
  r.output = read_output(process.stdout_fd, std::chrono::seconds(2));
  return r;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) ::close(fd);
  return ok ? ntohs(addr.sin_port) : -1;
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while (true) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool up = fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    if (fd >= 0) ::close(fd);
    if (up) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Broker::Broker(int port) : port_(port) {
  server_ = spawn({"/usr/sbin/mosquitto", "-p", std::to_string(port)});
  ready_ = wait_for_port(port, std::chrono::seconds(10));
}

Broker::Broker(int port, const std::filesystem::path& config) : port_(port) {
  server_ = spawn({"/usr/sbin/mosquitto", "-c", config.string()});
  ready_ = wait_for_port(port, std::chrono::seconds(10));
}

Broker::~Broker() {
  stop(server_);
}

Spawned Broker::subscribe(const std::string& topic, const std::vector<std::string>& extra) const {
  // stdbuf -oL: mosquitto_sub's debug lines are block-buffered into a pipe.
  std::vector<std::string> argv{"/usr/bin/stdbuf",
                                "-oL",
                                "/usr/bin/mosquitto_sub",
                                "-d",
                                "-h",
                                "127.0.0.1",
                                "-p",
                                std::to_string(port_),
                                "-t",
                                topic,
                                "-v"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto sub = spawn(argv);
  // mosquitto_sub -d prints "Subscribed (mid: 1): 0" once the SUBACK is in.
  (void)read_until(sub.stdout_fd, "Subscribed (mid:", std::chrono::seconds(10));
  return sub;
}

void stop(const Spawned& process) {
  ::kill(process.pid, SIGTERM);
  (void)wait_exit(process.pid, std::chrono::seconds(5));
}

std::string shmyolo_bin() {
  return SHMYOLO_BIN;
}
std::string bus_peer_bin() {
  return BUS_PEER_BIN;
}
std::string source_dir() {
  return SHMYOLO_SOURCE_DIR;
}
std::string binary_dir() {
  return SHMYOLO_BINARY_DIR;
}
std::string shared_dir() {
  return SHMYOLO_SHARED_DIR;
}

}  // namespace shmyolo::test

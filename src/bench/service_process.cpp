#include "service_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(120);  // model loads, Python imports

std::string tail_of(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  for (std::size_t n = 0; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

void start(Service& s) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(s.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    for (const auto& [k, v] : s.env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.reserve(s.argv.size() + 1);
    for (auto& a : s.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  s.pid = pid;
}

// Until the service answers an upload with 200, or it exits, or time is up.
bool wait_ready(Service& s, const std::string& body) {
  const auto until = Clock::now() + kStartTimeout;
  while (Clock::now() < until) {
    int status = 0;
    if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
      s.pid = -1;
      s.error = fmt::format("exited at start: {}", tail_of(s.log));
      return false;
    }
    auto c = client_for(s);
    if (const auto r = c.Post("/v1/detect", body, "image/jpeg"); r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  s.error = fmt::format("did not answer within {} s: {}", kStartTimeout.count(), tail_of(s.log));
  return false;
}

void stop(Service& s) {
  if (s.pid <= 0) return;
  ::kill(s.pid, SIGTERM);
  const auto until = Clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(s.pid, &status, WNOHANG) == 0) {
    if (Clock::now() > until) {
      ::kill(s.pid, SIGKILL);
      (void)::waitpid(s.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  s.pid = -1;
}

httplib::Client client_for(const Service& s) {
  httplib::Client c(fmt::format("{}://127.0.0.1:{}", s.ca_file.empty() ? "http" : "https", s.port));
  if (!s.ca_file.empty()) {
    c.set_ca_cert_path(s.ca_file);
    c.enable_server_certificate_verification(true);
  }
  if (!s.token.empty()) c.set_bearer_token_auth(s.token);
  c.set_read_timeout(60, 0);
  return c;
}

}  // namespace shmyolo::bench

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include <shmyolo/detect/detector.hpp>

#include "context.hpp"

namespace shmyolo::pipeline {
namespace {

struct FixedFacts {  // the part of ModelFacts that crosses the pipe as bytes
  int input_width;
  int input_height;
  int dynamic_batch;
  detect::Preprocessing preprocessing;
};

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  return out;
}

[[noreturn]] void probe_child(const config::ModelConfig& model, int fd) {
  auto d = detect::Detector::open(model.options);
  if (!d) {
    std::fprintf(stderr, "shmyolo: %s\n", d.error().message.c_str());
    _exit(1);
  }
  const auto& info = d->info();
  const FixedFacts fixed{info.input_width, info.input_height, info.dynamic_batch ? 1 : 0, info.preprocessing};
  std::string names;
  for (const auto& n : info.names) names += n + '\n';
  _exit(write_all(fd, &fixed, sizeof fixed) && write_all(fd, names.data(), names.size()) ? 0 : 1);
}

}  // namespace

std::optional<ModelFacts> probe_model(const config::ModelConfig& model) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    close(fds[0]);
    probe_child(model, fds[1]);
  }
  close(fds[1]);
  const std::string bytes = read_all(fds[0]);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes.size() < sizeof(FixedFacts)) return std::nullopt;
  FixedFacts fixed{};
  std::memcpy(&fixed, bytes.data(), sizeof fixed);
  ModelFacts facts{fixed.input_width, fixed.input_height, fixed.dynamic_batch != 0, fixed.preprocessing, {}};
  std::istringstream names(bytes.substr(sizeof fixed));
  for (std::string line; std::getline(names, line);) facts.names.push_back(line);
  return facts;
}

}  // namespace shmyolo::pipeline

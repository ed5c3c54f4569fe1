// A running `shmyolo serve` for tests over real HTTP, and helpers to upload
// to it and read its answers.
#pragma once

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace shmyolo::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A running `shmyolo serve` on a free port, stopped (SIGTERM) at the end.
class Service {
 public:
  explicit Service(std::vector<std::string> args) {
    std::vector<std::string> argv{shmyolo_bin(), "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = spawn(argv);
    std::string seen;
    if (!read_until(process_.stdout_fd, "GET /metrics)", std::chrono::seconds(120), &seen)) {
      ADD_FAILURE() << "the service did not start: " << seen;
      return;
    }
    const auto at = seen.find("serving on ");
    const auto colon = seen.find(':', at);
    if (at != std::string::npos && colon != std::string::npos) port_ = std::atoi(seen.c_str() + colon + 1);
    output_ = seen;
    // Ready once a worker has loaded the model.
    for (int i = 0; i < 600; ++i) {
      const auto health = client().Get("/healthz");
      if (health && health->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the service never answered /healthz with 200";
  }
  ~Service() { (void)stop(); }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  [[nodiscard]] httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return process_.pid; }
  // SIGTERM; the exit code and everything it printed.
  std::pair<int, std::string> stop() {
    if (process_.pid <= 0) return {-1, output_};
    ::kill(process_.pid, SIGTERM);
    const auto code = wait_exit(process_.pid, std::chrono::seconds(60));
    output_ += read_output(process_.stdout_fd, std::chrono::seconds(1));
    process_.pid = -1;
    return {code.value_or(-1), output_};
  }

 private:
  Spawned process_;
  int port_ = 0;
  std::string output_;
};

inline nlohmann::json post_image(httplib::Client& c, const std::string& bytes, const std::string& type = "image/jpeg",
                                 const std::string& query = "", int* status = nullptr) {
  auto r = c.Post("/v1/detect" + query, bytes, type);
  if (!r) {
    ADD_FAILURE() << "no answer: " << httplib::to_string(r.error());
    return {};
  }
  if (status != nullptr) *status = r->status;
  return nlohmann::json::parse(r->body, nullptr, false);
}

inline std::multiset<std::string> classes_of(const nlohmann::json& detections) {
  std::multiset<std::string> out;
  for (const auto& d : detections) out.insert(d["class"].get<std::string>());
  return out;
}

}  // namespace shmyolo::test

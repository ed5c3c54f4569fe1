// shmyolo's HTTP face: routes, request limits and JSON errors, on
// cpp-httplib. It knows nothing of frames or workers: a Service (the
// pipeline's front, src/pipeline/http_front.cpp) answers each route.
//
//   GET  /                              the live dashboard (one HTML page, built into the binary)
//   POST /v1/detect                     image/jpeg, image/png or multipart/form-data (field "image", or the
//                                       first file)
//   GET  /v1/cameras                    live per-camera statistics
//   GET  /v1/cameras/{name}/latest.jpg  the newest frame whose detections are known, boxes drawn
//   GET  /v1/events[?camera=NAME]       Server-Sent Events: one "detections" event per camera frame
//   GET  /healthz                       200 while workers are ready, else 503
//   GET  /metrics                       Prometheus text format
//   POST /v1/login, /v1/logout          with http.auth tokens: set or clear the dashboard's token cookie
//
// Every error is a JSON object {"error": "...", "status": N}, one line that
// says what was wrong and what to do; the server keeps serving.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <shmyolo/http/auth.hpp>

namespace shmyolo::http {

struct Upload {
  std::span<const std::uint8_t> bytes;
  std::string name;                           // the multipart file name, or "upload"
  std::map<std::string, std::string> params;  // the query string: conf, iou, classes
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// A JSON error reply: {"error": message, "status": status}.
[[nodiscard]] Reply error_reply(int status, const std::string& message);

// The dashboard page served at "/" (src/http/dashboard.html) and its script
// at "/dashboard.js" (src/http/dashboard.js).
[[nodiscard]] std::string_view dashboard_html();
[[nodiscard]] std::string_view dashboard_js();

// One client's Server-Sent Events stream.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // The next event in wire format ("event: ...\ndata: ...\n\n"), "" when
  // none came within `wait`, nothing once the stream has ended.
  virtual std::optional<std::string> next(std::chrono::milliseconds wait) = 0;
};

class Service {
 public:
  virtual ~Service() = default;
  virtual Reply detect(const Upload& upload) = 0;
  virtual Reply cameras() = 0;
  virtual Reply camera_frame(const std::string& name) = 0;
  // Active tracks (?camera=NAME for one camera).
  virtual Reply tracks(const std::map<std::string, std::string>& params) = 0;
  // The JPEG of an event's track, by event id.
  virtual Reply snapshot(const std::string& id) = 0;
  // A new stream, or the error reply that refuses it.
  virtual std::expected<std::unique_ptr<EventStream>, Reply> events(
      const std::map<std::string, std::string>& params) = 0;
  virtual Reply health() = 0;
  virtual Reply metrics() = 0;
  // Every answered request's final status, errors the server gave itself included.
  virtual void replied(int status) = 0;
};

struct ServerOptions {
  std::string bind = "127.0.0.1";
  // Set: every route but /healthz and the dashboard page needs a token
  // (Authorization: Bearer, or the cookie POST /v1/login sets).
  std::shared_ptr<const TokenStore> tokens;
  // Both set: HTTPS only (TLS 1.2 or newer), with this PEM certificate chain and key.
  std::string tls_cert;
  std::string tls_key;
  int port = 8080;
  int threads = 8;  // requests served at once
  std::uint64_t max_body_bytes = 20ULL << 20;
  double read_timeout_s = 5;
  // A request's head (request line and headers) must arrive within this;
  // until it has, the connection holds no thread (src/http/gate.hpp).
  double header_timeout_s = 10;
  // From a request's first byte until it is read whole (its body too): past
  // it the connection is shut down, so no thread waits on a slow sender.
  double request_timeout_s = 60;
  int max_connections = 256;  // open at once, waiting and served; past it the longest-waiting goes
};

// Loads the certificate chain and key as the server would; the error names
// the file and what OpenSSL said.
[[nodiscard]] std::expected<void, std::string> check_tls_files(const std::string& cert, const std::string& key);

class Server {
 public:
  // Binds and starts serving on its own threads; an error names the address.
  static std::expected<std::unique_ptr<Server>, std::string> start(Service& service, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  void stop();
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmyolo::http

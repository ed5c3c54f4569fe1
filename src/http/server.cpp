#include <shmyolo/http/server.hpp>

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace shmyolo::http {
namespace {

const char* reason(int status) {
  switch (status) {
    case 400: return "the request is malformed, or its body stopped coming (http.read_timeout)";
    case 404:
      return "no such route: see GET / (dashboard), POST /v1/detect, GET /v1/cameras, GET /v1/events, GET /healthz, "
             "GET /metrics";
    case 405: return "this route does not take that method";
    case 408: return "the request came too slowly and was dropped";
    case 413: return "the body is over the size limit (http.max_body_mb)";
    case 414: return "the address is too long";
    default: return "the request failed";
  }
}

void send(httplib::Response& res, const Reply& r) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  res.set_content(r.body, r.content_type);
}

std::string media_type(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Reply detect(Service& service, const httplib::Request& req) {
  Upload upload;
  upload.name = "upload";
  for (const auto& [k, v] : req.params) upload.params[k] = v;
  const std::string type = media_type(req);
  if (type == "multipart/form-data") {
    // The field named "image", else the first part that is a file (has a
    // filename); text fields alone are a form without a file.
    auto it = req.files.find("image");
    if (it == req.files.end()) {
      it = std::find_if(req.files.begin(), req.files.end(), [](const auto& f) { return !f.second.filename.empty(); });
    }
    if (it == req.files.end()) {
      return error_reply(400, "the form has no file: send the image as a field named \"image\"");
    }
    upload.bytes = bytes_of(it->second.content);
    if (!it->second.filename.empty()) upload.name = it->second.filename;
  } else if (type == "image/jpeg" || type == "image/png") {
    upload.bytes = bytes_of(req.body);
  } else {
    return error_reply(415, fmt::format("content type \"{}\" is not accepted: send image/jpeg, image/png or "
                                        "multipart/form-data",
                                        type.empty() ? "(none)" : type));
  }
  if (upload.bytes.empty()) return error_reply(400, "the body is empty: send the image's bytes");
  return service.detect(upload);
}

// Keep-alive comments at this interval stop proxies from closing a quiet stream.
constexpr auto kEventKeepAlive = std::chrono::seconds(15);
// How long one wait for an event lasts, so a stopping server is noticed soon.
constexpr auto kEventPoll = std::chrono::milliseconds(250);

void stream_events(const std::shared_ptr<EventStream>& stream, const httplib::Server& server, httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");  // nginx in front: pass events on at once
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream, &server, quiet = std::chrono::steady_clock::duration{}](std::size_t, httplib::DataSink& sink) mutable {
        if (!server.is_running()) return false;
        const auto event = stream->next(std::chrono::duration_cast<std::chrono::milliseconds>(kEventPoll));
        if (!event) {
          sink.done();
          return true;
        }
        if (event->empty()) {
          quiet += kEventPoll;
          if (quiet < kEventKeepAlive) return sink.is_writable();
          quiet = {};
          static constexpr std::string_view kComment = ": keep-alive\n\n";
          return sink.write(kComment.data(), kComment.size());
        }
        quiet = {};
        return sink.write(event->data(), event->size());
      });
}

// A known path asked with a method it does not take: 405 with the methods it
// does take (RFC 9110, 15.5.6), not the 404 of an unknown path.
void refuse_other_methods(httplib::Server& s) {
  const auto refuse = [](const char* allow) {
    return [allow](const httplib::Request&, httplib::Response& res) {
      send(res, error_reply(405, fmt::format("this route does not take that method (it takes {})", allow)));
      res.set_header("Allow", allow);
    };
  };
  const char* get_routes = R"(/|/v1/cameras|/v1/cameras/[^/]+/latest\.jpg|/v1/events|/healthz|/metrics)";
  s.Post(get_routes, refuse("GET"));
  s.Get("/v1/detect", refuse("POST"));
  for (const char* path : {get_routes, "/v1/detect"}) {
    const char* allow = path == get_routes ? "GET" : "POST";
    s.Put(path, refuse(allow));
    s.Patch(path, refuse(allow));
    s.Delete(path, refuse(allow));
  }
}

}  // namespace

Reply error_reply(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = nlohmann::json{{"error", message}, {"status", status}}.dump() + "\n";
  return r;
}

struct Server::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::port() const {
  return impl_->port;
}

std::expected<std::unique_ptr<Server>, std::string> Server::start(Service& service, const ServerOptions& o) {
  auto impl = std::make_unique<Impl>();
  auto& s = impl->server;
  const int threads = o.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_payload_max_length(o.max_body_bytes);
  const auto timeout_us = static_cast<long long>(o.read_timeout_s * 1e6);
  s.set_read_timeout(static_cast<time_t>(timeout_us / 1'000'000), static_cast<time_t>(timeout_us % 1'000'000));
  s.set_keep_alive_max_count(1000);
  s.Post("/v1/detect",
         [&service](const httplib::Request& req, httplib::Response& res) { send(res, detect(service, req)); });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
  });
  s.Get("/v1/cameras", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.cameras()); });
  s.Get(R"(/v1/cameras/([^/]+)/latest\.jpg)", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.camera_frame(req.matches[1].str()));
  });
  s.Get("/v1/events", [&service, &s](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> params(req.params.begin(), req.params.end());
    auto stream = service.events(params);
    if (!stream) return send(res, stream.error());
    stream_events(std::shared_ptr<EventStream>(std::move(*stream)), s, res);
  });
  s.Get("/healthz", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.health()); });
  s.Get("/metrics", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.metrics()); });
  refuse_other_methods(s);
  s.set_logger([&service](const httplib::Request&, const httplib::Response& res) { service.replied(res.status); });
  // Errors the library answers itself (413, 404, ...) get the same JSON shape as ours.
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send(res, error_reply(res.status, reason(res.status)));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr& e) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    send(res, error_reply(500, "internal error (" + what + "); the service goes on"));
  });
  impl->port = o.port == 0 ? s.bind_to_any_port(o.bind) : (s.bind_to_port(o.bind, o.port) ? o.port : -1);
  if (impl->port <= 0) {
    return std::unexpected(fmt::format("cannot listen on {}:{} ({}): is another service on that port? set http.port",
                                       o.bind, o.port, std::strerror(errno)));
  }
  impl->thread = std::thread([&s] { s.listen_after_bind(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace shmyolo::http

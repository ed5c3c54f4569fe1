#include <shmyolo/http/server.hpp>

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gate.hpp"

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

void stream_events(const std::shared_ptr<EventStream>& stream, const Gate& gate, httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");  // nginx in front: pass events on at once
  res.set_chunked_content_provider("text/event-stream", [stream, &gate, quiet = std::chrono::steady_clock::duration{}](
                                                            std::size_t, httplib::DataSink& sink) mutable {
    if (!gate.running()) return false;
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
  const char* get_routes = R"(/|/dashboard\.js|/v1/cameras|/v1/cameras/[^/]+/latest\.jpg|/v1/events|/healthz|/metrics)";
  s.Post(get_routes, refuse("GET"));
  s.Get("/v1/detect", refuse("POST"));
  for (const char* path : {get_routes, "/v1/detect"}) {
    const char* allow = path == get_routes ? "GET" : "POST";
    s.Put(path, refuse(allow));
    s.Patch(path, refuse(allow));
    s.Delete(path, refuse(allow));
  }
}

constexpr std::string_view kCookie = "shmyolo_token";

// The dashboard runs only its own script (no inline script, so an injected
// tag cannot run), loads only from this service (blob: for the upload's
// preview), and may not be framed by another site (clickjacking).
void set_page_headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob:; "
                 "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
}

// What OpenSSL says went wrong last, in one line.
std::string openssl_error() {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  return text.data();
}

// The server's TLS: the PEM chain and key, TLS 1.2 or newer only (older
// versions have known attacks and no browser needs them).
bool load_tls(SSL_CTX& ctx, const std::string& cert, const std::string& key, std::string& error) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1) {
    error = fmt::format("http.tls.cert: cannot use {} ({}): give a PEM certificate chain", cert, openssl_error());
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(&ctx) != 1) {
    error = fmt::format("http.tls.key: cannot use {} with the certificate ({}): give its PEM private key", key,
                        openssl_error());
    return false;
  }
  return true;
}

// The token a request presents: Authorization: Bearer, else the cookie.
std::string presented_token(const httplib::Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (auth.starts_with("Bearer ")) return auth.substr(7);
  const std::string cookies = req.get_header_value("Cookie");
  for (std::size_t at = 0; at < cookies.size();) {
    const auto end = std::min(cookies.find(';', at), cookies.size());
    std::string_view pair = std::string_view(cookies).substr(at, end - at);
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    if (pair.starts_with(kCookie) && pair.size() > kCookie.size() && pair[kCookie.size()] == '=') {
      return std::string(pair.substr(kCookie.size() + 1));
    }
    at = end + 1;
  }
  return {};
}

struct Guard {
  std::shared_ptr<const TokenStore> tokens;
  bool secure_cookie = false;  // under TLS: never sent over plain HTTP
  FailureLimiter failures;

  // Checks a token against the store; a wrong one counts against the
  // address. Refusals are answered here: 429 while the address is blocked,
  // else 401. Nothing of the token is logged or echoed.
  bool admit(const std::string& token, Scope need, const httplib::Request& req, httplib::Response& res) {
    const auto now = FailureLimiter::Clock::now();
    if (failures.blocked(req.remote_addr, now)) {
      res.set_header("Retry-After", "60");
      send(res, error_reply(429, "too many wrong tokens from this address: try again in a minute"));
      return false;
    }
    const Verdict verdict = tokens->check(token, need);
    if (verdict == Verdict::admitted) return true;
    if (verdict == Verdict::forbidden) {
      send(res, error_reply(403, "this token opens /metrics only (a metrics token)"));
      return false;
    }
    if (!token.empty()) failures.failed(req.remote_addr, now);
    res.set_header("WWW-Authenticate", "Bearer");
    send(res, error_reply(401, token.empty() ? "this route needs a token: send Authorization: Bearer TOKEN "
                                               "(shmyolo token new makes one for http.auth.tokens_file)"
                                             : "that token is not in http.auth.tokens_file"));
    return false;
  }
};

// With tokens configured, every route needs one, except /healthz (probes),
// the dashboard page (static: it holds no data and asks for the token) and
// the login route (it checks the token itself).
httplib::Server::HandlerResponse check_token(Guard& guard, const httplib::Request& req, httplib::Response& res) {
  using Handled = httplib::Server::HandlerResponse;
  if (req.path == "/healthz" || req.path == "/" || req.path == "/dashboard.js" || req.path == "/v1/login" ||
      req.path == "/v1/logout") {
    return Handled::Unhandled;
  }
  const Scope need = req.path == "/metrics" ? Scope::metrics : Scope::all;
  return guard.admit(presented_token(req), need, req, res) ? Handled::Unhandled : Handled::Handled;
}

void add_login_routes(httplib::Server& s, Guard& guard) {
  // The dashboard's login: the token as the body; a good one comes back as a
  // cookie the page's script cannot read (HttpOnly) and no other site can
  // send (SameSite=Strict), so images and the event stream carry it.
  s.Post("/v1/login", [&guard](const httplib::Request& req, httplib::Response& res) {
    const char* secure = guard.secure_cookie ? "; Secure" : "";
    std::string token = req.body;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (!guard.admit(token, Scope::all, req, res)) return;
    res.status = 204;
    res.set_header("Set-Cookie", fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict{}", kCookie, token, secure));
  });
  s.Post("/v1/logout", [](const httplib::Request&, httplib::Response& res) {
    res.status = 204;
    res.set_header("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", kCookie));
  });
}

}  // namespace

Reply error_reply(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = nlohmann::json{{"error", message}, {"status", status}}.dump() + "\n";
  return r;
}

struct Server::Impl {
  Guard guard;  // before server: its handlers refer to it
  std::unique_ptr<httplib::Server> owned;
  httplib::Server& server;
  explicit Impl(std::unique_ptr<httplib::Server> s) : owned(std::move(s)), server(*owned) {}
  std::unique_ptr<Gate> gate;  // accepts the connections and runs them on its threads
  int port = 0;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (!impl_) return;
  if (impl_->gate) impl_->gate->stop();
}

int Server::port() const {
  return impl_->port;
}

std::expected<void, std::string> check_tls_files(const std::string& cert, const std::string& key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return std::unexpected(std::string("http.tls: OpenSSL could not start"));
  std::string error;
  load_tls(*ctx, cert, key, error);
  SSL_CTX_free(ctx);
  if (!error.empty()) return std::unexpected(error);
  return {};
}

std::expected<std::unique_ptr<Server>, std::string> Server::start(Service& service, const ServerOptions& o) {
  const bool tls = !o.tls_cert.empty();
  std::string tls_error;
  std::unique_ptr<httplib::Server> server;
  if (tls) {
    server = std::make_unique<httplib::SSLServer>(
        [&](SSL_CTX& ctx) { return load_tls(ctx, o.tls_cert, o.tls_key, tls_error); });
    if (!server->is_valid())
      return std::unexpected(tls_error.empty() ? "http.tls: OpenSSL could not start" : tls_error);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  auto impl = std::make_unique<Impl>(std::move(server));
  impl->guard.secure_cookie = tls;
  auto& s = impl->server;
  // An address may have this many connections still sending their request
  // heads; past it its longest-waiting one goes (a browser opens at most 6
  // per host).
  constexpr std::size_t kWaitingPerAddress = 32;
  s.set_payload_max_length(o.max_body_bytes);
  const auto timeout_us = static_cast<long long>(o.read_timeout_s * 1e6);
  s.set_read_timeout(static_cast<time_t>(timeout_us / 1'000'000), static_cast<time_t>(timeout_us % 1'000'000));
  // Plain HTTP: one request per connection. A kept-alive connection would
  // wait on a request thread for its next request, and read that one's head
  // there, where the gate cannot time it; each request passes the gate
  // instead. HTTPS: the gate cannot read heads anyway, and a TLS handshake
  // per request would cost more than the idle wait, so connections are kept
  // for up to 100 requests, 2 s idle at most (docs/http.md#connections).
  s.set_keep_alive_max_count(tls ? 100 : 1);
  if (tls) s.set_keep_alive_timeout(2);
  if (o.tokens) {
    impl->guard.tokens = o.tokens;
    add_login_routes(s, impl->guard);
  }
  // Runs once a request's head is read. A request without a body is then
  // read whole: its deadline (http.request_timeout) ends here; an upload's
  // ends as its handler starts, the body read.
  s.set_pre_routing_handler([self = impl.get()](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH")
      self->gate->request_read(req.remote_addr, req.remote_port);
    if (!self->guard.tokens) return httplib::Server::HandlerResponse::Unhandled;
    return check_token(self->guard, req, res);
  });
  s.Post("/v1/detect", [&service, self = impl.get()](const httplib::Request& req, httplib::Response& res) {
    self->gate->request_read(req.remote_addr, req.remote_port);
    send(res, detect(service, req));
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
  });
  s.Get("/dashboard.js", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(std::string(dashboard_js()), "text/javascript; charset=utf-8");
  });
  s.Get("/v1/cameras", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.cameras()); });
  s.Get(R"(/v1/cameras/([^/]+)/latest\.jpg)", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.camera_frame(req.matches[1].str()));
  });
  s.Get("/v1/events", [&service, self = impl.get()](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> params(req.params.begin(), req.params.end());
    auto stream = service.events(params);
    if (!stream) return send(res, stream.error());
    stream_events(std::shared_ptr<EventStream>(std::move(*stream)), *self->gate, res);
  });
  s.Get(R"(/v1/events/([^/]+)/snapshot\.jpg)", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.snapshot(req.matches[1].str()));
  });
  s.Get("/v1/tracks", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.tracks(std::map<std::string, std::string>(req.params.begin(), req.params.end())));
  });
  s.Get("/healthz", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.health()); });
  s.Get("/metrics", [&service](const httplib::Request&, httplib::Response& res) { send(res, service.metrics()); });
  refuse_other_methods(s);
  s.set_logger([&service, self = impl.get()](const httplib::Request& req, const httplib::Response& res) {
    service.replied(res.status);
    self->gate->answered(req.remote_addr, req.remote_port);
  });
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
  impl->gate = std::make_unique<Gate>(
      s, GateOptions{.threads = static_cast<std::size_t>(o.threads),
                     .head_timeout = std::chrono::milliseconds(static_cast<long long>(o.header_timeout_s * 1e3)),
                     .request_timeout = std::chrono::milliseconds(static_cast<long long>(o.request_timeout_s * 1e3)),
                     .max_connections = static_cast<std::size_t>(o.max_connections),
                     .max_waiting_per_address = kWaitingPerAddress,
                     .tls = tls,
                     .read_timeout = std::chrono::microseconds(timeout_us)});
  impl->gate->start();  // after the store: the event route reads impl->gate
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace shmyolo::http

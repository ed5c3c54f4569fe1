#include "preflight.hpp"

#include <arpa/inet.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/http/auth.hpp>
#include <shmyolo/http/server.hpp>

namespace shmyolo::pipeline {
namespace {

constexpr std::uint64_t kMiB = 1ULL << 20;

bool check_space(const ShmPlan& plan) {
  const auto space = bus::shm_space(plan.dir);
  if (!space) {
    std::fprintf(stderr, "shmyolo: shared-memory folder %s does not exist: create it or set shm_dir (or --shm-dir)\n",
                 plan.dir.c_str());
    return false;
  }
  const std::uint64_t free_bytes = space->free_bytes;
  if (free_bytes >= plan.total_bytes) return true;
  if (space->huge_pages) {
    std::fprintf(stderr, "shmyolo: shared-memory folder %s: %s\n", plan.dir.c_str(),
                 bus::huge_page_advice(plan.total_bytes, *space).c_str());
    return false;
  }
  const std::uint64_t mib = plan.recommended_bytes / kMiB;
  std::string need = fmt::format("{:.1f} MiB", static_cast<double>(plan.total_bytes) / kMiB);
  std::string have = fmt::format("{:.1f} MiB", static_cast<double>(free_bytes) / kMiB);
  if (need == have) {  // "needs 5.7 MiB but only 5.7 MiB are free" says nothing: give the bytes
    need = fmt::format("{} bytes", plan.total_bytes);
    have = fmt::format("{} bytes", free_bytes);
  }
  std::fprintf(stderr,
               "shmyolo: this pipeline needs %s in %s but only %s are free: enlarge it (docker run "
               "--shm-size=%llum, compose shm_size: %llum, Kubernetes emptyDir sizeLimit: %lluMi) or point shm_dir "
               "(--shm-dir) at a larger tmpfs\n",
               need.c_str(), plan.dir.c_str(), have.c_str(), static_cast<unsigned long long>(mib),
               static_cast<unsigned long long>(mib), static_cast<unsigned long long>(mib));
  return false;
}

// Whether a missing file (parents false: its folder must exist, as fopen
// needs) or folder (parents true: made with the folders above it) could be
// made: the nearest folder above it that may exist takes new entries.
bool could_make(const std::filesystem::path& path, bool parents) {
  std::error_code ec;
  std::filesystem::path above = std::filesystem::absolute(path, ec).parent_path();
  while (parents && !std::filesystem::exists(above, ec) && above != above.parent_path()) above = above.parent_path();
  return std::filesystem::is_directory(above, ec) && ::access(above.c_str(), W_OK) == 0;
}

// The JSON Lines file is opened by the aggregator after the fork; one it
// cannot open is refused here, at start, in one line, rather than by an
// aggregator restarting in a loop while the queues stall.
bool check_output_file(const config::PipelineConfig& config, const std::string& file, const char* key, bool create) {
  if (file.empty() || file == "-") return true;
  // An existing file must be a plain file on a real file system: a FIFO
  // would block the open, /proc and /sys files take no lines.
  struct stat st {};
  struct statfs fs {};
  const bool exists = ::stat(file.c_str(), &st) == 0;
  const bool pseudo =
      exists && ::statfs(file.c_str(), &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC);
  if (exists && (!S_ISREG(st.st_mode) || pseudo)) {
    std::fprintf(stderr, "shmyolo: %s: %s: %s is %s, not a file shmyolo can append lines to; name a file\n",
                 config.file.string().c_str(), key, file.c_str(), S_ISDIR(st.st_mode) ? "a folder" : "a special file");
    return false;
  }
  if (!create && !exists) {
    if (could_make(file, false)) return true;
    std::error_code ec;
    errno = std::filesystem::is_directory(std::filesystem::path(file).parent_path(), ec) ? EACCES : ENOENT;
  }
  std::FILE* f = create || exists ? std::fopen(file.c_str(), "a") : nullptr;  // creates it, as the aggregator would
  if (f == nullptr) {
    std::fprintf(stderr, "shmyolo: %s: %s: cannot write %s (%s): check the folder exists and is writable\n",
                 config.file.string().c_str(), key, file.c_str(), std::strerror(errno));
    return false;
  }
  std::fclose(f);
  return true;
}

// The snapshots' folder is made now if it is missing, as the aggregator would.
bool check_snapshot_dir(const config::PipelineConfig& config, bool create) {
  if (!config.outputs.snapshots) return true;
  const auto& dir = config.outputs.snapshots->dir;
  std::error_code ec;
  if (!create && !std::filesystem::exists(dir, ec) && could_make(dir, true)) return true;
  if (create) std::filesystem::create_directories(dir, ec);
  if (!ec && std::filesystem::is_directory(dir, ec) && ::access(dir.c_str(), W_OK) == 0) return true;
  std::fprintf(stderr,
               "shmyolo: %s: outputs.snapshots.dir: cannot write in %s (%s): name a folder shmyolo may write in\n",
               config.file.string().c_str(), dir.c_str(), ec ? ec.message().c_str() : std::strerror(errno));
  return false;
}

bool check_outputs(const config::PipelineConfig& config, bool create) {
  return check_output_file(config, config.outputs.jsonl, "outputs.jsonl", create) &&
         check_output_file(config, config.outputs.events, "outputs.events", create) &&
         check_snapshot_dir(config, create);
}

// The HTTP port is taken by the aggregator after the fork; a port already in
// use is refused here, at start, in one line, rather than by an aggregator
// restarting in a loop.
// Whether a TCP port can be bound now, as the server itself binds it; errno when not.
int bind_error(const std::string& bind, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  (void)::inet_pton(AF_INET, bind.c_str(), &addr.sin_addr);  // an IPv4 address: config::validate checked it
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  const int err = errno;
  ::close(fd);
  return bound ? 0 : err;
}

bool check_port(const config::PipelineConfig& config) {
  if (config.http && config.http->port != 0) {
    const auto& h = *config.http;
    if (const int err = bind_error(h.bind, h.port); err != 0) {
      std::fprintf(stderr, "shmyolo: http: cannot listen on %s:%d (%s): stop what uses it or set http.port (--port)\n",
                   h.bind.c_str(), h.port, std::strerror(err));
      return false;
    }
  }
  if (const std::optional<config::ModbusConfig> m = config.outputs.modbus; m.has_value()) {
    if (const int err = bind_error(m->bind, m->port); err != 0) {
      std::fprintf(stderr,
                   "shmyolo: modbus: cannot listen on %s:%d (%s): stop what uses it or set outputs.modbus.port%s\n",
                   m->bind.c_str(), m->port, std::strerror(err),
                   err == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
      return false;
    }
  }
  return true;
}

// The API hands out every camera's frames and runs uploads: beyond this host
// only when the config says so. 127.0.0.0/8 is loopback (RFC 1122 3.2.1.3).
bool check_exposure(const config::PipelineConfig& config) {
  if (!config.http) return true;
  const auto& h = *config.http;
  if (!h.tls_cert.empty()) {  // read now, so a bad file is said at start and not by a restarting aggregator
    const auto tls = http::check_tls_files(h.tls_cert.string(), h.tls_key.string());
    if (!tls) {
      std::fprintf(stderr, "shmyolo: %s\n", tls.error().c_str());
      return false;
    }
  }
  in_addr addr{};
  const bool loopback = ::inet_pton(AF_INET, h.bind.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
  if (!h.tokens_file.empty()) {  // read now, so a bad file is said at start and not by a restarting aggregator
    const auto tokens = http::TokenStore::load(h.tokens_file);
    if (!tokens) std::fprintf(stderr, "shmyolo: %s\n", tokens.error().c_str());
    return tokens.has_value();
  }
  if (loopback) return true;
  if (!h.no_auth) {
    std::fprintf(stderr,
                 "shmyolo: %s: http.bind: %s would let anyone who can reach this host see every camera and run "
                 "uploads, with no authentication: add http.auth: {tokens_file: FILE} (shmyolo token new), keep the "
                 "default 127.0.0.1, or add http.auth: none (--auth none) to accept that\n",
                 config.file.empty() ? "serve" : config.file.string().c_str(), h.bind.c_str());
    return false;
  }
  std::fprintf(stderr,
               "shmyolo: warning: http on %s:%d without authentication (http.auth: none): anyone who can reach it "
               "sees every camera\n",
               h.bind.c_str(), h.port);
  return true;
}

}  // namespace

bool check_classes(const config::PipelineConfig& config, const ModelFacts& model) {
  const auto refuse = [&](const std::string& key, const std::string& message) {
    std::fprintf(stderr, "shmyolo: %s: %s: %s (see shmyolo models inspect %s)\n", config.file.string().c_str(),
                 key.c_str(), message.c_str(), config.model.options.path.string().c_str());
    return false;
  };
  if (const auto ids = detect::class_ids(model.names, config.model.classes); !ids)
    return refuse("model.classes", ids.error().message);
  if (const std::optional<config::ModbusConfig> m = config.outputs.modbus; m.has_value()) {
    if (const auto ids = detect::class_ids(model.names, m->classes); !ids)
      return refuse("outputs.modbus.classes", ids.error().message);
    for (std::size_t a = 0; a < m->alarms.size(); ++a) {
      if (const auto ids = detect::class_ids(model.names, m->alarms[a].classes); !ids)
        return refuse(fmt::format("outputs.modbus.alarms[{}].classes", a), ids.error().message);
    }
  }
  // Zones and lines name the classes they count.
  for (std::size_t c = 0; c < config.cameras.size(); ++c) {
    const auto& cam = config.cameras[c];
    for (std::size_t z = 0; z < cam.zones.size(); ++z) {
      if (const auto ids = detect::class_ids(model.names, cam.zones[z].classes); !ids)
        return refuse(fmt::format("cameras[{}].zones[{}].classes", c, z), ids.error().message);
    }
    for (std::size_t l = 0; l < cam.lines.size(); ++l) {
      if (const auto ids = detect::class_ids(model.names, cam.lines[l].classes); !ids)
        return refuse(fmt::format("cameras[{}].lines[{}].classes", c, l), ids.error().message);
    }
  }
  return true;
}

bool preflight(const config::PipelineConfig& config, const ShmPlan& plan, bool create) {
  return check_space(plan) && check_exposure(config) && check_port(config) && check_outputs(config, create);
}

}  // namespace shmyolo::pipeline

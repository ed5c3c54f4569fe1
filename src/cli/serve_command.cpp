// shmyolo serve: the HTTP detection service. With a config, its pipeline
// (cameras too, if it has any) plus an HTTP front; without one, a pipeline
// of workers only, from --model.
#include <unistd.h>

#include <fmt/format.h>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

struct ServeArgs {
  std::string config;
  std::string model;
  std::string engine = "ort";
  int port = -1;
  std::string bind;
  std::string auth;
  int workers = 2;
  int threads = 1;
  float confidence = 0.25F;
  double duration = 0;
  std::string shm_dir;
};

config::ConfigResult<config::PipelineConfig> serve_config(const ServeArgs& a) {
  if (!a.config.empty()) {
    auto c = config::load(a.config);
    if (c && !c->http) c->http.emplace();
    return c;
  }
  config::PipelineConfig c;
  c.name = fmt::format("serve{}", getpid());
  c.model.options.path = std::filesystem::absolute(a.model);
  c.model.options.engine = a.engine == "opencv" ? detect::Engine::opencv : detect::Engine::onnxruntime;
  c.model.confidence = a.confidence;
  c.workers.count = a.workers;
  c.workers.threads = a.threads;
  c.http.emplace();
  return c;
}

int serve(const ServeArgs& a) {
  if (a.config.empty() == a.model.empty()) return fail("serve: give a config file or --model (one of them)");
  auto config = serve_config(a);
  if (!config) return fail(config.error().message);
  config::HttpConfig& http = config->http.emplace(config->http.value_or(config::HttpConfig{}));
  if (a.port >= 0) http.port = a.port;
  if (!a.bind.empty()) http.bind = a.bind;
  if (a.auth == "none") http.no_auth = true;
  if (!a.shm_dir.empty()) config->shm_dir = a.shm_dir;
  pipeline::RunOptions options;
  options.duration_s = a.duration;
  return pipeline::run_pipeline(*config, options);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "HTTP detection service: POST /v1/detect, GET /healthz, GET /metrics");
  cmd->add_option("config", a->config, "Pipeline configuration (YAML); its http: section, or the defaults");
  cmd->add_option("--model", a->model, "Model for a service without a config file");
  cmd->add_option("--engine", a->engine, "Inference engine (with --model)")->check(CLI::IsMember({"ort", "opencv"}));
  cmd->add_option("--port", a->port, "Port (default 8080; 0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--bind", a->bind, "Address to listen on (default 127.0.0.1; another needs --auth none)");
  cmd->add_option("--auth", a->auth, "none: serve other addresses than loopback without authentication")
      ->check(CLI::IsMember({"none"}));
  cmd->add_option("--workers", a->workers, "Inference worker processes (with --model)")->check(CLI::Range(1, 64));
  cmd->add_option("--threads", a->threads, "Inference threads per worker (with --model)")->check(CLI::Range(1, 64));
  cmd->add_option("--conf", a->confidence, "Default confidence (with --model; a request's ?conf= overrides)")
      ->check(finite_range(0.0, 1.0));
  cmd->add_option("--duration", a->duration, "Stop after this many seconds (0: until Ctrl-C)")
      ->check(finite_range(0.0, 1e9));
  cmd->add_option("--shm-dir", a->shm_dir, "Folder for the segments (default /dev/shm)");
  cmd->callback([a, &exit_code] { exit_code = serve(*a); });
}

}  // namespace shmyolo::cli

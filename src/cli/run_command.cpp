// shmyolo run CONFIG.yaml: the whole pipeline from one configuration file.
#include <fmt/format.h>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/pipeline/supervisor.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

struct RunArgs {
  std::string config;
  double duration = 0;
  std::string stats_json;
  bool print_shm_size = false;
  bool check = false;
  std::string role = "all";
  std::string shm_dir;
};

int print_shm_size(const config::PipelineConfig& config) {
  const auto plan = pipeline::plan_shm(config);
  if (!plan) return 1;
  for (const auto& s : plan->segments) fmt::print("{:<48} {:>12} bytes\n", s.name, s.bytes);
  const auto mib = plan->recommended_bytes >> 20;
  fmt::print("total {} bytes ({:.1f} MiB) in {}\n", plan->total_bytes,
             static_cast<double>(plan->total_bytes) / (1 << 20), plan->dir.string());
  fmt::print("recommended: docker run --shm-size={}m | compose shm_size: {}m | Kubernetes emptyDir sizeLimit: {}Mi\n",
             mib, mib, mib);
  return 0;
}

int run(const RunArgs& a) {
  auto config = config::load(a.config);
  if (!config) return fail(config.error().message);
  if (!a.shm_dir.empty()) config->shm_dir = a.shm_dir;
  if (a.print_shm_size) return print_shm_size(*config);
  return pipeline::run_pipeline(*config, {.duration_s = a.duration,
                                          .stats_json = a.stats_json,
                                          .role = a.role == "ingest"    ? pipeline::RunRole::ingest
                                                  : a.role == "workers" ? pipeline::RunRole::workers
                                                                        : pipeline::RunRole::all,
                                          .check_only = a.check});
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Run a pipeline: cameras -> frame bus -> workers -> aggregator");
  cmd->add_option("config", a->config, "Pipeline configuration (YAML; see examples/)")->required();
  cmd->add_option("--duration", a->duration, "Stop after this many seconds (0: run until Ctrl-C or the sources end)")
      ->check(finite_range(0.0, 1e9));
  cmd->add_option("--stats-json", a->stats_json, "Write final per-camera statistics to this file");
  cmd->add_flag("--print-shm-size", a->print_shm_size, "Print the shared memory the config needs, then exit");
  cmd->add_flag("--check", a->check,
                "Check the config, the model and what a start needs (shared memory, the port, the output files), "
                "then exit: 0 and one line when it could run; nothing is started or made");
  cmd->add_option("--role", a->role,
                  "all: every process here; ingest: cameras, aggregator and the segments (one container); workers: "
                  "the inference workers, attached to an ingest side's segments (another container)")
      ->check(CLI::IsMember({"all", "ingest", "workers"}));
  cmd->add_option("--shm-dir", a->shm_dir,
                  "Folder for the segments (overrides the config's shm_dir; default /dev/shm)");
  cmd->callback([a, &exit_code] { exit_code = run(*a); });
}

}  // namespace shmyolo::cli

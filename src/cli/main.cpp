// shmyolo: real-time YOLO detection for many cameras, frames in shared memory.
#include <cstdio>

#include <shmyolo/bus/cleanup.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "shmyolo: %s\n", message.c_str());
  return 1;
}

}  // namespace shmyolo::cli

namespace {

int run(int argc, char** argv) {
  // Segments this process creates are unlinked on SIGINT/SIGTERM too.
  shmyolo::bus::install_signal_cleanup();
  CLI::App app{"shmyolo: real-time YOLO object detection for many cameras, frames shared in memory"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "shmyolo 0.1.0");
  int exit_code = 0;
  shmyolo::cli::add_segment_commands(app, exit_code);
  shmyolo::cli::add_bench_commands(app, exit_code);
  shmyolo::cli::add_demo_command(app, exit_code);
  shmyolo::cli::add_detect_commands(app, exit_code);
  shmyolo::cli::add_synth_command(app, exit_code);
  shmyolo::cli::add_run_command(app, exit_code);
  shmyolo::cli::add_serve_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    return shmyolo::cli::fail(e.what());
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (...) {
    std::fputs("shmyolo: unexpected internal error\n", stderr);
    return 70;  // EX_SOFTWARE (sysexits.h)
  }
}

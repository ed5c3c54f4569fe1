// The commands of the Linux build: all of them.
#include "commands.hpp"

namespace shmyolo::cli {

void add_commands(CLI::App& app, int& exit_code) {
  add_segment_commands(app, exit_code);
  add_bench_commands(app, exit_code);
  add_demo_command(app, exit_code);
  add_detect_commands(app, exit_code);
  add_synth_command(app, exit_code);
  add_run_command(app, exit_code);
  add_serve_command(app, exit_code);
  add_token_command(app, exit_code);
  add_modbus_command(app, exit_code);
}

}  // namespace shmyolo::cli

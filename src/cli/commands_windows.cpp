// The commands of the Windows build (docs/windows.md): the frame bus's own
// (ls, inspect, gc) and bench transport; the rest needs OpenCV or ONNX
// Runtime, which that build does not have yet.
#include <string>

#include <transport.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

void add_commands(CLI::App& app, int& exit_code) {
  add_segment_commands(app, exit_code);
  auto* bench = app.add_subcommand("bench", "Benchmarks that print their figures");
  bench->require_subcommand(1);
  add_transport_bench_command(*bench, exit_code);
  // Each side of a bench transport run is this program again (Windows has no fork).
  auto* child = bench->add_subcommand("transport-child", "One side of a bench transport run (started by it)");
  child->group("");  // hidden from --help
  child->allow_extras();
  child->callback([child, &exit_code] { exit_code = bench::run_transport_child(child->remaining()); });
  // The Linux build's other commands: said plainly, not "unknown command".
  for (const char* name : {"demo", "detect", "models", "synth", "run", "serve", "token", "modbus"}) {
    auto* missing = app.add_subcommand(name, "Not in the Windows build yet");
    missing->group("");
    missing->allow_extras();
    missing->callback([name, &exit_code] {
      exit_code =
          fail(std::string("shmyolo ") + name +
               " is not in the Windows build yet: it has ls, inspect, gc and bench transport (docs/windows.md)");
    });
  }
}

}  // namespace shmyolo::cli

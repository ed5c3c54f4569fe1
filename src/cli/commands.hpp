// Subcommands of the `shmyolo` program. Each add_* registers its subcommand;
// the callback stores the process exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace shmyolo::cli {

// Every command this build has: all of them on Linux; on Windows, those
// that need neither OpenCV nor ONNX Runtime (commands_windows.cpp).
void add_commands(CLI::App& app, int& exit_code);

void add_segment_commands(CLI::App& app, int& exit_code);           // ls, inspect, gc
void add_bench_commands(CLI::App& app, int& exit_code);             // bench ...
void add_transport_bench_command(CLI::App& bench, int& exit_code);  // bench transport
void add_demo_command(CLI::App& app, int& exit_code);               // demo
void add_detect_commands(CLI::App& app, int& exit_code);            // detect, models inspect
void add_synth_command(CLI::App& app, int& exit_code);              // synth
void add_run_command(CLI::App& app, int& exit_code);                // run
void add_serve_command(CLI::App& app, int& exit_code);              // serve
void add_token_command(CLI::App& app, int& exit_code);              // token new
void add_modbus_command(CLI::App& app, int& exit_code);             // modbus map

// "shmyolo: <message>" on stderr; returns the exit code for a failure.
int fail(const std::string& message);

// A number from lo to hi. CLI::Range lets NaN through (every comparison with
// it is false), so every floating-point option uses this instead.
CLI::Validator finite_range(double lo, double hi);

}  // namespace shmyolo::cli

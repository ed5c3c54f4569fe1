// shmyolo modbus map CONFIG [--csv]: the register map the pipeline's Modbus
// server serves, for the PLC engineer (docs/modbus.md). It comes from the
// config alone, so it can be printed before the pipeline runs.
#include <fmt/format.h>
#include <shmyolo/config/pipeline_config.hpp>
#include <shmyolo/modbus/register_map.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

void add_modbus_command(CLI::App& app, int& exit_code) {
  auto* modbus = app.add_subcommand("modbus", "The Modbus TCP server for PLCs (outputs.modbus)");
  modbus->require_subcommand(1);
  struct Args {
    std::string config;
    bool csv = false;
  };
  auto a = std::make_shared<Args>();
  auto* map = modbus->add_subcommand("map", "Print the register map a pipeline's config gives");
  map->add_option("config", a->config, "The pipeline's YAML config")->required();
  map->add_flag("--csv", a->csv, "As CSV (table, address, words, name, meaning) for a PLC tool");
  map->callback([a, &exit_code] {
    const auto config = config::load(a->config);
    if (!config) {
      exit_code = fail(config.error().message);
      return;
    }
    if (!config->outputs.modbus) {
      fmt::print(stderr, "shmyolo: {}: no outputs.modbus: this is the map it would serve\n", a->config);
    }
    const auto registers = modbus::register_map(*config);
    fmt::print("{}", a->csv ? modbus::map_csv(registers) : modbus::map_table(registers));
    exit_code = 0;
  });
}

}  // namespace shmyolo::cli

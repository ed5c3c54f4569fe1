// shmyolo: real-time YOLO detection for many cameras, frames in shared memory.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <shmyolo/bus/cleanup.hpp>
#include <shmyolo/error.hpp>
#include <shmyolo/nearest_word.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

int fail(const std::string& message) {
  print_error(message);
  return 1;
}

CLI::Validator finite_range(double lo, double hi) {
  return {[lo, hi](std::string& text) -> std::string {
            double v = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v)) {
              return "expected a finite number, got \"" + text + "\"";
            }
            if (v < lo || v > hi) return fmt::format("{} is not in the range {} to {}", text, lo, hi);
            return {};
          },
          fmt::format("NUMBER in [{} - {}]", lo, hi)};
}

}  // namespace shmyolo::cli

namespace {

// The deepest subcommand the words name ("bench transport"), and the index of
// the first word after it.
std::pair<const CLI::App*, int> named_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  int i = 1;
  for (; i < argc; ++i) {
    const auto subs = at->get_subcommands([&](const CLI::App* s) { return s->get_name() == argv[i]; });
    if (subs.empty()) break;
    at = subs.front();
  }
  return {at, i};
}

std::vector<std::string> names_of(const CLI::App& app, bool commands) {
  std::vector<std::string> names;
  if (commands) {
    for (const auto* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
    return names;
  }
  for (const auto* o : app.get_options()) {
    for (const auto& n : o->get_lnames()) names.push_back("--" + n);
    for (const auto& n : o->get_snames()) names.push_back("-" + n);
  }
  return names;
}

// A usage mistake: one line naming the bad word, the nearest right one, and
// exit status 2 (the convention of getopt programs and CLI tools).
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  const auto [command, next] = named_command(app, argc, argv);
  std::string message = e.what();
  if (next < argc && argv[next][0] != '-' && !names_of(*command, true).empty()) {
    message = fmt::format("unknown command \"{}\"{}", argv[next],
                          shmyolo::did_you_mean(argv[next], names_of(*command, true)));
  } else {
    for (int i = next; i < argc; ++i) {
      const std::string word = std::string(argv[i]).substr(0, std::string_view(argv[i]).find('='));
      if (word.size() < 2 || word[0] != '-') continue;
      const auto known = names_of(*command, false);
      if (std::ranges::find(known, word) != known.end()) continue;
      message = fmt::format("unknown option \"{}\"{}", word, shmyolo::did_you_mean(word, known));
      break;
    }
  }
  std::string path = "shmyolo";  // the words that named the command: "shmyolo token new"
  for (int i = 1; i < next; ++i) path += fmt::format(" {}", argv[i]);
  std::fprintf(stderr, "shmyolo: %s (see %s --help)\n", message.c_str(), path.c_str());
  return 2;
}

int run(int argc, char** argv) {
  // Segments this process creates are unlinked on SIGINT/SIGTERM too.
  shmyolo::bus::install_signal_cleanup();
  CLI::App app{"shmyolo: real-time YOLO object detection for many cameras, frames shared in memory"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // --help shows each option's default
  app.set_version_flag("--version", "shmyolo 0.1.0");
  int exit_code = 0;
  shmyolo::cli::add_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return usage_error(app, e, argc, argv);
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

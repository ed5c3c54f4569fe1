// shmyolo token new: a token for the HTTP API and the line that admits it.
// The token is printed once and kept nowhere; the tokens file holds only its
// hash (include/shmyolo/http/auth.hpp).
#include <fmt/format.h>
#include <shmyolo/http/auth.hpp>

#include "commands.hpp"

namespace shmyolo::cli {

void add_token_command(CLI::App& app, int& exit_code) {
  auto* token = app.add_subcommand("token", "Tokens for the HTTP API (http.auth.tokens_file)");
  token->require_subcommand(1);
  struct Args {
    std::string name = "client";
    bool metrics = false;
  };
  auto a = std::make_shared<Args>();
  auto* make = token->add_subcommand("new", "Print a new token, and the line that admits it, for the tokens file");
  make->add_option("--name", a->name, "Who the token is for (a word; shown in the tokens file only)")
      ->check([](const std::string& name) {
        const bool word = !name.empty() && name.find_first_of(" \t\r\n") == std::string::npos;
        return word ? std::string() : std::string("a name is one word");
      });
  make->add_flag("--metrics", a->metrics, "A token that opens /metrics only (Prometheus' bearer_token)");
  make->callback([a, &exit_code] {
    const std::string t = http::new_token();
    if (t.empty()) {
      exit_code = fail("token: the system's random generator failed; try again");
      return;
    }
    fmt::print("token: {}\n", t);
    fmt::print("Add this line to the file http.auth.tokens_file names (the token itself is kept nowhere):\n{}\n",
               http::token_line(t, a->name, a->metrics ? http::Scope::metrics : http::Scope::all));
    exit_code = 0;
  });
}

}  // namespace shmyolo::cli

// One shape for every failure shmyolo reports, whatever the component: a code
// a program branches on, and one line for people that names the thing and
// says what to do (a config's mistakes: a line each). Each component has its
// own code enum (bus::BusErrc, detect::DetectErrc, config::ConfigErrc, ...)
// with a to_string() beside it, and its Error<Code> alias:
//   bus::BusResult<Claim> c = ring.claim(...);
//   if (!c && c.error().code == bus::BusErrc::timeout) ...
//   std::fprintf(stderr, "shmyolo: %s\n", std::string(c.error().what()).c_str());
#pragma once

#include <cstdio>
#include <expected>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace shmyolo {

template <class Code>
struct Error {
  Code code{};
  std::string message;  // may be empty where the code says it all (a timeout on the data path)

  // The message, or the code's own words when there is none. to_string is
  // found by argument-dependent lookup in the code's namespace.
  [[nodiscard]] std::string_view what() const {
    if (!message.empty()) return message;
    return to_string(code);
  }
};

// What tests and logs print.
template <class Code>
std::ostream& operator<<(std::ostream& out, const Error<Code>& e) {
  return out << e.what();
}

template <class T, class Code>
using Result = std::expected<T, Error<Code>>;

template <class Code>
[[nodiscard]] std::unexpected<Error<Code>> make_error(Code code, std::string message = {}) {
  return std::unexpected(Error<Code>{code, std::move(message)});
}

// A message on stderr for people: "shmyolo: " before each of its lines.
inline void print_error(std::string_view message) {
  while (true) {
    const std::size_t end = message.find('\n');
    const std::string_view line = message.substr(0, end);
    std::fprintf(stderr, "shmyolo: %.*s\n", static_cast<int>(line.size()), line.data());
    if (end == std::string_view::npos) return;
    message.remove_prefix(end + 1);
  }
}

}  // namespace shmyolo

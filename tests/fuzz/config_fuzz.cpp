// libFuzzer target: any text as a pipeline config. The reader goes on past
// the mistakes it can (docs/pipeline.md); whatever the text, it must accept
// it or answer with one line per mistake, at most ten and a count, never an
// empty line, never a crash.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include <shmyolo/config/pipeline_config.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto r = shmyolo::config::parse(text, "fuzz.yaml", "/nonexistent");
  if (r) return 0;
  const std::string& message = r.error().message;
  if (message.empty()) std::abort();
  std::istringstream in(message);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    if (line.empty()) std::abort();
  }
  // A syntax error is one line; YAML's own message has none of its own.
  if (lines > 11 || (r.error().code != shmyolo::config::ConfigErrc::syntax && message.back() == '\n')) std::abort();
  return 0;
}

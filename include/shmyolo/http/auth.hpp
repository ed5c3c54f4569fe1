// Bearer tokens for the HTTP API. The config names a file of token hashes
// (`http.auth: {tokens_file: ...}`), one per line:
//   sha256:<64 hex digits> NAME [metrics]
// `shmyolo token new` makes a token and prints its line. A presented token
// is hashed and compared with every line in constant time; the file never
// holds a token, and no token is ever logged. A `metrics` token opens only
// /metrics (for Prometheus' bearer_token), the others every route.
// Wrong tokens are rate-limited per client address.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/sync.hpp>

namespace shmyolo::http {

enum class Scope { all, metrics };

enum class Verdict {
  admitted,
  unknown,    // no such token (counted against the address)
  forbidden,  // a token of the file, but not for this route (a metrics token elsewhere)
};

class TokenStore {
 public:
  // Reads and checks the file; an error is one line naming it and the line.
  static std::expected<TokenStore, std::string> load(const std::filesystem::path& file);
  // Whether the token opens a route that needs `need` (all: every route;
  // metrics: /metrics, which metrics tokens open too).
  [[nodiscard]] Verdict check(std::string_view token, Scope need) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> hash;
    Scope scope;
  };
  std::vector<Entry> entries_;
};

// A new token: 32 random bytes from the system's generator, base64url.
[[nodiscard]] std::string new_token();
// The tokens file line for it: "sha256:<hex> NAME" (and " metrics").
[[nodiscard]] std::string token_line(std::string_view token, std::string_view name, Scope scope);

// Wrong tokens per client address: after kMaxFailures within a minute the
// address gets 429 until that minute is over. Thread-safe.
class FailureLimiter {
 public:
  static constexpr int kMaxFailures = 10;
  static constexpr auto kWindow = std::chrono::seconds(60);
  using Clock = std::chrono::steady_clock;

  [[nodiscard]] bool blocked(const std::string& address, Clock::time_point now);
  void failed(const std::string& address, Clock::time_point now);

 private:
  struct Window {
    Clock::time_point start;
    int failures = 0;
  };
  Mutex mutex_;
  std::map<std::string, Window> windows_ SHMYOLO_GUARDED_BY(mutex_);  // pruned of ended windows as it grows
};

}  // namespace shmyolo::http

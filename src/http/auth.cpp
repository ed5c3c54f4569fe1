#include <shmyolo/http/auth.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

namespace shmyolo::http {
namespace {

constexpr std::string_view kPrefix = "sha256:";
constexpr std::size_t kTokenBytes = 32;  // 256 bits: guessing one is out of reach
constexpr std::size_t kMaxFileBytes = 1 << 20;

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

std::optional<std::array<unsigned char, 32>> from_hex(std::string_view hex) {
  std::array<unsigned char, 32> out{};
  if (hex.size() != 2 * out.size()) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = nibble(hex[2 * i]);
    const int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return out;
}

}  // namespace

std::expected<TokenStore, std::string> TokenStore::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec) || std::filesystem::file_size(file, ec) > kMaxFileBytes) {
    return std::unexpected(fmt::format(
        "http.auth.tokens_file: no tokens file at {} (at most 1 MiB): make one with shmyolo token new", file.string()));
  }
  std::ifstream in(file);
  TokenStore store;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::istringstream words(line);
    std::string hash;
    std::string name;
    std::string scope;
    if (!(words >> hash) || hash.starts_with('#')) continue;  // blank or a comment
    words >> name >> scope;
    std::optional<std::array<unsigned char, 32>> digest;
    if (hash.starts_with(kPrefix)) digest = from_hex(std::string_view(hash).substr(kPrefix.size()));
    if (!digest || name.empty() || (!scope.empty() && scope != "metrics")) {
      return std::unexpected(fmt::format(
          "{}:{}: expected \"sha256:<64 hex digits> NAME\" or \"... NAME metrics\" (shmyolo token new prints one)",
          file.string(), number));
    }
    store.entries_.push_back({*digest, scope.empty() ? Scope::all : Scope::metrics});
  }
  if (store.entries_.empty()) {
    return std::unexpected(fmt::format("{}: holds no token: add a line that shmyolo token new prints", file.string()));
  }
  return store;
}

Verdict TokenStore::check(std::string_view token, Scope need) const {
  if (token.empty()) return Verdict::unknown;
  const auto digest = sha256(token);
  bool known = false;
  bool enough = false;
  for (const Entry& e : entries_) {  // every line compared, in constant time each: no timing tells which
    const bool same = CRYPTO_memcmp(e.hash.data(), digest.data(), digest.size()) == 0;
    known = known || same;
    enough = enough || (same && (e.scope == Scope::all || need == Scope::metrics));
  }
  return enough ? Verdict::admitted : known ? Verdict::forbidden : Verdict::unknown;
}

std::string new_token() {
  std::array<unsigned char, kTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};
  std::array<unsigned char, 4 * ((kTokenBytes + 2) / 3) + 1> text{};
  const int n = EVP_EncodeBlock(text.data(), bytes.data(), static_cast<int>(bytes.size()));
  std::string token(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(n));
  for (char& c : token) c = c == '+' ? '-' : c == '/' ? '_' : c;  // base64url: safe in headers and cookies
  while (token.ends_with('=')) token.pop_back();
  return token;
}

std::string token_line(std::string_view token, std::string_view name, Scope scope) {
  std::string hex;
  for (const unsigned char b : sha256(token)) hex += fmt::format("{:02x}", b);
  return fmt::format("{}{} {}{}", kPrefix, hex, name, scope == Scope::metrics ? " metrics" : "");
}

bool FailureLimiter::blocked(const std::string& address, Clock::time_point now) {
  const MutexLock lock(mutex_);
  const auto it = windows_.find(address);
  return it != windows_.end() && now - it->second.start < kWindow && it->second.failures >= kMaxFailures;
}

void FailureLimiter::failed(const std::string& address, Clock::time_point now) {
  const MutexLock lock(mutex_);
  if (windows_.size() > 10000) std::erase_if(windows_, [&](const auto& w) { return now - w.second.start >= kWindow; });
  Window& w = windows_[address];
  if (now - w.start >= kWindow) w = {now, 0};
  ++w.failures;
}

}  // namespace shmyolo::http

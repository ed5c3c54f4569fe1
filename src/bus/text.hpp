// printf-style formatting for error messages (the bus depends on libc only).
#pragma once

#include <cstdint>
#include <string>

namespace shmyolo::bus::detail {

[[gnu::format(printf, 1, 2)]] std::string strf(const char* format, ...);
// "24.0 MiB"
std::string format_bytes(std::uint64_t bytes);

}  // namespace shmyolo::bus::detail

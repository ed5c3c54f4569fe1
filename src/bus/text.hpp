// printf-style formatting for error messages (the bus depends on libc only).
#pragma once

#include <cstdint>
#include <string>

namespace shmyolo::bus::detail {

// MinGW's printf attribute means Microsoft's formats; its C99 stdio (the
// toolchain sets __USE_MINGW_ANSI_STDIO) takes GNU's, %zu and %llu included.
#if defined(__MINGW32__)
[[gnu::format(gnu_printf, 1, 2)]] std::string strf(const char* format, ...);
#else
[[gnu::format(printf, 1, 2)]] std::string strf(const char* format, ...);
#endif
// "24.0 MiB"
std::string format_bytes(std::uint64_t bytes);

}  // namespace shmyolo::bus::detail

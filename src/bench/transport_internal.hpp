// Shared by the Linux and Windows halves of `shmyolo bench transport`
// (transport.cpp, transport_win32.cpp; transport_report.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quantile.hpp"
#include "transport.hpp"

namespace shmyolo::bench {

// One memcpy of a frame, in microseconds (the median of 30, hot caches).
[[nodiscard]] double memcpy_floor_us(std::size_t bytes);
// p50, p99, max and mean of the consumer's latencies.
void summarise_latency(TransportResult& r, std::span<const std::uint64_t> latency_ns);

}  // namespace shmyolo::bench

// Shared by the Linux and Windows halves of `shmyolo bench transport`
// (transport.cpp, transport_win32.cpp; transport_report.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <shmyolo/bus/ring.hpp>

#include "quantile.hpp"
#include "transport.hpp"

namespace shmyolo::bench {

constexpr int kMaxFrames = 4096;

// What a run's two processes write for the parent: memory both children
// see (anonymous shared memory on Linux, a named mapping on Windows).
struct Shared {
  std::uint64_t latency_ns[kMaxFrames];
  std::uint64_t first_ns;
  std::uint64_t last_ns;
  std::uint64_t received;
  double cpu_seconds;
  char error[256];
};

struct Phase {
  int frames;
  double rate_hz;  // 0: back to back
};

// The bus transport's ring: 4 slots of the frame, queue delivery, a
// producer that waits up to 10 s for a slot. Throws with the bus's line.
[[nodiscard]] std::unique_ptr<bus::FrameRing> create_bench_ring(const std::string& name, const TransportOptions& o);

// The bus transport's two ends: the producer copies the frame into a slot
// and publishes it (false: no slot); the consumer claims the next frame and
// returns its publish time, or 0 after 10 s without one.
[[nodiscard]] bool bus_send(bus::Producer& producer, const std::byte* frame, std::size_t bytes);
[[nodiscard]] std::uint64_t bus_receive(bus::Consumer& consumer);

// A report's frame size, the memcpy floor under it, and the CPU count.
[[nodiscard]] TransportReport start_report(const TransportOptions& o);

// A transport's figures into `r`: `run(phase)` runs a phase in two fresh
// processes, leaves their results in `s` and says whether both succeeded; a
// paced phase gives the latencies, a back-to-back one the throughput.
void measure_transport(TransportResult& r, const TransportOptions& o, const Shared& s,
                       const std::function<bool(const Phase&)>& run);

}  // namespace shmyolo::bench

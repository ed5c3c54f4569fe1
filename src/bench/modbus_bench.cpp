#include "modbus_bench.hpp"

#include <modbus/modbus.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "service_process.hpp"

namespace shmyolo::bench {
namespace {

constexpr int kBlock = 100;      // the first camera's block
constexpr int kBlockWords = 54;  // state .. the first line's counts
constexpr int kAgeOffset = 4;    // result_age_ms

std::string config_text(const ModbusBenchOptions& o, const std::filesystem::path& shm, int port) {
  std::string cameras;
  for (int c = 0; c < o.cameras; ++c) {
    cameras += fmt::format(
        "  - {{name: cam{}, source: \"synthetic:?seed={}\", fps: 10,\n"
        "     zones: [{{name: west, points: [[0, 0], [320, 0], [320, 480], [0, 480]]}}],\n"
        "     lines: [{{name: middle, from: [320, 0], to: [320, 480]}}]}}\n",
        c, c + 1);
  }
  return fmt::format(
      "name: mbbench{}\nshm_dir: {}\nmodel: {{path: {}, confidence: 0.5}}\nworkers: {{count: 2}}\ncameras:\n{}"
      "outputs: {{stats_interval: 60, modbus: {{port: {}, max_clients: {}, classes: [0, 1, 2, 3]}}}}\n",
      getpid(), shm.string(), o.model, cameras, port, o.clients + 4);
}

// One client polling until `until`; false when it could not connect.
bool poll(int port, std::chrono::steady_clock::time_point until, ModbusBenchReport& report, std::mutex& mutex) {
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  if (ctx == nullptr || modbus_connect(ctx) != 0) {
    if (ctx != nullptr) modbus_free(ctx);
    return false;
  }
  std::vector<double> reads;
  std::vector<double> ages;
  std::uint64_t failed = 0;
  std::array<std::uint16_t, kBlockWords> block{};
  while (std::chrono::steady_clock::now() < until) {
    const auto start = std::chrono::steady_clock::now();
    const int n = modbus_read_input_registers(ctx, kBlock, kBlockWords, block.data());
    const auto end = std::chrono::steady_clock::now();
    if (n != kBlockWords) {
      ++failed;
      continue;
    }
    reads.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (block[kAgeOffset] != 0xFFFF) ages.push_back(block[kAgeOffset]);
  }
  modbus_close(ctx);
  modbus_free(ctx);
  const std::scoped_lock lock(mutex);
  report.read_ms.insert(report.read_ms.end(), reads.begin(), reads.end());
  report.age_ms.insert(report.age_ms.end(), ages.begin(), ages.end());
  report.failed += failed;
  return true;
}

// Until the server answers with a heartbeat and a first result, or 60 s.
bool wait_for_results(int port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
    std::array<std::uint16_t, kBlockWords> block{};
    const bool ok = ctx != nullptr && modbus_connect(ctx) == 0 &&
                    modbus_read_input_registers(ctx, kBlock, kBlockWords, block.data()) == kBlockWords &&
                    block[kAgeOffset] != 0xFFFF;
    if (ctx != nullptr) {
      modbus_close(ctx);
      modbus_free(ctx);
    }
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

ModbusBenchReport run_modbus_bench(const ModbusBenchOptions& o) {
  ModbusBenchReport report;
  const auto work = std::filesystem::temp_directory_path() / fmt::format("shmyolo-modbus-bench-{}", getpid());
  std::filesystem::create_directories(work);
  const int port = free_port();
  const auto config = work / "pipeline.yaml";
  std::ofstream(config) << config_text(o, work, port);
  Service pipeline;
  pipeline.name = "pipeline";
  pipeline.argv = {o.shmyolo_bin, "run", config.string()};
  start(pipeline);
  if (!wait_for_results(port)) {
    report.error = "the pipeline's Modbus server gave no result within 60 s:\n" + pipeline.log;
  } else {
    std::mutex mutex;
    std::vector<std::thread> clients;
    clients.reserve(static_cast<std::size_t>(o.clients));
    const auto begin = std::chrono::steady_clock::now();
    const auto until = begin + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(o.seconds));
    std::atomic<int> refused{0};
    for (int c = 0; c < o.clients; ++c) {
      clients.emplace_back([&] {
        if (!poll(port, until, report, mutex)) refused.fetch_add(1);
      });
    }
    for (auto& t : clients) t.join();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    if (refused.load() > 0) report.error = fmt::format("{} clients could not connect", refused.load());
  }
  stop(pipeline);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return report;
}

std::string modbus_table(const ModbusBenchOptions& o, const ModbusBenchReport& r) {
  if (!r.error.empty()) return "shmyolo bench modbus: " + r.error + "\n";
  return fmt::format(
      "Modbus TCP on loopback, {} clients reading a camera block ({} registers) back to back for {:.0f} s,\n"
      "while {} synthetic cameras at 10 fps run through the pipeline:\n"
      "  reads {} ({:.0f}/s), failed {}\n"
      "  round trip: p50 {:.3f} ms  p99 {:.3f} ms  max {:.3f} ms\n"
      "  values' age (result_age_ms): p50 {:.0f} ms  p99 {:.0f} ms  max {:.0f} ms\n",
      o.clients, kBlockWords, r.seconds, o.cameras, r.read_ms.size(), static_cast<double>(r.read_ms.size()) / r.seconds,
      r.failed, percentile(r.read_ms, 0.5), percentile(r.read_ms, 0.99), percentile(r.read_ms, 1.0),
      percentile(r.age_ms, 0.5), percentile(r.age_ms, 0.99), percentile(r.age_ms, 1.0));
}

}  // namespace shmyolo::bench

#include "python_bench.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <shmyolo/bus/ring.hpp>

namespace shmyolo::bench {
namespace {

constexpr int kWarmUp = 10;  // frames run before counting: caches and pages warm, as Python's side does
// Between frames: long enough for the consumer to fall asleep on the ring's
// doorbell, so its wake-up is measured as a pipeline's consumers see it.
constexpr auto kPace = std::chrono::milliseconds(5);

double median_us(std::vector<std::int64_t> ns) {
  std::ranges::sort(ns);
  return static_cast<double>(ns[ns.size() / 2]) / 1000.0;
}

std::int64_t since_ns(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

// One memcpy of the frame into one of 4 destinations in turn (a ring's 4
// slots' worth, so the destination is as cold as a slot's), pages touched,
// paced as the producers are (a copy after a sleep finds colder caches).
double memcpy_us(std::size_t bytes, int frames) {
  const std::vector<std::byte> from(bytes, std::byte{7});
  std::vector<std::vector<std::byte>> to(4, std::vector<std::byte>(bytes, std::byte{0}));
  std::vector<std::int64_t> ns;
  for (int i = 0; i < frames + kWarmUp; ++i) {
    std::this_thread::sleep_for(kPace);
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(to[static_cast<std::size_t>(i) % to.size()].data(), from.data(), bytes);
    const auto took = since_ns(t0);
    if (i >= kWarmUp) ns.push_back(took);
  }
  return median_us(ns);
}

struct CppFigures {
  double publish_us = 0;  // a C++ producer: take a slot, memcpy the frame in, publish
  double wake_us = 0;     // publish -> a sleeping consumer in another process holds the frame's pixels
};

// The consumer process: claims each frame as it comes and writes how long
// after its publish it held the pixels (ns) into `out`.
[[noreturn]] void consume(const std::string& name, int frames, int out) {
  auto ring = bus::FrameRing::attach(name);
  if (!ring) _exit(1);
  bus::Consumer consumer(*ring);
  for (int i = 0; i < frames + kWarmUp; ++i) {
    auto claim = consumer.claim(std::chrono::seconds(5));
    if (!claim) _exit(1);
    const std::byte* volatile pixels = claim->pixels().data();
    const std::int64_t took =
        static_cast<std::int64_t>(bus::monotonic_ns()) - static_cast<std::int64_t>(claim->info().publish_mono_ns);
    (void)pixels;
    (void)claim->release();
    if (i >= kWarmUp && write(out, &took, sizeof took) != sizeof took) _exit(1);
  }
  _exit(0);
}

std::optional<CppFigures> cpp_figures(const PythonBenchOptions& o) {
  const std::string name = fmt::format("shmyolo.bench-python-{}.cpp", getpid());
  auto ring = bus::FrameRing::create({.name = name,
                                      .width = static_cast<std::uint32_t>(o.width),
                                      .height = static_cast<std::uint32_t>(o.height),
                                      .delivery = bus::Delivery::queue});
  if (!ring) {
    std::fprintf(stderr, "shmyolo bench python: %s\n", ring.error().message.c_str());
    return std::nullopt;
  }
  std::array<int, 2> pipe_fds{};
  if (pipe(pipe_fds.data()) != 0) return std::nullopt;
  const pid_t child = fork();
  if (child == 0) consume(name, o.frames, pipe_fds[1]);
  close(pipe_fds[1]);
  auto producer = bus::Producer::attach(*ring);
  if (!producer) return std::nullopt;
  const std::vector<std::byte> frame(ring->geometry().frame_bytes, std::byte{7});
  std::vector<std::int64_t> publish;
  for (int i = 0; i < o.frames + kWarmUp; ++i) {
    std::this_thread::sleep_for(kPace);  // the consumer is asleep when the frame comes, as in a pipeline
    const auto t0 = std::chrono::steady_clock::now();
    auto slot = producer->acquire();
    if (!slot) break;
    std::memcpy(slot->pixels().data(), frame.data(), frame.size());
    producer->publish(*slot, {});
    if (i >= kWarmUp) publish.push_back(since_ns(t0));
  }
  std::vector<std::int64_t> wake(static_cast<std::size_t>(o.frames));
  const auto want = static_cast<ssize_t>(wake.size() * sizeof(std::int64_t));
  ssize_t got = 0;
  while (got < want) {
    const ssize_t n =
        read(pipe_fds[0], reinterpret_cast<char*>(wake.data()) + got, static_cast<std::size_t>(want - got));
    if (n <= 0) break;
    got += n;
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != want || publish.empty()) {
    std::fprintf(stderr, "shmyolo bench python: the C++ consumer process failed\n");
    return std::nullopt;
  }
  return CppFigures{.publish_us = median_us(publish), .wake_us = median_us(wake)};
}

int run_script(const PythonBenchOptions& o, double memcpy, const CppFigures& cpp) {
  std::vector<std::string> args{"/usr/bin/python3", o.script,
                                "--width",          std::to_string(o.width),
                                "--height",         std::to_string(o.height),
                                "--frames",         std::to_string(o.frames),
                                "--cpp-memcpy-us",  fmt::format("{:.3f}", memcpy),
                                "--cpp-publish-us", fmt::format("{:.3f}", cpp.publish_us),
                                "--cpp-wake-us",    fmt::format("{:.3f}", cpp.wake_us)};
  if (!o.json.empty()) args.insert(args.end(), {"--json", o.json});
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("PYTHONPATH", o.module_dir.c_str(), 1);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "shmyolo bench python: cannot run /usr/bin/python3: %s (scripts/install-deps)\n",
                 std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int run_python_bench(const PythonBenchOptions& o) {
  if (!std::filesystem::exists(o.script)) {
    std::fprintf(stderr, "shmyolo bench python: no %s: run it from a shmyolo checkout's build\n", o.script.c_str());
    return 1;
  }
  std::error_code ec;
  const bool built = std::ranges::any_of(std::filesystem::directory_iterator(o.module_dir, ec), [](const auto& e) {
    return e.path().filename().string().starts_with("shmyolo.") && e.path().extension() == ".so";
  });
  if (!built) {
    std::fprintf(stderr,
                 "shmyolo bench python: the Python package is not built in %s: install python3-dev, python3-numpy "
                 "and pybind11-dev (scripts/install-deps) and build again\n",
                 o.module_dir.c_str());
    return 1;
  }
  const auto bytes = static_cast<std::size_t>(o.width) * static_cast<std::size_t>(o.height) * 3;
  const double memcpy = memcpy_us(bytes, o.frames);
  const auto cpp = cpp_figures(o);
  if (!cpp) return 1;
  return run_script(o, memcpy, *cpp);
}

}  // namespace shmyolo::bench

#include "python_bench.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

// A C++ producer: take a slot, memcpy the frame in, publish (a latest ring,
// so it never waits for a consumer); the median in microseconds.
std::optional<double> cpp_publish_us(const PythonBenchOptions& o) {
  const std::string name = fmt::format("shmyolo.bench-python-{}.cpp", getpid());
  auto ring = bus::FrameRing::create({.name = name,
                                      .width = static_cast<std::uint32_t>(o.width),
                                      .height = static_cast<std::uint32_t>(o.height),
                                      .delivery = bus::Delivery::latest});
  if (!ring) {
    std::fprintf(stderr, "shmyolo bench python: %s\n", ring.error().message.c_str());
    return std::nullopt;
  }
  auto producer = bus::Producer::attach(*ring);
  if (!producer) return std::nullopt;
  const std::vector<std::byte> frame(ring->geometry().frame_bytes, std::byte{7});
  std::vector<std::int64_t> publish;
  for (int i = 0; i < o.frames + kWarmUp; ++i) {
    std::this_thread::sleep_for(kPace);  // paced as a camera is
    const auto t0 = std::chrono::steady_clock::now();
    auto slot = producer->acquire();
    if (!slot) break;
    std::memcpy(slot->pixels().data(), frame.data(), frame.size());
    producer->publish(*slot, {});
    if (i >= kWarmUp) publish.push_back(since_ns(t0));
  }
  if (publish.empty()) return std::nullopt;
  return median_us(publish);
}

int run_script(const PythonBenchOptions& o, double memcpy, double cpp_publish) {
  std::vector<std::string> args{"/usr/bin/python3", o.script,
                                "--width",          std::to_string(o.width),
                                "--height",         std::to_string(o.height),
                                "--frames",         std::to_string(o.frames),
                                "--cpp-memcpy-us",  fmt::format("{:.3f}", memcpy),
                                "--cpp-publish-us", fmt::format("{:.3f}", cpp_publish),
                                "--shmyolo",        std::filesystem::read_symlink("/proc/self/exe").string()};
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
  const auto cpp_publish = cpp_publish_us(o);
  if (!cpp_publish) return 1;
  return run_script(o, memcpy, *cpp_publish);
}

int run_cpp_consumer(const std::string& ring_name, int frames) {
  auto ring = bus::FrameRing::attach(ring_name);
  if (!ring) {
    std::fprintf(stderr, "shmyolo bench python: %s\n", ring.error().message.c_str());
    return 1;
  }
  bus::Consumer consumer(*ring);
  std::vector<std::int64_t> took;
  took.reserve(static_cast<std::size_t>(frames));
  for (int i = 0; i < frames + kWarmUp; ++i) {
    auto claim = consumer.claim(std::chrono::seconds(5));
    if (!claim) {
      std::fprintf(stderr, "shmyolo bench python: %s\n", claim.error().message.c_str());
      return 1;
    }
    const std::byte* volatile pixels = claim->pixels().data();  // held: the slot's pointer, as a worker has it
    const std::int64_t ns =
        static_cast<std::int64_t>(bus::monotonic_ns()) - static_cast<std::int64_t>(claim->info().publish_mono_ns);
    (void)pixels;
    (void)claim->release();
    if (i >= kWarmUp) took.push_back(ns);
  }
  const std::size_t bytes = took.size() * sizeof(std::int64_t);
  return std::fwrite(took.data(), 1, bytes, stdout) == bytes && std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace shmyolo::bench

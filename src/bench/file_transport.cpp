#include "file_transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <new>
#include <thread>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <shmyolo/bus/ring.hpp>
#include <shmyolo/detect/detector.hpp>
#include <shmyolo/ingest/frame_source.hpp>

#include "process_stats.hpp"

namespace shmyolo::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxCameras = 64;
constexpr auto kFinishTimeout = std::chrono::minutes(10);  // a run that has not finished by then has hung

// What the architecture's processes share: a mapping made before they fork.
// Every access is relaxed: these are counters and stop flags that publish no
// other data (a spool file is handed over by the file system, and the parent
// reads the frame records only after waitpid, which orders them).
struct Shared {
  std::atomic<std::uint32_t> waiting[kMaxCameras];  // files written and not yet deleted, per camera
  std::atomic<std::uint32_t> workers_ready;
  std::atomic<std::uint32_t> failed;  // a process could not go on: everyone stops
  std::atomic<std::uint64_t> spool_bytes;
  std::atomic<std::uint64_t> peak_spool_bytes;
  std::atomic<std::uint64_t> next_record;
};

// The frames' records follow the counters in the same mapping.
std::size_t shared_size(std::uint64_t total) {
  return sizeof(Shared) + sizeof(FrameTiming) * total;
}
FrameTiming* records_of(Shared& shared) {
  return reinterpret_cast<FrameTiming*>(reinterpret_cast<char*>(&shared) + sizeof(Shared));  // NOLINT: see above
}

std::uint64_t total_frames(const config::PipelineConfig& c) {
  std::uint64_t n = 0;
  for (const auto& cam : c.cameras) n += cam.frames;
  return n;
}

// The spool file name carries what a worker needs besides the bytes.
struct SpoolName {
  int camera = 0;
  std::uint64_t index = 0;
  int width = 0;
  int height = 0;
  std::uint64_t capture_ns = 0;
};

std::string spool_name(const SpoolName& n, SpoolFormat format) {
  return fmt::format("{:02}-{:08}-{}x{}-{}.{}", n.camera, n.index, n.width, n.height, n.capture_ns,
                     format == SpoolFormat::jpeg ? "jpg" : "bgr");
}

bool parse_spool_name(const std::string& s, SpoolName& n) {
  unsigned long long index = 0;
  unsigned long long capture = 0;
  if (std::sscanf(s.c_str(), "%d-%llu-%dx%d-%llu.", &n.camera, &index, &n.width, &n.height, &capture) != 5) {
    return false;
  }
  n.index = index;
  n.capture_ns = capture;
  return n.camera >= 0 && n.camera < kMaxCameras;
}

bool write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 && done == size;
}

bool read_file(const std::filesystem::path& path, std::vector<std::uint8_t>& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  out.resize(ok ? static_cast<std::size_t>(st.st_size) : 0);
  std::size_t done = 0;
  while (ok && done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok;
}

// A camera: each frame read, stamped as the pipeline stamps it, encoded and
// written to the spool; it waits while `slots` of its files are unread, as a
// queue-mode ring does.
[[noreturn]] void camera_process(const FileTransportOptions& o, int c, Shared& shared) {
  const auto& cam = o.config.cameras[static_cast<std::size_t>(c)];
  auto source = ingest::open_source(cam);
  if (!source) {
    std::fprintf(stderr, "camera %s: %s\n", cam.name.c_str(), source.error().c_str());
    shared.failed.store(1, std::memory_order_relaxed);
    _exit(2);
  }
  const auto period = cam.fps > 0
                          ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / cam.fps))
                          : Clock::duration::zero();
  auto due = Clock::now();
  cv::Mat frame;
  std::vector<std::uint8_t> encoded;
  std::string error;
  const std::uint32_t slots = cam.slots > 0 ? cam.slots : static_cast<std::uint32_t>(o.config.workers.count + 2);
  for (std::uint64_t i = 0; i < cam.frames && shared.failed.load(std::memory_order_relaxed) == 0; ++i) {
    if (period > Clock::duration::zero()) {
      std::this_thread::sleep_until(due);
      due = std::max(due + period, Clock::now() - period);
    }
    std::uint64_t capture = bus::monotonic_ns();
    if ((*source)->read(frame, error) != ingest::ReadStatus::frame) {
      std::fprintf(stderr, "camera %s: %s\n", cam.name.c_str(), error.c_str());
      shared.failed.store(1, std::memory_order_relaxed);
      _exit(2);
    }
    if ((*source)->captured_by_read()) capture = bus::monotonic_ns();
    // relaxed: a count for back-pressure; the file itself is the hand-over.
    while (shared.waiting[c].load(std::memory_order_relaxed) >= slots) {
      if (shared.failed.load(std::memory_order_relaxed) != 0) _exit(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const std::uint8_t* bytes = frame.data;
    std::size_t size = frame.total() * frame.elemSize();
    if (o.format == SpoolFormat::jpeg) {
      cv::imencode(".jpg", frame, encoded);  // OpenCV's default quality, 95
      bytes = encoded.data();
      size = encoded.size();
    } else if (!frame.isContinuous()) {
      frame = frame.clone();
      bytes = frame.data;
    }
    const std::string name = spool_name({c, i, frame.cols, frame.rows, capture}, o.format);
    const auto temporary = o.spool / ("." + name);
    if (!write_file(temporary, bytes, size)) {
      std::fprintf(stderr, "camera %s: cannot write %s\n", cam.name.c_str(), temporary.c_str());
      shared.failed.store(1, std::memory_order_relaxed);
      _exit(2);
    }
    shared.waiting[c].fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t bytes_now = shared.spool_bytes.fetch_add(size, std::memory_order_relaxed) + size;
    std::uint64_t peak = shared.peak_spool_bytes.load(std::memory_order_relaxed);
    // relaxed: a statistic; the loop only keeps the largest value seen.
    while (bytes_now > peak &&
           !shared.peak_spool_bytes.compare_exchange_weak(peak, bytes_now, std::memory_order_relaxed)) {
    }
    // The rename makes the whole file appear at once (and wakes the workers).
    if (::rename(temporary.c_str(), (o.spool / name).c_str()) != 0) {
      std::fprintf(stderr, "camera %s: cannot rename %s\n", cam.name.c_str(), temporary.c_str());
      shared.failed.store(1, std::memory_order_relaxed);
      _exit(2);
    }
  }
  _exit(0);
}

// One claimed file: read, decode, detect, delete, record.
bool process_file(const std::filesystem::path& file, const SpoolName& n, SpoolFormat format, detect::Detector& detector,
                  std::vector<std::uint8_t>& buffer, Shared& shared) {
  if (!read_file(file, buffer)) return false;
  cv::Mat image;
  if (format == SpoolFormat::jpeg) {
    image = cv::imdecode(buffer, cv::IMREAD_COLOR);
  } else if (buffer.size() == static_cast<std::size_t>(n.width) * static_cast<std::size_t>(n.height) * 3) {
    image = cv::Mat(n.height, n.width, CV_8UC3, buffer.data());
  }
  if (image.empty()) return false;
  const auto out =
      detector.detect({.data = image.data, .width = image.cols, .height = image.rows, .stride = image.step}, {});
  if (!out) return false;
  const std::uint64_t done = bus::monotonic_ns();
  if (::unlink(file.c_str()) != 0) return false;
  shared.waiting[n.camera].fetch_sub(1, std::memory_order_relaxed);
  shared.spool_bytes.fetch_sub(buffer.size(), std::memory_order_relaxed);
  // relaxed: each worker writes its own record; the parent reads after waitpid.
  const std::uint64_t slot = shared.next_record.fetch_add(1, std::memory_order_relaxed);
  records_of(shared)[slot] = {n.index, n.capture_ns, done,
                              static_cast<float>(out->times.inference_ms + out->times.postprocess_ms)};
  return true;
}

[[noreturn]] void worker_process(const FileTransportOptions& o, int w, Shared& shared, std::uint64_t total) {
  detect::ModelOptions model = o.config.model.options;
  model.threads = o.config.workers.threads;
  auto detector = detect::Detector::open(model);
  const int watch = inotify_init1(IN_CLOEXEC);
  const auto claimed = o.spool / fmt::format("worker{}", w);
  std::error_code ec;
  std::filesystem::create_directory(claimed, ec);
  if (!detector || watch < 0 || inotify_add_watch(watch, o.spool.c_str(), IN_MOVED_TO) < 0) {
    std::fprintf(stderr, "file-I/O worker %d: %s\n", w, detector ? "inotify failed" : detector.error().message.c_str());
    shared.failed.store(1, std::memory_order_relaxed);
    _exit(2);
  }
  detector->warm_up();  // as the pipeline's workers do
  shared.workers_ready.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::uint8_t> buffer;
  alignas(inotify_event) char events[64 * 1024];
  while (shared.next_record.load(std::memory_order_relaxed) < total &&
         shared.failed.load(std::memory_order_relaxed) == 0) {
    pollfd p{watch, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t len = ::read(watch, events, sizeof events);
    for (ssize_t at = 0; at < len;) {
      const auto* e = reinterpret_cast<const inotify_event*>(events + at);  // NOLINT: the kernel's record layout
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      SpoolName n;
      if (e->len == 0 || e->name[0] == '.' || !parse_spool_name(e->name, n)) continue;
      // Whoever renames the file first has it; the others find it gone.
      if (::rename((o.spool / e->name).c_str(), (claimed / e->name).c_str()) != 0) continue;
      if (!process_file(claimed / e->name, n, o.format, *detector, buffer, shared)) {
        std::fprintf(stderr, "file-I/O worker %d: cannot process %s\n", w, e->name);
        shared.failed.store(1, std::memory_order_relaxed);
        _exit(2);
      }
    }
  }
  _exit(0);
}

// The architecture's root process: workers first (ready before any file
// appears), then cameras; it waits for every frame to be done.
[[noreturn]] void root_process(const FileTransportOptions& o, Shared& shared, std::uint64_t total) {
  std::vector<pid_t> children;
  for (int w = 0; w < o.config.workers.count; ++w) {
    const pid_t pid = fork();
    if (pid == 0) worker_process(o, w, shared, total);
    children.push_back(pid);
  }
  const auto deadline = Clock::now() + kFinishTimeout;
  while (shared.workers_ready.load(std::memory_order_relaxed) < static_cast<std::uint32_t>(o.config.workers.count) &&
         shared.failed.load(std::memory_order_relaxed) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int c = 0; c < static_cast<int>(o.config.cameras.size()); ++c) {
    const pid_t pid = fork();
    if (pid == 0) camera_process(o, c, shared);
    children.push_back(pid);
  }
  bool ok = true;
  std::size_t running = children.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --running;
      ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else if (pid < 0) {
      break;
    } else {
      // A run past the deadline has hung (every worker gone, say): stop it.
      if (Clock::now() > deadline) shared.failed.store(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  _exit(ok ? 0 : 1);
}

}  // namespace

ArchitectureRun run_file_transport(const FileTransportOptions& o) {
  ArchitectureRun run;
  const std::uint64_t total = total_frames(o.config);
  if (o.config.cameras.size() > kMaxCameras) {
    run.error = fmt::format("at most {} cameras", kMaxCameras);
    return run;
  }
  void* mapping = mmap(nullptr, shared_size(total), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    run.error = "cannot map the shared counters";
    return run;
  }
  auto* shared = new (mapping) Shared{};
  const double cpu_before = cpu_seconds_of_children();
  const auto start = Clock::now();
  const pid_t root = fork();
  if (root == 0) root_process(o, *shared, total);
  const WatchedExit exit = wait_sampling_memory(root);
  run.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  run.cpu_s = cpu_seconds_of_children() - cpu_before;
  run.peak_pss_mb = exit.peak_pss_mb;
  run.peak_spool_bytes = shared->peak_spool_bytes.load(std::memory_order_relaxed);
  const std::uint64_t done = std::min(total, shared->next_record.load(std::memory_order_relaxed));
  run.frames.assign(records_of(*shared), records_of(*shared) + done);
  if (!WIFEXITED(exit.status) || WEXITSTATUS(exit.status) != 0 || done != total) {
    run.error = fmt::format("the file-I/O run stopped after {} of {} frames", done, total);
  }
  munmap(mapping, shared_size(total));
  return run;
}

}  // namespace shmyolo::bench

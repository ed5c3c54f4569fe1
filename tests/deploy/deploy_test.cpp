// What containers and clusters do to a pipeline, done for real without a
// container engine: `unshare` gives each side its own mount and PID
// namespaces and a private tmpfs on /dev/shm, as two containers have; a run
// as an unprivileged user; a hugetlbfs --shm-dir with and without huge pages.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using shmyolo::test::run;
using shmyolo::test::spawn;
using shmyolo::test::Spawned;
using shmyolo::test::wait_exit;

const std::string kShapes = shmyolo::test::source_dir() + "/models/shapes-320.onnx";
const std::string kSource = shmyolo::test::source_dir();

// A folder under /tmp (not /dev/shm: a private tmpfs mounted over /dev/shm
// would hide it) that both "containers" see, as a shared volume is.
class Folder {
 public:
  explicit Folder(const std::string& what)
      : path_(std::filesystem::temp_directory_path() / ("shmyolo-test-" + what + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~Folder() { std::filesystem::remove_all(path_); }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::vector<std::string> segments() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      if (e.path().filename().string().starts_with("shmyolo.")) names.push_back(e.path().filename());
    }
    return names;
  }

 private:
  std::filesystem::path path_;
};

bool is_root_with(const char* tool) {
  return ::geteuid() == 0 && ::access(tool, X_OK) == 0;
}

// Whether this machine lets us make mount and PID namespaces with a private
// tmpfs (root, unshare, and no container policy forbidding it).
bool can_make_namespaces() {
  return is_root_with("/usr/bin/unshare") &&
         run({"/usr/bin/unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--", "/bin/sh", "-c",
              "mount -t tmpfs -o size=1m tmpfs /dev/shm"})
                 .exit_code == 0;
}

// Runs `command` as a container would: its own mount and PID namespaces and
// its own empty /dev/shm. The command dies with the returned unshare process
// (--kill-child); stop_container() is `docker stop`.
Spawned in_container(const std::string& command) {
  return spawn({"/usr/bin/unshare", "--mount", "--pid", "--fork", "--kill-child=SIGTERM", "--propagation", "private",
                "--", "/bin/sh", "-c", "mount -t tmpfs -o size=256m tmpfs /dev/shm && exec " + command});
}

// SIGTERM to the container's first process (unshare itself blocks SIGTERM
// while it waits for its child), then the container's exit status.
std::optional<int> stop_container(const Spawned& container) {
  std::ifstream in("/proc/" + std::to_string(container.pid) + "/task/" + std::to_string(container.pid) + "/children");
  for (pid_t child = 0; in >> child;) ::kill(child, SIGTERM);
  return wait_exit(container.pid, 30s);
}

std::string shmyolo_run(const std::filesystem::path& config, const std::string& args) {
  return shmyolo::test::shmyolo_bin() + " run " + config.string() + " " + args;
}

// Two synthetic cameras, queue delivery (every frame owed a result), one
// JSON line per frame. fps 0: as fast as the workers go.
std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& name,
                                   const std::string& fps = "10",
                                   const std::string& workers = "{count: 2, threads: 1}") {
  auto file = dir / "pipeline.yaml";
  std::ofstream(file) << "name: " << name << "\nmodel: {path: " << kShapes << ", confidence: 0.5}\n"
                      << "workers: " << workers << "\n"
                      << "cameras:\n"
                      << "  - {name: gate, source: \"synthetic:?seed=21\", fps: " << fps << ", delivery: queue}\n"
                      << "  - {name: yard, source: \"synthetic:?seed=22\", fps: " << fps << ", delivery: queue}\n"
                      << "outputs: {jsonl: " << (dir / "out.jsonl").string() << ", stats_interval: 1}\n";
  return file;
}

// The first process named `comm` under `root`, searching its descendants.
pid_t descendant_named(pid_t root, const std::string& comm) {
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    std::ifstream names("/proc/" + std::to_string(p) + "/comm");
    std::string name;
    std::getline(names, name);
    if (name == comm) return p;
    std::ifstream children("/proc/" + std::to_string(p) + "/task/" + std::to_string(p) + "/children");
    for (pid_t c = 0; children >> c;) todo.push_back(c);
  }
  return -1;
}

std::vector<json> lines_of(const std::filesystem::path& file) {
  std::vector<json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// Complete lines in a file that is still being written.
std::size_t count_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  return static_cast<std::size_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

// Every frame a camera read has exactly one result.
void expect_each_frame_once(const std::filesystem::path& jsonl, const json& stats) {
  std::map<std::string, std::multiset<std::uint64_t>> seqs;
  for (const auto& l : lines_of(jsonl)) seqs[l["camera"]].insert(l["seq"].get<std::uint64_t>());
  for (const auto& cam : stats["cameras"]) {
    const auto in = cam["frames_in"].get<std::uint64_t>();
    EXPECT_GT(in, 10U) << cam;
    EXPECT_EQ(cam["frames_out"].get<std::uint64_t>(), in) << cam;
    EXPECT_EQ(seqs[cam["camera"]].size(), in) << cam["camera"];
  }
}

}  // namespace

// The deployment the compose file and the Kubernetes manifest describe: an
// ingest container and a workers container, each with its own /dev/shm and
// PID numbering, on one shared volume (--shm-dir). Frames cross, a worker
// SIGKILLed mid-frame loses nothing, every frame gets its result, and both
// sides leave the volume empty.
TEST(Deploy, IngestAndWorkersInSeparateContainersShareOneVolume) {
  if (!can_make_namespaces()) GTEST_SKIP() << "needs root and unshare --mount --pid";
  const Folder work("roles"), volume("volume");
  // Unpaced, so the workers are always mid-frame; a lease (stuck_after + 5 s)
  // longer than the stop's 60 s drain, so only an immediate take-back of the
  // killed worker's frame lets every frame through.
  const auto config =
      write_config(work.path(), "split" + std::to_string(::getpid()), "0", "{count: 2, threads: 1, stuck_after: 60}");
  const std::string dir = " --shm-dir " + volume.path().string();
  // Workers first: they wait for the ingest side's segments to appear.
  const Spawned workers = in_container(shmyolo_run(config, "--role workers" + dir));
  std::string seen;
  ASSERT_TRUE(shmyolo::test::read_until(workers.stdout_fd, "waiting for pipeline", 60s, &seen)) << seen;
  const auto stats = work.path() / "stats.json";
  const Spawned ingest =
      in_container(shmyolo_run(config, "--role ingest --duration 6 --stats-json " + stats.string() + dir));
  ASSERT_TRUE(shmyolo::test::read_until(workers.stdout_fd, "workers attached", 60s, &seen)) << seen;
  // Frames are flowing through both workers before one is killed.
  const auto out = work.path() / "out.jsonl";
  for (const auto until = std::chrono::steady_clock::now() + 60s;
       count_lines(out) < 10 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(count_lines(out), 10U);
  const pid_t worker = descendant_named(workers.pid, "shmyolo-worker0");
  ASSERT_GT(worker, 0);
  ::kill(worker, SIGKILL);
  const auto ingest_code = wait_exit(ingest.pid, 120s);
  const std::string ingest_out = shmyolo::test::read_output(ingest.stdout_fd, 1s);
  EXPECT_EQ(ingest_code.value_or(-1), 0) << ingest_out;
  // The workers noticed that side stop and wait for it again; docker stop ends them.
  EXPECT_TRUE(shmyolo::test::read_until(workers.stdout_fd, "waiting for it to start again", 10s, &seen)) << seen;
  EXPECT_EQ(stop_container(workers).value_or(-1), 0);
  EXPECT_NE(seen.find("2 workers attached in " + volume.path().string()), std::string::npos) << seen;
  EXPECT_NE(seen.find("worker 0 was killed by signal 9; restarting"), std::string::npos) << seen;
  ASSERT_TRUE(std::filesystem::exists(stats)) << ingest_out;
  expect_each_frame_once(work.path() / "out.jsonl", read_json(stats));
  EXPECT_TRUE(volume.segments().empty());
}

// The mistake the issue is about: the workers' container does not share the
// ingest container's /dev/shm. The workers say so in one line, name the
// process that has the segments, and give the fixes; nothing is left behind.
TEST(Deploy, WorkersWithoutTheIngestSidesShmAreToldHowToShareIt) {
  if (!can_make_namespaces()) GTEST_SKIP() << "needs root and unshare --mount --pid";
  const Folder work("noshare");
  const std::string name = "noshare" + std::to_string(::getpid());
  const auto config = write_config(work.path(), name);
  const Spawned ingest = in_container(shmyolo_run(config, "--role ingest --duration 60"));
  std::string seen;
  ASSERT_TRUE(shmyolo::test::read_until(ingest.stdout_fd, "pipeline " + name, 60s, &seen)) << seen;
  // Here, outside its namespace: the host's /dev/shm.
  const Spawned workers = spawn({shmyolo::test::shmyolo_bin(), "run", config.string(), "--role", "workers"});
  std::string said;
  const bool told = shmyolo::test::read_until(workers.stdout_fd, "--shm-dir", 30s, &said);
  ::kill(workers.pid, SIGTERM);
  EXPECT_EQ(wait_exit(workers.pid, 30s).value_or(-1), 0);
  EXPECT_EQ(stop_container(ingest).value_or(-1), 0);
  ASSERT_TRUE(told) << said;
  const auto line_start = said.rfind('\n', said.find("do not share /dev/shm"));
  const std::string line = said.substr(line_start == std::string::npos ? 0 : line_start + 1);
  EXPECT_NE(line.find("shmyolo." + name + ".status"), std::string::npos) << said;
  EXPECT_NE(line.find("do not share /dev/shm"), std::string::npos) << said;
  EXPECT_NE(line.find("ipc"), std::string::npos) << said;
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/shmyolo." + name + ".status"));
}

// As the Dockerfile's unprivileged user: the pipeline runs, its segments are
// that user's with mode 0600, and another user can neither read them nor
// attach; the error says whose they are and what to do.
TEST(Deploy, UnprivilegedRunKeepsItsSegmentsFromOtherUsers) {
  if (!is_root_with("/usr/bin/setpriv")) GTEST_SKIP() << "needs root and setpriv to switch users";
  const std::vector<std::string> as_nobody{"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
  auto version = as_nobody;
  version.push_back(shmyolo::test::shmyolo_bin());
  version.emplace_back("--version");
  if (run(version).exit_code != 0) GTEST_SKIP() << "the build folder is not readable by user nobody";
  const Folder work("nobody"), volume("nobody-shm");
  ::chmod(work.path().c_str(), 0777);    // the pipeline's outputs go here
  ::chmod(volume.path().c_str(), 0777);  // as a fresh tmpfs is: anyone may create
  const std::string name = "nobody" + std::to_string(::getpid());
  const auto config = write_config(work.path(), name);
  auto command = as_nobody;
  command.insert(command.end(), {shmyolo::test::shmyolo_bin(), "run", config.string(), "--duration", "8", "--shm-dir",
                                 volume.path().string()});
  const Spawned pipeline = spawn(command);
  std::string seen;
  ASSERT_TRUE(shmyolo::test::read_until(pipeline.stdout_fd, "pipeline " + name, 60s, &seen)) << seen;
  const auto status = volume.path() / ("shmyolo." + name + ".status");
  struct stat st {};
  ASSERT_EQ(::stat(status.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534U);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const auto other =
      run({"/usr/bin/setpriv", "--reuid=daemon", "--regid=daemon", "--clear-groups", shmyolo::test::shmyolo_bin(),
           "inspect", status.filename(), "--shm-dir", volume.path().string()});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("permission denied"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find(status.filename().string()), std::string::npos) << other.output;
  const auto code = wait_exit(pipeline.pid, 60s);
  EXPECT_EQ(code.value_or(-1), 0) << seen << shmyolo::test::read_output(pipeline.stdout_fd, 1s);
  EXPECT_GT(lines_of(work.path() / "out.jsonl").size(), 10U);
  EXPECT_TRUE(volume.segments().empty());
}

namespace {

// The kernel's pool of 2 MiB huge pages, set for one test and put back.
class HugePages {
 public:
  explicit HugePages(int pages) {
    std::ifstream("/proc/sys/vm/nr_hugepages") >> before_;
    std::ofstream("/proc/sys/vm/nr_hugepages") << pages;
  }
  ~HugePages() { std::ofstream("/proc/sys/vm/nr_hugepages") << before_; }
  HugePages(const HugePages&) = delete;
  HugePages& operator=(const HugePages&) = delete;
  [[nodiscard]] static int free_pages() {
    std::ifstream in("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
    int n = -1;
    in >> n;
    return n;
  }

 private:
  int before_ = 0;
};

// `shmyolo run` with --shm-dir on a fresh hugetlbfs mount in a private mount
// namespace (so no mount outlives the test).
shmyolo::test::RunResult run_on_hugetlbfs(const std::filesystem::path& config, const std::filesystem::path& mount) {
  return run({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
              "mount -t hugetlbfs none " + mount.string() + " && exec " +
                  shmyolo_run(config, "--duration 3 --shm-dir " + mount.string())},
             120s);
}

}  // namespace

TEST(Deploy, HugetlbfsShmDirWorksWithHugePagesAndExplainsWithout) {
  if (!is_root_with("/usr/bin/unshare") || !std::filesystem::exists("/sys/kernel/mm/hugepages/hugepages-2048kB"))
    GTEST_SKIP() << "needs root, unshare and 2 MiB huge page support";
  const Folder work("huge"), mount("hugetlbfs");
  const auto config = write_config(work.path(), "huge" + std::to_string(::getpid()));
  {
    const HugePages none(0);
    if (HugePages::free_pages() != 0) GTEST_SKIP() << "huge pages in use elsewhere";
    const auto r = run_on_hugetlbfs(config, mount.path());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("hugetlbfs mount and needs"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("/proc/sys/vm/nr_hugepages"), std::string::npos) << r.output;
  }
  {
    // 2 camera rings + 2 result rings + status, one 2 MiB page each at this size, and spare.
    const HugePages some(16);
    if (HugePages::free_pages() < 5) GTEST_SKIP() << "the kernel would not reserve huge pages";
    const auto r = run_on_hugetlbfs(config, mount.path());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("in " + mount.path().string()), std::string::npos) << r.output;
    EXPECT_GT(lines_of(work.path() / "out.jsonl").size(), 10U) << r.output;
    EXPECT_EQ(HugePages::free_pages(), 16) << "every huge page is given back";
  }
}

// What the image's runtime stage copies: `cmake --install` lays out
// bin/shmyolo, lib/libonnxruntime.so.1 and share/shmyolo/models. That tree,
// with the checkout's models hidden and Docker's default 64 MB /dev/shm, runs
// the demo with its bundled model as an unprivileged user.
TEST(Deploy, InstalledTreeRunsTheDemoOnItsOwn) {
  if (!is_root_with("/usr/bin/unshare") || !is_root_with("/usr/bin/setpriv")) GTEST_SKIP() << "needs root";
  const Folder prefix("install");
  const auto install =
      run({"/usr/bin/cmake", "--install", shmyolo::test::binary_dir(), "--prefix", prefix.path().string()});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  const auto bin = prefix.path() / "bin/shmyolo";
  const auto ldd = run({"/usr/bin/ldd", bin.string()});
  const bool system_ort = ldd.output.find("libonnxruntime.so.1 => /usr/") != std::string::npos;
  if (!system_ort) {
    EXPECT_NE(ldd.output.find("libonnxruntime.so.1 => " + (prefix.path() / "bin/../lib").string()), std::string::npos)
        << ldd.output;
  }
  ::chmod(prefix.path().c_str(), 0755);
  const auto r = run({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                      "mount -t tmpfs -o size=64m tmpfs /dev/shm && mount -t tmpfs -o size=1m tmpfs " + kSource +
                          "/models && exec /usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups " +
                          bin.string() + " demo --duration 3"},
                     120s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("model shapes-320.onnx"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("precision"), std::string::npos) << r.output;
}

// Memory the workers share: the model is loaded once, before the workers are
// forked, so a second worker adds its own activations and little else. The
// whole pipeline's proportional set size (PSS: each shared page split among
// the processes that map it) is measured with no worker, one and two.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kYolov8n = shmyolo::test::shared_dir() + "/models/yolov8n/yolov8n_fp32_from_int8.onnx";

// A /proc/<pid>/smaps_rollup field, in KiB (0 when the process is gone).
std::uint64_t rollup_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(in, line);) {  // "Pss:     1234 kB", after the range's line
    if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}

pid_t parent_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const auto close = all.rfind(')');  // the name may hold spaces and parentheses
  if (close == std::string::npos) return -1;
  std::istringstream rest(all.substr(close + 2));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// The pipeline's processes: the supervisor and its children.
std::set<pid_t> pipeline_of(pid_t supervisor) {
  std::set<pid_t> pids{supervisor};
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stoi(name));
    if (parent_of(pid) == supervisor) pids.insert(pid);
  }
  return pids;
}

class WorkerMemory : public ::testing::Test {
 protected:
  struct Measured {
    std::uint64_t pss_kib = 0;                       // summed over the pipeline's processes
    std::uint64_t supervisor_private_clean_kib = 0;  // file pages the supervisor alone maps
  };

  // The memory of a running pipeline of `workers` workers (0: the ingest
  // side alone, `--role ingest`), once every worker has run.
  Measured measure(int workers) {
    const fs::path config = temp_.path() / "memory.yaml";
    const fs::path results = temp_.path() / "results.jsonl";
    fs::remove(results);
    std::ofstream(config) << "name: mem\nshm_dir: " << shm_.path().string() << "\nmodel: {path: " << kYolov8n
                          << "}\nworkers: {count: " << std::max(workers, 1)
                          << "}\ncameras: [{name: cam, source: \"synthetic:?width=640&height=480\", fps: 8}]\n"
                          << "outputs: {jsonl: " << results.string() << "}\n";
    std::vector<std::string> argv{shmyolo::test::shmyolo_bin(), "run", config.string()};
    if (workers == 0) argv.insert(argv.end(), {"--role", "ingest"});
    auto run = shmyolo::test::spawn(argv);
    std::string seen;
    EXPECT_TRUE(shmyolo::test::read_until(run.stdout_fd, "pipeline mem:", 60s, &seen)) << seen;
    // Each worker has run the model on frames (its activations allocated),
    // or, with no worker, the ingest side has settled.
    for (int i = 0; i < 600 && workers > 0; ++i) {
      std::ifstream in(results);
      if (std::count(std::istreambuf_iterator<char>(in), {}, '\n') >= 8L * workers) break;
      std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(1s);
    Measured m;
    for (const pid_t pid : pipeline_of(run.pid)) m.pss_kib += rollup_kib(pid, "Pss");
    m.supervisor_private_clean_kib = rollup_kib(run.pid, "Private_Clean");
    kill(run.pid, SIGINT);
    EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
    return m;
  }

  std::uint64_t pipeline_pss(int workers) { return measure(workers).pss_kib; }

  shmyolo::test::TempDir temp_;
  shmyolo::test::TempShmDir shm_;
};

TEST_F(WorkerMemory, ASecondWorkerAddsAtMostSixtyPercentOfTheFirst) {
  const std::uint64_t none = pipeline_pss(0);
  const std::uint64_t one = pipeline_pss(1);
  const std::uint64_t two = pipeline_pss(2);
  ASSERT_GT(one, none);
  const double first = static_cast<double>(one - none);
  const double second = static_cast<double>(two) - static_cast<double>(one);
  std::printf(
      "pipeline PSS: no worker %.1f MiB, one %.1f MiB, two %.1f MiB; the first worker costs %.1f MiB, the "
      "second %.1f MiB (%.0f %%)\n",
      static_cast<double>(none) / 1024, static_cast<double>(one) / 1024, static_cast<double>(two) / 1024, first / 1024,
      second / 1024, 100 * second / first);
  EXPECT_LE(second, 0.6 * first);
  EXPECT_TRUE(shm_.entries().empty());
}

// The supervisor's libraries' loading and the model's touched tens of MB of
// file pages no other process maps (64 MB of a 2-camera pipeline's); once
// every child is forked, the supervisor gives them back (startup_pages.hpp).
// Pages another test's pipeline also mapped at that moment are kept, and
// become this one's alone when that pipeline exits (18 MiB once, under
// ASan): these tests run with no other (ALONE in tests/pipeline/CMakeLists.txt).
TEST_F(WorkerMemory, TheSupervisorKeepsNoPagesItOnlyNeededToStart) {
  const Measured m = measure(1);
  std::printf("the supervisor's private file pages: %.1f MiB\n",
              static_cast<double>(m.supervisor_private_clean_kib) / 1024);
  EXPECT_LT(m.supervisor_private_clean_kib, 4U * 1024);
  EXPECT_TRUE(shm_.entries().empty());
}

}  // namespace

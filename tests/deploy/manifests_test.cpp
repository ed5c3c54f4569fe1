// The deployment files (Dockerfile, docker-compose.yml, deploy/) agree with
// each other and with shmyolo: the roles they start exist, both containers
// share one /dev/shm, its size is what `--print-shm-size` asks for the
// shipped config, and the users match. Then the shipped config runs the way
// compose runs it, against a real broker. Validated by docker-compose and
// kubectl where those clients are installed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;

const std::filesystem::path kSource = shmyolo::test::source_dir();

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// deploy/pipeline.yaml with the model path of this checkout (the file names
// the image's) and, optionally, the MQTT broker at 127.0.0.1:port.
void replace(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

// The digits right after `prefix` in `text`; 0 when there are none.
std::uint64_t number_after(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos) return 0;
  std::uint64_t n = 0;
  for (auto i = at + prefix.size(); i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i)
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
  return n;
}

constexpr int kShippedHttpPort = 8080;

// The shipped config, runnable here: this checkout's model, the broker and
// HTTP port given (HTTP port 0: any free one).
std::filesystem::path local_pipeline(const std::filesystem::path& dir, int mqtt_port = 0, int http_port = 0) {
  std::string text = read_text(kSource / "deploy/pipeline.yaml");
  replace(text, "/usr/local/share/shmyolo/models/", (kSource / "models/").string());
  if (mqtt_port > 0) replace(text, "host: mqtt, port: 1883", "host: 127.0.0.1, port: " + std::to_string(mqtt_port));
  replace(text, "http: {port: " + std::to_string(kShippedHttpPort) + ", bind: 0.0.0.0, auth: none}",
          "http: {port: " + std::to_string(http_port) + ", bind: 0.0.0.0, auth: none}");
  auto file = dir / "pipeline.yaml";
  std::ofstream(file) << text;
  return file;
}

class Dir {
 public:
  Dir() : path_(std::filesystem::temp_directory_path() / ("shmyolo-test-manifests-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~Dir() { std::filesystem::remove_all(path_); }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The MiB that `shmyolo run --print-shm-size` recommends for the shipped config.
std::uint64_t recommended_mib() {
  const Dir dir;
  const auto r = shmyolo::test::run(
      {shmyolo::test::shmyolo_bin(), "run", local_pipeline(dir.path()).string(), "--print-shm-size"});
  const auto mib = number_after(r.output, "--shm-size=");
  if (r.exit_code != 0 || mib == 0) ADD_FAILURE() << r.output;
  return mib;
}

// "13m" / "13Mi" -> 13; anything else -> 0.
std::uint64_t mib_of(const std::string& size, const std::string& unit) {
  if (!size.ends_with(unit)) return 0;
  const std::string digits = size.substr(0, size.size() - unit.size());
  if (digits.empty() ||
      !std::ranges::all_of(digits, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return 0;
  return std::stoull(digits);
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

std::vector<std::string> run_args(const std::string& role) {
  return {"run", "/etc/shmyolo/pipeline.yaml", "--role", role};
}

bool on_path(const std::string& program) {
  return shmyolo::test::run({"/bin/sh", "-c", "command -v " + program}).exit_code == 0;
}

}  // namespace

TEST(Manifests, ComposeSharesTheIngestSidesShmSizedForTheConfig) {
  const YAML::Node compose = YAML::LoadFile(kSource / "docker-compose.yml");
  const YAML::Node ingest = compose["services"]["ingest"];
  const YAML::Node workers = compose["services"]["workers"];
  EXPECT_EQ(strings(ingest["command"]), run_args("ingest"));
  EXPECT_EQ(strings(workers["command"]), run_args("workers"));
  EXPECT_EQ(ingest["ipc"].as<std::string>(), "shareable");
  EXPECT_EQ(YAML::LoadFile(kSource / "deploy/pipeline.yaml")["http"]["port"].as<int>(), kShippedHttpPort);
  EXPECT_EQ(strings(ingest["ports"]), std::vector<std::string>{"8080:8080"}) << "publish the config's http.port";
  EXPECT_EQ(workers["ipc"].as<std::string>(), "service:ingest");
  const auto needed = recommended_mib();
  EXPECT_GE(mib_of(ingest["shm_size"].as<std::string>(), "m"), needed) << "shm_size is below --print-shm-size";
  for (const auto& service : {ingest, workers}) {
    EXPECT_EQ(strings(service["volumes"]),
              std::vector<std::string>{"./deploy/pipeline.yaml:/etc/shmyolo/pipeline.yaml:ro"});
  }
}

TEST(Manifests, KubernetesPodSharesAMemoryEmptyDirAtDevShm) {
  const auto docs = YAML::LoadAllFromFile(kSource / "deploy/kubernetes.yaml");
  YAML::Node pod;
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == "Deployment" && d["metadata"]["name"].as<std::string>() == "shmyolo")
      pod = d["spec"]["template"]["spec"];
  }
  ASSERT_TRUE(pod.IsMap());
  std::string shm_volume;
  for (const auto& v : pod["volumes"]) {
    if (v["emptyDir"] && v["emptyDir"]["medium"] && v["emptyDir"]["medium"].as<std::string>() == "Memory") {
      shm_volume = v["name"].as<std::string>();
      EXPECT_GE(mib_of(v["emptyDir"]["sizeLimit"].as<std::string>(), "Mi"), recommended_mib())
          << "sizeLimit is below --print-shm-size";
    }
  }
  ASSERT_FALSE(shm_volume.empty());
  std::vector<std::string> roles;
  for (const auto& c : pod["containers"]) {
    const auto args = strings(c["args"]);
    roles.push_back(args.back());
    EXPECT_EQ(args, run_args(args.back()));
    bool shares = false;
    for (const auto& m : c["volumeMounts"]) {
      shares |= m["name"].as<std::string>() == shm_volume && m["mountPath"].as<std::string>() == "/dev/shm";
    }
    EXPECT_TRUE(shares) << c["name"].as<std::string>() << " does not mount the shared emptyDir at /dev/shm";
  }
  EXPECT_EQ(roles, (std::vector<std::string>{"ingest", "workers"}));
  // The HTTP front runs with the aggregator, in the ingest container: its
  // port is the config's, ready when a worker is, alive while it answers.
  const YAML::Node ingest = pod["containers"][0];
  EXPECT_EQ(ingest["ports"][0]["containerPort"].as<int>(), kShippedHttpPort);
  const auto port_name = ingest["ports"][0]["name"].as<std::string>();
  EXPECT_EQ(ingest["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(ingest["readinessProbe"]["httpGet"]["port"].as<std::string>(), port_name);
  EXPECT_EQ(ingest["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/metrics");
  EXPECT_EQ(ingest["livenessProbe"]["httpGet"]["port"].as<std::string>(), port_name);
  EXPECT_FALSE(pod["containers"][1]["livenessProbe"]) << "the workers container serves no HTTP";
  // One uid for both containers, the image's: the segments are 0600.
  const auto user = number_after(read_text(kSource / "Dockerfile"), "\nUSER ");
  ASSERT_GT(user, 0U);
  EXPECT_EQ(pod["securityContext"]["runAsUser"].as<std::uint64_t>(), user);
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  // The config map the pod mounts is the one kustomization.yaml makes from deploy/pipeline.yaml.
  const YAML::Node kustomization = YAML::LoadFile(kSource / "deploy/kustomization.yaml");
  const auto generator = kustomization["configMapGenerator"][0];
  EXPECT_EQ(strings(generator["files"]), std::vector<std::string>{"pipeline.yaml"});
  bool mounted = false;
  for (const auto& v : pod["volumes"]) {
    mounted |= v["configMap"] && v["configMap"]["name"].as<std::string>() == generator["name"].as<std::string>();
  }
  EXPECT_TRUE(mounted);
}

TEST(Manifests, DockerComposeAcceptsTheComposeFile) {
  if (!on_path("docker-compose"))
    GTEST_SKIP() << "no docker-compose client here (scripts/install-deps --test installs it)";
  const auto r = shmyolo::test::run(
      {"/bin/sh", "-c", "cd " + kSource.string() + " && docker-compose -f docker-compose.yml config -q"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Manifests, KubectlRendersTheKustomization) {
  if (!on_path("kubectl")) GTEST_SKIP() << "no kubectl client here";
  const auto r = shmyolo::test::run({"/bin/sh", "-c", "kubectl kustomize " + (kSource / "deploy").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("medium: Memory"), std::string::npos) << r.output;
}

// What `docker compose up` does, without Docker: one tmpfs of the compose
// file's shm_size as /dev/shm for both containers, each container in its own
// PID namespace, the shipped config, and a real broker; results arrive
// under the config's topic prefix and /dev/shm is empty afterwards.
TEST(Manifests, ShippedConfigRunsAsComposeRunsIt) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0 || ::access("/usr/sbin/mosquitto", X_OK) != 0)
    GTEST_SKIP() << "needs root, unshare and mosquitto";
  const Dir dir;
  const int port = shmyolo::test::free_port();
  const int http_port = shmyolo::test::free_port();
  const auto config = local_pipeline(dir.path(), port, http_port);
  const YAML::Node compose = YAML::LoadFile(kSource / "docker-compose.yml");
  const std::string shm_size = compose["services"]["ingest"]["shm_size"].as<std::string>();
  const shmyolo::test::Broker broker(port);
  ASSERT_TRUE(broker.ready());
  const auto sub = broker.subscribe("shmyolo/site/#");
  const std::string bin = shmyolo::test::shmyolo_bin();
  const std::string container = "unshare --pid --fork --kill-child=SIGTERM -- ";
  const std::string script = "mount -t tmpfs -o size=" + shm_size + " tmpfs /dev/shm || exit 1\n" + container + bin +
                             " run " + config.string() + " --role workers --duration 9 &\n" + container + bin +
                             " run " + config.string() + " --role ingest --duration 5 || exit 1\nwait $! || exit 1\n" +
                             "echo \"left in /dev/shm: [$(ls -A /dev/shm)]\"";
  // An upload to the ingest side's front, detected by the workers side.
  int upload_status = 0;
  std::string upload;
  std::jthread uploader([&] {
    httplib::Client c("127.0.0.1", http_port);
    c.set_read_timeout(10, 0);
    const std::string image = read_text(shmyolo::test::shared_dir() + "/media/person.jpg");
    for (const auto until = std::chrono::steady_clock::now() + 8s; std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(100ms)) {
      if (const auto h = c.Get("/healthz"); !h || h->status != 200) continue;
      if (const auto d = c.Post("/v1/detect", image, "image/jpeg"); d) {
        upload_status = d->status;
        upload = d->body;
      }
      return;
    }
  });
  const auto r = shmyolo::test::run(
      {"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script}, 120s);
  uploader.join();
  EXPECT_EQ(upload_status, 200) << upload;
  EXPECT_NE(upload.find("\"detections\""), std::string::npos) << upload;
  std::string got;
  const bool detections = shmyolo::test::read_until(sub.stdout_fd, "shmyolo/site/dock/detections", 10s, &got);
  shmyolo::test::stop(sub);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 workers attached in /dev/shm"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("left in /dev/shm: []"), std::string::npos) << r.output;
  EXPECT_TRUE(detections) << got;
  EXPECT_NE(got.find("shmyolo/site/gate/detections"), std::string::npos) << got;
}

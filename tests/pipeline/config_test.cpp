// The pipeline configuration: what it accepts, and one-line errors that name
// the line and the key for what it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <shmyolo/config/pipeline_config.hpp>

#include "test_support.hpp"

namespace {

const std::string kModel = shmyolo::test::source_dir() + "/models/shapes-320.onnx";

shmyolo::config::ConfigResult<shmyolo::config::PipelineConfig> parse(const std::string& text) {
  return shmyolo::config::parse(text, "test.yaml", "/tmp");
}

std::string error_of(const std::string& text) {
  const auto r = parse(text);
  return r ? std::string("(accepted)") : r.error().message;
}

std::string with_model(const std::string& rest) {
  return "model: {path: " + kModel + "}\n" + rest;
}

}  // namespace

TEST(Config, ReadsEveryPart) {
  const auto r = parse(with_model(R"(name: yard
workers: {count: 3, threads: 2, batch: 4, stuck_after: 12}
cameras:
  - name: gate
    source: rtsp://10.0.0.5/stream
    fps: 12.5
    delivery: queue
    slots: 6
    roi: {x: 10, y: 20, width: 300, height: 200}
    undistort: {camera_matrix: [500, 0, 320, 0, 500, 240, 0, 0, 1], distortion: [-0.2, 0.05, 0, 0, 0]}
    color: gray
  - {name: synth, source: "synthetic:?width=320&height=240&seed=9&objects=2-3"}
  - {name: clip, source: clips/a.mp4, loop: true}
  - {name: usb, source: /dev/video0}
outputs: {jsonl: out.jsonl, stats_interval: 2, mqtt: {host: broker, port: 1884, qos: 1}}
)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "yard");
  EXPECT_EQ(r->workers.count, 3);
  EXPECT_EQ(r->workers.batch, 4);
  ASSERT_EQ(r->cameras.size(), 4U);
  const auto& gate = r->cameras[0];
  EXPECT_EQ(gate.kind, shmyolo::config::SourceKind::stream);
  EXPECT_EQ(gate.delivery, shmyolo::bus::Delivery::queue);
  EXPECT_DOUBLE_EQ(gate.fps, 12.5);
  ASSERT_TRUE(gate.roi && gate.undistort);
  EXPECT_EQ(gate.roi.value_or(shmyolo::config::Roi{}).height, 200);
  EXPECT_EQ(gate.undistort.value_or(shmyolo::config::Undistort{}).distortion.size(), 5U);
  EXPECT_EQ(gate.color, shmyolo::config::SourceColor::gray);
  EXPECT_EQ(r->cameras[1].kind, shmyolo::config::SourceKind::synthetic);
  EXPECT_EQ(r->cameras[1].synthetic.seed, 9U);
  EXPECT_EQ(r->cameras[1].synthetic.max_objects, 3);
  EXPECT_EQ(r->cameras[2].kind, shmyolo::config::SourceKind::video_file);
  EXPECT_EQ(r->cameras[2].location, "/tmp/clips/a.mp4");  // relative to the config's folder
  EXPECT_EQ(r->cameras[3].kind, shmyolo::config::SourceKind::device);
  EXPECT_EQ(r->outputs.jsonl, "/tmp/out.jsonl");
  ASSERT_TRUE(r->outputs.mqtt);
  EXPECT_EQ(r->outputs.mqtt.value_or(shmyolo::config::MqttConfig{}).port, 1884);
}

TEST(Config, UnknownKeyNamesItsLineAndTheKeysThatExist) {
  const auto e = error_of(with_model("cameras:\n  - {name: a, source: x.avi}\ncamras: []\n"));
  EXPECT_EQ(e.rfind("test.yaml:4: camras: unknown key (expected one of: name,", 0), 0U) << e;
}

TEST(Config, WrongTypeNamesTheKeyAndTheValue) {
  const auto e = error_of(with_model("cameras:\n  - name: a\n    source: x.avi\n    fps: fast\n"));
  EXPECT_EQ(e, "test.yaml:5: cameras[0].fps: expected a number, got \"fast\"");
}

TEST(Config, MissingModelFile) {
  const auto e = error_of("model: {path: nowhere.onnx}\ncameras: [{name: a, source: x.avi}]\n");
  EXPECT_EQ(e.rfind("test.yaml:1: model.path: no file at /tmp/nowhere.onnx: check the path", 0), 0U) << e;
}

TEST(Config, ZeroWorkers) {
  const auto e = error_of(with_model("workers: {count: 0}\ncameras: [{name: a, source: x.avi}]\n"));
  EXPECT_EQ(e, "test.yaml:2: workers.count: must be 1 to 64, got 0");
}

// A value check names the line of the value, nested keys included.
TEST(Config, ValueChecksNameTheLineOfTheValue) {
  EXPECT_EQ(error_of(with_model("cameras:\n  - {name: a, source: x.avi}\n  - name: b\n    source: y.avi\n"
                                "    roi: {x: 0, y: 0, width: 1, height: 8}\n")),
            "test.yaml:6: cameras[1].roi.width: must be 2 to 65535, got 1");
  EXPECT_EQ(error_of(with_model("cameras: [{name: a, source: x.avi}]\nhttp:\n  bind: localhost\n")),
            "test.yaml:4: http.bind: \"localhost\" is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)");
}

// A config built in code (the demo, serve --model, the benchmarks) meets the
// same rules as one read from YAML, NaN and the pairs of keys included.
TEST(Config, ValidateChecksAConfigBuiltInCode) {
  auto config = parse(with_model("cameras: [{name: a, source: x.avi}]\n"));
  ASSERT_TRUE(config) << config.error().message;
  config->file.clear();
  EXPECT_TRUE(shmyolo::config::validate(*config));
  const auto error_after = [&](auto change) {
    auto c = *config;
    change(c);
    const auto r = shmyolo::config::validate(c);
    return r ? std::string("valid") : r.error().message;
  };
  using shmyolo::config::PipelineConfig;
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.workers.count = 0; }), "workers.count: must be 1 to 64, got 0");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.model.confidence = std::nanf(""); }),
            "model.confidence: must be 0 to 1, got nan");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.cameras.push_back(c.cameras[0]); }),
            "cameras[1].name: \"a\" is used twice: camera names must differ");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.cameras.clear(); }),
            "cameras: missing: list at least one camera (or add http:)");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.name = "no spaces"; }),
            "name: use 1 to 32 of A-Z a-z 0-9 _ - (it names shared-memory segments)");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.http.emplace().tls_cert = "cert.pem"; }),
            "http.tls: cert and key go together (PEM files)");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.outputs.mqtt.emplace().password = "x"; }),
            "outputs.mqtt.password: a password needs outputs.mqtt.username");
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.cameras[0].fps = -2; }), "cameras[0].fps: must be 0 to 1000, got -2");
  config->file = "yard.yaml";
  EXPECT_EQ(error_after([](PipelineConfig& c) { c.workers.batch = 65; }),
            "yard.yaml: workers.batch: must be 1 to 64, got 65");
}

TEST(Config, OtherMistakes) {
  EXPECT_NE(error_of("cameras: [{name: a, source: x.avi}]\n").find("model: missing"), std::string::npos);
  EXPECT_NE(error_of(with_model("")).find("cameras: missing"), std::string::npos);
  EXPECT_NE(error_of(with_model("cameras: [{name: a, source: x.avi}, {name: a, source: y.avi}]")).find("used twice"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("cameras: [{name: 'a b', source: x.avi}]")).find("cameras[0].name"), std::string::npos);
  EXPECT_NE(error_of(with_model("cameras: [{name: a, source: x.avi, delivery: fifo}]")).find("latest or queue"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("cameras: [{name: a, source: 'synthetic:?colour=red'}]")).find("unknown parameter"),
            std::string::npos);
  EXPECT_NE(error_of(with_model("cameras: [{name: a, source: x.avi, roi: {x: 1}}]")).find("roi.y: missing"),
            std::string::npos);
  EXPECT_NE(error_of("model: [1, 2\n").find("not valid YAML"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
}

// A file with several mistakes gets them all in one run, one line each in
// the file's order: a wrong kind, an unknown key (with the nearest one) and a
// value out of range alike.
TEST(Config, EveryMistakeIsToldOnItsOwnLineInTheFilesOrder) {
  const auto e = error_of(with_model(R"(workers: {count: 0, thraeds: 2}
cameras:
  - {name: a, source: x.avi, fsp: 15, decode: some}
  - {name: b, source: y.avi, fps: fast}
outputs: {stats_interval: -1}
)"));
  std::vector<std::string> lines;
  std::istringstream in(e);
  for (std::string line; std::getline(in, line);) lines.push_back(line.substr(0, line.find(" (expected one of")));
  const std::vector<std::string> expected{
      "test.yaml:2: workers.count: must be 1 to 64, got 0",
      "test.yaml:2: workers.thraeds: unknown key",
      "test.yaml:4: cameras[0].fsp: unknown key",
      "test.yaml:4: cameras[0].decode: expected all, keyframes or auto, got \"some\"",
      "test.yaml:5: cameras[1].fps: expected a number, got \"fast\"",
      "test.yaml:6: outputs.stats_interval: must be 0.2 to 3600, got -1",
  };
  EXPECT_EQ(lines, expected) << e;
  EXPECT_NE(e.find("thraeds: unknown key (expected one of: count, threads, batch, stuck_after); did you mean "
                   "\"threads\"?\n"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("; did you mean \"fps\"?\n"), std::string::npos) << e;
}

// A value read wrong keeps its default, which its range would refuse: the
// mistake is told once, as what it is.
TEST(Config, AValueReadWrongIsToldOnce) {
  EXPECT_EQ(error_of(with_model("cameras: [{name: a, source: x.avi, roi: {x: 0, y: 0, width: wide, height: 8}}]\n")),
            "test.yaml:2: cameras[0].roi.width: expected a whole number, got \"wide\"");
}

// Reading stops at a mistake it cannot go past (a camera without a name), and
// says so after the mistakes it had found on the way; a required value of the
// wrong kind is that mistake, not also a missing one.
TEST(Config, AMistakeReadingCannotGoPastComesWithThoseBeforeIt) {
  EXPECT_EQ(error_of(with_model("workers: {count: many}\ncameras:\n  - {source: x.avi}\n  - {name: b, fps: x}\n")),
            "test.yaml:2: workers.count: expected a whole number, got \"many\"\n"
            "test.yaml:4: cameras[0].name: missing");
  EXPECT_EQ(error_of(with_model("cameras:\n  - {name: [a], source: x.avi}\n")),
            "test.yaml:3: cameras[0].name: expected text, got a list");
}

// Found by tests/fuzz/config_fuzz.cpp: a value quoted in a message kept its
// line breaks, and one mistake took several lines.
TEST(Config, AMistakeQuotingTheFileStaysOnOneLine) {
  EXPECT_EQ(error_of(with_model("cameras: [{name: a, source: \"synthetic:?\\n\\twidth=8\"}]\n")),
            "test.yaml:2: cameras[0].source: unknown parameter \"\\n\\twidth\" "
            "(synthetic:?width=640&height=480&seed=1&objects=1-4)");
}

TEST(Config, AtMostTenMistakesAreTold) {
  std::string keys;
  for (int i = 0; i < 14; ++i) keys += fmt::format("  wrong{}: 1\n", i);
  const auto e = error_of(with_model("cameras: [{name: a, source: x.avi}]\noutputs:\n" + keys));
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 10) << e;
  EXPECT_TRUE(e.ends_with("\ntest.yaml: 4 more mistakes after these: fix these, then run again")) << e;
}

TEST(Config, ValidateTellsEveryRuleBroken) {
  auto config = parse(with_model("cameras: [{name: a, source: x.avi}]\n"));
  ASSERT_TRUE(config) << config.error().message;
  config->file = "yard.yaml";
  config->workers.count = 0;
  config->cameras[0].fps = -2;
  const auto r = shmyolo::config::validate(*config);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "yard.yaml: workers.count: must be 1 to 64, got 0\nyard.yaml: cameras[0].fps: must be 0 to 1000, got -2");
}

// shmyolo run stops at a bad config before it makes a segment, each mistake
// on a line of its own.
TEST(Config, ShmyoloRunRefusesABadConfigOneLineAMistake) {
  shmyolo::test::TempShmDir dir;
  const auto file = dir.path() / "bad.yaml";
  std::ofstream(file) << with_model("workers: {count: zero}\ncameras: [{name: a, source: x.avi, fps: -2}]\n");
  const auto r = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "run", file.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output, "shmyolo: " + file.string() + ":2: workers.count: expected a whole number, got \"zero\"\n" +
                          "shmyolo: " + file.string() + ":3: cameras[0].fps: must be 0 to 1000, got -2\n");
  EXPECT_TRUE(dir.entries().empty());
}

// shmyolo run --check: the config read, the model loaded and a start's
// checks made, then one line on success; no segment, file or folder is made.
TEST(Config, RunCheckSaysWhetherItCouldRunAndMakesNothing) {
  shmyolo::test::TempShmDir shm;
  shmyolo::test::TempDir dir;
  const auto config = dir.path() / "yard.yaml";
  std::ofstream(config) << with_model(
      "cameras: [{name: a, source: 'synthetic:'}]\noutputs: {jsonl: out.jsonl, snapshots: {dir: snaps/new}}\n");
  const auto check = [&] {
    return shmyolo::test::run(
        {shmyolo::test::shmyolo_bin(), "run", config.string(), "--check", "--shm-dir", shm.path().string()});
  };
  const auto ok = check();
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(ok.output.starts_with("shmyolo: " + config.string() + ": ready to run pipeline default: 1 camera, "))
      << ok.output;
  EXPECT_TRUE(ok.output.ends_with("; nothing started\n")) << ok.output;
  EXPECT_EQ(std::count(ok.output.begin(), ok.output.end(), '\n'), 1) << ok.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "snaps"));
  EXPECT_TRUE(shm.entries().empty());

  // A camera's file that is not there yet is a warning: a start retries it.
  // A control character in a source is written as an escape: each warning keeps to its line.
  std::ofstream(config) << with_model(
      "cameras: [{name: a, source: 'synthetic:'}, {name: dock, source: later.mp4}, {name: gate, source: "
      "\"gate\\n.mp4\"}]\n");
  const auto warned = check();
  EXPECT_EQ(warned.exit_code, 0) << warned.output;
  EXPECT_NE(warned.output.find("shmyolo: warning: " + config.string() +
                               ": camera dock: later.mp4 does not exist now; a start would retry it until it does\n"),
            std::string::npos)
      << warned.output;
  EXPECT_NE(warned.output.find("\nshmyolo: warning: " + config.string() +
                               ": camera gate: gate\\n.mp4 does not exist now; a start would retry it until it does\n"),
            std::string::npos)
      << warned.output;
  EXPECT_EQ(std::count(warned.output.begin(), warned.output.end(), '\n'), 3) << warned.output;
  EXPECT_NE(warned.output.find(": ready to run pipeline default: 3 cameras, "), std::string::npos) << warned.output;

  // What a start would refuse, --check refuses in the same line.
  std::ofstream(config) << with_model("cameras: [{name: a, source: 'synthetic:'}]\noutputs: {jsonl: no/out.jsonl}\n");
  const auto refused = check();
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.output, "shmyolo: " + config.string() + ": outputs.jsonl: cannot write " +
                                (dir.path() / "no/out.jsonl").string() +
                                " (No such file or directory): check the folder exists and is writable\n");
  const auto model = dir.path() / "broken.onnx";
  std::ofstream(model) << "not a model";
  std::ofstream(config) << "model: {path: broken.onnx}\ncameras: [{name: a, source: 'synthetic:'}]\n";
  const auto broken = check();
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.output.find("cannot load model " + model.string()), std::string::npos) << broken.output;
  EXPECT_TRUE(shm.entries().empty());
}

// YAML's .nan passes every range check (each comparison with NaN is false);
// .inf passes open-ended ones. Every floating-point key refuses both.
TEST(Config, NonFiniteNumbersAreRefusedEverywhere) {
  const std::string camera = "cameras: [{name: a, source: x.avi}]\n";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"model: {path: " + kModel + ", confidence: VALUE}\n" + camera, "model.confidence"},
      {"model: {path: " + kModel + ", iou: VALUE}\n" + camera, "model.iou"},
      {with_model("workers: {stuck_after: VALUE}\n" + camera), "workers.stuck_after"},
      {with_model("outputs: {stats_interval: VALUE}\n" + camera), "outputs.stats_interval"},
      {with_model("cameras: [{name: a, source: x.avi, fps: VALUE}]\n"), "cameras[0].fps"},
      {with_model("http: {max_body_mb: VALUE}\n"), "http.max_body_mb"},
      {with_model("http: {max_megapixels: VALUE}\n"), "http.max_megapixels"},
      {with_model("http: {timeout: VALUE}\n"), "http.timeout"},
      {with_model("http: {read_timeout: VALUE}\n"), "http.read_timeout"},
      {with_model("cameras: [{name: a, source: x.avi, undistort: {camera_matrix: [VALUE, 0, 320, 0, 500, 240, 0, "
                  "0, 1], distortion: [0.1, 0, 0, 0, 0]}}]\n"),
       "undistort.camera_matrix"},
  };
  for (const auto& [text, key] : cases) {
    for (const std::string value : {".nan", ".inf", "-.inf"}) {
      std::string yaml = text;
      yaml.replace(yaml.find("VALUE"), 5, value);
      const auto e = error_of(yaml);
      EXPECT_NE(e.find(key), std::string::npos) << value << " in " << key << ": " << e;
      EXPECT_NE(e.find("expected a finite number, got \"" + value + "\""), std::string::npos) << e;
      EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    }
  }
}

TEST(Config, AnMqttClientIdPastTheProtocolsLimitIsRefused) {
  const auto e = error_of(with_model("outputs: {mqtt: {client_id: " + std::string(70000, 'c') +
                                     "}}\ncameras: [{name: a, source: x.avi}]\n"));
  EXPECT_NE(e.find("outputs.mqtt.client_id: 70000 bytes long"), std::string::npos) << e.substr(0, 300);
}

// Names longer than the file system takes are reported like missing files,
// never as a library's exception text ("filesystem error: ...").
TEST(Config, OverlongPathsAreMissingFilesNotExceptions) {
  const std::string long_name = "/tmp/" + std::string(300, 'x');
  const auto r = parse(with_model("cameras: [{name: a, source: " + long_name + "}]\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cameras[0].kind, shmyolo::config::SourceKind::video_file);
  const auto e = error_of("model: {path: " + long_name + "}\ncameras: [{name: a, source: x.avi}]\n");
  EXPECT_NE(e.find("model.path: no file at"), std::string::npos) << e;
  EXPECT_EQ(e.find("filesystem error"), std::string::npos) << e;
}

TEST(Config, DecodeBudgetFollowsAndCoversTheLargestImage) {
  const auto r = parse(with_model("http: {max_megapixels: 50}\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->http.value_or(shmyolo::config::HttpConfig{}).decode_megapixels, 100);
  const auto e = error_of(with_model("http: {max_megapixels: 50, decode_megapixels: 20}\n"));
  EXPECT_NE(e.find("http.decode_megapixels: 20 is below http.max_megapixels (50)"), std::string::npos) << e;
}

TEST(Config, SourcePasswordsAreMaskedWhereverTheSourceIsShown) {
  using shmyolo::config::mask_credentials;
  EXPECT_EQ(mask_credentials("rtsp://admin:S3cret@10.0.0.5:554/stream"), "rtsp://admin:***@10.0.0.5:554/stream");
  EXPECT_EQ(mask_credentials("rtsp://admin:p@ss@10.0.0.5/s"), "rtsp://admin:***@10.0.0.5/s");  // last @ ends it
  EXPECT_EQ(mask_credentials("https://T0KEN@cam.example/mjpg"), "https://***@cam.example/mjpg");
  EXPECT_EQ(mask_credentials("http://cam/video.cgi?user=admin&password=S3cret&res=hd"),
            "http://cam/video.cgi?user=admin&password=***&res=hd");
  EXPECT_EQ(mask_credentials("http://cam/v?access_token=abc&X-Amz-Signature=f00#frag"),
            "http://cam/v?access_token=***&X-Amz-Signature=***#frag");
  EXPECT_EQ(mask_credentials("rtsp://10.0.0.5/stream"), "rtsp://10.0.0.5/stream");
  EXPECT_EQ(mask_credentials("/srv/video.mp4"), "/srv/video.mp4");

  const auto r = parse(with_model(R"(cameras:
  - {name: gate, source: "rtsp://admin:S3cret@10.0.0.5/stream?token=abc"}
  - {name: clip, source: /srv/clips/yard.mp4}
  - {name: folder, source: /srv/frames/}
)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cameras[0].location, "rtsp://admin:S3cret@10.0.0.5/stream?token=abc");  // what the decoder gets
  EXPECT_EQ(r->cameras[0].shown, "rtsp://admin:***@10.0.0.5/stream?token=***");
  EXPECT_EQ(r->cameras[1].shown, "yard.mp4");  // no host paths in API answers
  EXPECT_EQ(r->cameras[2].shown, "frames");
}

TEST(Config, SecretsComeFromTheEnvironmentOrAFile) {
  const shmyolo::test::TempShmDir dir;
  const auto secret = dir.path() / "gate-pass";
  std::ofstream(secret) << "fr0m-a-file\n";
  ::setenv("SHMYOLO_TEST_GATE_USER", "gate", 1);
  const auto r = parse(with_model("cameras:\n  - {name: gate, source: \"rtsp://${SHMYOLO_TEST_GATE_USER}:${file:" +
                                  secret.string() + "}@10.0.0.5/s?price=$$5\"}\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cameras[0].location, "rtsp://gate:fr0m-a-file@10.0.0.5/s?price=$5");
  EXPECT_EQ(r->cameras[0].shown, "rtsp://gate:***@10.0.0.5/s?price=$5");

  ::unsetenv("SHMYOLO_TEST_UNSET");
  EXPECT_EQ(error_of(with_model("cameras:\n  - {name: a, source: \"rtsp://u:${SHMYOLO_TEST_UNSET}@h/s\"}\n")),
            "test.yaml:3: cameras[0].source: ${SHMYOLO_TEST_UNSET} is not set in the environment: export it, or "
            "name a file with ${file:PATH}");
  EXPECT_EQ(error_of(with_model("cameras:\n  - {name: a, source: \"rtsp://u:${file:/nonexistent/pass}@h/s\"}\n")),
            "test.yaml:3: cameras[0].source: ${file:/nonexistent/pass}: cannot read it: check the path");
  EXPECT_EQ(error_of(with_model("cameras:\n  - {name: a, source: \"rtsp://u:${OPEN@h/s\"}\n")),
            "test.yaml:3: cameras[0].source: \"${\" without its \"}\" (write $$ for a dollar sign)");
}

TEST(Config, MqttLoginAndTlsAreCheckedLikeEveryKey) {
  const auto mqtt = [](const std::string& m) {
    return error_of(with_model("cameras: [{name: a, source: \"synthetic:\"}]\noutputs:\n  mqtt: " + m + "\n"));
  };
  EXPECT_EQ(mqtt("{password: x}"), "test.yaml:4: outputs.mqtt.password: a password needs outputs.mqtt.username");
  EXPECT_EQ(mqtt("{username: u, tls: {ca: /nonexistent/ca.pem}}"),
            "test.yaml:4: outputs.mqtt.tls.ca: no file at /nonexistent/ca.pem: check the path");
  EXPECT_EQ(mqtt("{username: u, tls: {ca: " + kModel + ", cert: " + kModel + "}}"),
            "test.yaml:4: outputs.mqtt.tls: cert and key go together (a client certificate and its key)");
  ::setenv("SHMYOLO_TEST_MQTT_PASS", "from-env", 1);
  const auto r =
      parse(with_model("cameras: [{name: a, source: \"synthetic:\"}]\noutputs:\n  mqtt: {username: u, "
                       "password: \"${SHMYOLO_TEST_MQTT_PASS}\", tls: {ca: " +
                       kModel + "}}\n"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->outputs.mqtt.has_value());
  const auto m = r->outputs.mqtt.value_or(shmyolo::config::MqttConfig{});
  EXPECT_EQ(m.password, "from-env");
  EXPECT_EQ(m.tls_ca, kModel);
}

// Zones, lines and the tracker: each wrong value is one line at its place.
TEST(Config, DecodingIsCheckedWhereItIsWritten) {
  const auto camera = [](const std::string& source, const std::string& options) {
    return with_model("cameras:\n  - name: a\n    source: " + source + "\n" + options);
  };
  auto good = parse(camera("clip.mp4", "    decoder: ffmpeg\n    decode: keyframes\n    realtime: true\n"));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(shmyolo::config::decode_of(good->cameras[0]), shmyolo::config::DecodeMode::keyframes);
  EXPECT_TRUE(good->cameras[0].realtime);
  // The defaults: FFmpeg with auto for a file in latest mode; every frame in queue mode; OpenCV for a device.
  auto plain = parse(camera("clip.mp4", "    delivery: latest\n"));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(shmyolo::config::decoder_of(plain->cameras[0]), shmyolo::config::Decoder::ffmpeg);
  EXPECT_EQ(shmyolo::config::decode_of(plain->cameras[0]), shmyolo::config::DecodeMode::automatic);
  auto queued = parse(camera("clip.mp4", "    delivery: queue\n"));
  ASSERT_TRUE(queued) << queued.error().message;
  EXPECT_EQ(shmyolo::config::decode_of(queued->cameras[0]), shmyolo::config::DecodeMode::all);
  auto device = parse(camera("/dev/video0", ""));
  ASSERT_TRUE(device) << device.error().message;
  EXPECT_EQ(shmyolo::config::decoder_of(device->cameras[0]), shmyolo::config::Decoder::opencv);

  EXPECT_EQ(error_of(camera("clip.mp4", "    decoder: gstreamer\n")),
            "test.yaml:5: cameras[0].decoder: expected ffmpeg or opencv, got \"gstreamer\"");
  EXPECT_EQ(error_of(camera("clip.mp4", "    decode: sometimes\n")),
            "test.yaml:5: cameras[0].decode: expected all, keyframes or auto, got \"sometimes\"");
  EXPECT_EQ(error_of(camera("clip.mp4", "    delivery: queue\n    decode: auto\n")),
            "test.yaml:6: cameras[0].decode: auto drops frames while workers are behind: it needs delivery: latest "
            "(use all or keyframes with queue)");
  EXPECT_EQ(error_of(camera("clip.mp4", "    decoder: opencv\n    decode: keyframes\n")),
            "test.yaml:6: cameras[0].decode: keyframes and auto need a video file or stream read by decoder: ffmpeg");
  EXPECT_EQ(error_of(camera("/dev/video0", "    decoder: ffmpeg\n")),
            "test.yaml:5: cameras[0].decoder: ffmpeg reads video files and network streams; a device is read by "
            "opencv: drop decoder:");
  EXPECT_EQ(error_of(camera("\"synthetic:\"", "    decoder: opencv\n")),
            "test.yaml:5: cameras[0].decoder: this source has no video decoder to choose: drop decoder:");
  EXPECT_EQ(error_of(camera("rtsp://cam/live", "    realtime: true\n")),
            "test.yaml:5: cameras[0].realtime: only a video file plays in real time (streams and cameras already "
            "do): drop realtime:");
}

TEST(Config, AnExternalCameraTakesNoSourceOptions) {
  const auto camera = [](const std::string& options) {
    return with_model("cameras:\n  - name: door\n    source: external\n" + options);
  };
  auto good =
      parse(camera("    delivery: queue\n    slots: 8\n    zones: [{name: z, points: [[0, 0], [9, 0], [9, 9]]}]\n"));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->cameras[0].kind, shmyolo::config::SourceKind::external);
  EXPECT_EQ(good->cameras[0].shown, "external");
  const std::string why = ": not for source: external (its producer decodes, paces and places the frames): drop it";
  EXPECT_EQ(error_of(camera("    fps: 5\n")), "test.yaml:5: cameras[0].fps" + why);
  EXPECT_EQ(error_of(camera("    loop: true\n")), "test.yaml:5: cameras[0].loop" + why);
  EXPECT_EQ(error_of(camera("    roi: {x: 0, y: 0, width: 8, height: 8}\n")), "test.yaml:5: cameras[0].roi" + why);
  EXPECT_EQ(error_of(camera("    decode: keyframes\n")), "test.yaml:5: cameras[0].decode" + why);
  EXPECT_EQ(error_of(camera("    color: gray\n")), "test.yaml:5: cameras[0].color" + why);
}

TEST(Config, ZonesAndLinesAreCheckedWhereTheyAreWritten) {
  const auto camera = [](const std::string& scene) {
    return with_model("cameras:\n  - name: a\n    source: synthetic:?width=640&height=480\n" + scene);
  };
  auto good =
      parse(camera("    coordinates: pixels\n    tracker: {max_lost: 2, anchor: center}\n"
                   "    zones: [{name: bay, points: [[0, 0], [100, 0], [100, 100]], classes: [person], min_dwell: 1}]\n"
                   "    lines: [{name: door, from: [0, 240], to: [640, 240], count: forward}]\n"));
  ASSERT_TRUE(good) << good.error().message;
  const auto& cam = good->cameras[0];
  ASSERT_EQ(cam.zones.size(), 1U);
  EXPECT_EQ(cam.zones[0].points.size(), 3U);
  EXPECT_EQ(cam.zones[0].classes, std::vector<std::string>{"person"});
  EXPECT_EQ(cam.lines[0].directions, shmyolo::config::LineDirections::forward);
  EXPECT_EQ(cam.tracker.options.max_lost_s, 2);
  EXPECT_EQ(cam.tracker.anchor, shmyolo::config::Anchor::center);

  EXPECT_EQ(error_of(camera("    zones:\n      - {name: bay, points: [[0, 0], [100, 0]]}\n")),
            "test.yaml:6: cameras[0].zones[0].points: a zone needs at least 3 points, got 2");
  EXPECT_EQ(
      error_of(camera("    zones:\n      - name: bow\n        points: [[0, 0], [100, 100], [100, 0], [0, 100]]\n")),
      "test.yaml:7: cameras[0].zones[0].points: the polygon crosses itself: list the corners in order around "
      "the zone");
  EXPECT_EQ(error_of(camera("    lines:\n      - {name: door, from: [10, 10], to: [10, 10]}\n")),
            "test.yaml:6: cameras[0].lines[0].to: the line has no length: from and to are the same point");
  EXPECT_EQ(error_of(camera("    lines:\n      - name: door\n        from: [0, 0]\n        to: [700, 10]\n")),
            "test.yaml:8: cameras[0].lines[0].to: [700, 10] is outside the 640x480 frame");
  EXPECT_EQ(error_of(camera(
                "    coordinates: normalized\n    lines:\n      - {name: door, from: [0, 0.5], to: [1.5, 0.5]}\n")),
            "test.yaml:7: cameras[0].lines[0].to: [1.5, 0.5] is outside the frame (coordinates: normalized)");
  EXPECT_EQ(error_of(camera("    zones: [{name: all, points: [[0, 0], [1, 0], [1, 1]]}]\n")),
            "test.yaml:5: cameras[0].zones[0].name: \"all\" is taken (zones and lines of a camera need their own "
            "names, and not \"all\")");
  EXPECT_EQ(error_of(camera("    tracker: {low_score: 0.7}\n")),
            "test.yaml:5: cameras[0].tracker.low_score: must be 0 to 0.5, got 0.7");
  EXPECT_EQ(error_of(camera("    tracker: sometimes\n")),
            "test.yaml:5: cameras[0].tracker: expected false or a mapping of tracker options, got \"sometimes\"");
  EXPECT_EQ(error_of(camera("    tracker: false\n    lines: [{name: door, from: [0, 0], to: [5, 5]}]\n")),
            "test.yaml:5: cameras[0].tracker: zones and lines follow tracks: remove tracker: false, or the zones and "
            "lines");
  EXPECT_EQ(error_of(camera("    lines: [{name: door, from: [0, 0], to: [5, 5], count: sideways}]\n")),
            "test.yaml:5: cameras[0].lines[0].count: expected both, forward or backward, got \"sideways\"");
}

// Modbus alarms name a camera and a zone that exist, and bits of their own.
TEST(Config, ModbusAlarmsAreCheckedWhereTheyAreWritten) {
  const auto with_alarms = [](const std::string& alarms) {
    return with_model(
        "cameras:\n  - name: cell\n    source: \"synthetic:?seed=1\"\n"
        "    zones: [{name: danger, points: [[0, 0], [100, 0], [100, 100]]}]\n"
        "outputs:\n  modbus:\n    alarms:\n" +
        alarms);
  };
  auto good =
      parse(with_alarms("      - {name: person_in_danger, camera: cell, zone: danger, classes: [person], bit: 3, "
                        "on_after: 0.5, off_after: 2}\n"));
  ASSERT_TRUE(good) << good.error().message;
  const std::optional<shmyolo::config::ModbusConfig> modbus = good->outputs.modbus;
  ASSERT_TRUE(modbus.has_value());
  if (!modbus.has_value()) return;  // for the optional-access check, which does not read ASSERT_TRUE
  ASSERT_EQ(modbus->alarms.size(), 1U);
  EXPECT_EQ(modbus->alarms[0].bit, 3);
  EXPECT_EQ(modbus->port, 5020);
  EXPECT_EQ(error_of(with_alarms("      - {name: a, camera: gate, bit: 1}\n")),
            "test.yaml:9: outputs.modbus.alarms[0].camera: no camera \"gate\" in cameras");
  EXPECT_EQ(error_of(with_alarms("      - {name: a, camera: cell, zone: dock, bit: 1}\n")),
            "test.yaml:9: outputs.modbus.alarms[0].zone: camera cell has no zone \"dock\"");
  EXPECT_EQ(error_of(with_alarms("      - {name: a, camera: cell, bit: 1}\n      - {name: b, camera: cell, bit: 1}\n")),
            "test.yaml:10: outputs.modbus.alarms[1].bit: discrete input 1 is another alarm's");
  EXPECT_EQ(error_of(with_alarms("      - {name: a, camera: cell}\n")),
            "test.yaml:9: outputs.modbus.alarms[0].bit: missing: the discrete input's address");
}

// The pipeline's YAML configuration, read and checked in full before
// anything starts. Every error is one line naming the file, the line and the
// key, and what to do:
//   cameras.yaml:7: cameras[1].fps: expected a number, got "fast"
//
//   name: yard                      # segments are shmyolo.yard.*
//   model: {path: shapes-320.onnx, confidence: 0.25, classes: [person]}
//   workers: {count: 2, threads: 1, batch: 1}
//   cameras:
//     - {name: gate, source: rtsp://10.0.0.5/stream, fps: 10}
//     - {name: clip, source: vtest.avi, loop: true, delivery: queue}
//   outputs: {jsonl: detections.jsonl, stats_interval: 5, mqtt: {host: localhost}}
#pragma once

#include <array>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/bus/layout.hpp>
#include <shmyolo/detect/model.hpp>
#include <shmyolo/error.hpp>
#include <shmyolo/track/geometry.hpp>
#include <shmyolo/track/tracker.hpp>

namespace shmyolo::config {

enum class SourceKind {
  synthetic,     // synthetic:?width=640&height=480&seed=1&objects=1-4
  video_file,    // a file OpenCV's FFmpeg back end reads (.avi, .mp4, .mkv, ...)
  image_folder,  // a directory of JPEG/PNG/BMP files, in name order
  stream,        // rtsp://, rtsps://, http://, https:// (FFmpeg)
  device,        // /dev/videoN or v4l2:N (V4L2)
  external,      // "external": another process publishes into the camera's ring (docs/python.md)
};

struct SyntheticSource {
  int width = 640;
  int height = 480;
  std::uint64_t seed = 1;
  int min_objects = 1;
  int max_objects = 4;
};

// Lens undistortion: OpenCV's pinhole model. Remap tables are computed once
// when the camera starts.
struct Undistort {
  std::array<double, 9> camera_matrix{};  // fx 0 cx / 0 fy cy / 0 0 1, row-major
  std::vector<double> distortion;         // k1 k2 p1 p2 [k3 [k4 k5 k6]]
};

struct Roi {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// How to read the source's 3 channels: as BGR (OpenCV's decoders), swapped
// (a source that sends RGB), or as luminance (a monochrome camera with a
// tint). 1- and 4-channel frames are converted to BGR whatever this says.
enum class SourceColor { bgr, rgb, gray };

// Zones and lines are in the camera's full-frame pixels, or in 0..1 of its
// width and height (`coordinates: normalized`).
using Point = track::Point;

// Where a track stands, for zones and lines: its box's bottom centre (where a
// person or a vehicle touches the ground) or its centre.
enum class Anchor { bottom, center };

struct TrackerConfig {
  bool enabled = true;
  track::TrackerOptions options;
  double update_interval_s = 5;    // an `update` event at least this often per track; 0: only on changes
  double stationary_after_s = 10;  // a track that has not moved for this long is stationary
  Anchor anchor = Anchor::bottom;
};

struct ZoneConfig {
  std::string name;  // unique among the camera's zones and lines
  std::vector<Point> points;
  std::vector<std::string> classes;  // names or indices; empty: every class
  double min_dwell_s = 0;            // inside this long before it counts as entered
};

// Which way a line is crossed: forward goes from the left of from->to to its
// right, as seen in the picture (y down), i.e. clockwise around `from`.
enum class LineDirections { both, forward, backward };

struct LineConfig {
  std::string name;
  Point from;
  Point to;
  LineDirections directions = LineDirections::both;  // the crossings counted
  std::vector<std::string> classes;
};

// What decodes a file or stream: FFmpeg's libraries, straight from the
// decoder's pixels into the slot (the default), or OpenCV's capture (which
// also reads V4L2 devices, its only reader). docs/pipeline.md#decoding
enum class Decoder { ffmpeg, opencv };

// Which frames are decoded: every one; key frames only; or every one while
// the workers keep up and key frames only while they cannot (latest delivery).
enum class DecodeMode { all, keyframes, automatic };

struct CameraConfig {
  std::string name;    // [A-Za-z0-9_-], unique
  std::string source;  // as written: may name secrets as ${VAR} or ${file:PATH}
  SourceKind kind = SourceKind::video_file;
  // File or folder path (resolved against the config's folder), URL or
  // device, with ${...} expanded: it may hold a password, so it is only ever
  // handed to the decoder, never shown.
  std::string location;
  // The source as shmyolo shows it (API answers, the dashboard, log lines):
  // a URL's password and secret query values masked, a file by its name.
  std::string shown;
  SyntheticSource synthetic;
  double fps = -1;  // cap; -1: the source's own rate (files: their frame rate; synthetic: 10); 0: unpaced
  bus::Delivery delivery = bus::Delivery::latest;
  std::uint32_t slots = 0;   // 0: workers + 2
  bool loop = false;         // video files and folders start again at the end
  std::uint64_t frames = 0;  // finish after this many frames (0: no limit)
  std::optional<Roi> roi;
  std::optional<Undistort> undistort;
  SourceColor color = SourceColor::bgr;
  // Unset: decoder_of() and decode_of() give the defaults.
  std::optional<Decoder> decoder;
  std::optional<DecodeMode> decode;
  bool realtime = false;  // a video file plays at its own timestamps, like a live camera
  TrackerConfig tracker;
  bool normalized = false;  // zones and lines in 0..1 of the frame
  std::vector<ZoneConfig> zones;
  std::vector<LineConfig> lines;
};

// ffmpeg for files and streams; opencv for devices (and for what FFmpeg does not read).
[[nodiscard]] Decoder decoder_of(const CameraConfig& c);
// auto with latest delivery and an FFmpeg decoder; else all.
[[nodiscard]] DecodeMode decode_of(const CameraConfig& c);

struct ModelConfig {
  detect::ModelOptions options;  // path, engine, layout, input size, names file
  float confidence = 0.25F;
  float iou = 0.45F;
  std::size_t max_detections = 300;
  std::vector<std::string> classes;  // names or indices to keep; empty: every class
};

struct WorkerConfig {
  int count = 2;
  int threads = 1;            // inference threads each
  int batch = 1;              // frames per inference, from any cameras (models with a dynamic batch)
  double stuck_after_s = 30;  // a worker busy on one frame this long is replaced
};

struct MqttConfig {
  std::string host = "localhost";
  int port = 1883;
  std::string topic_prefix = "shmyolo";
  int qos = 0;
  std::string client_id;  // empty: shmyolo-<pipeline>-<pid>
  int keepalive_s = 30;
  // The broker's login; both may be ${NAME} or ${file:PATH} (see CameraConfig::source).
  std::string username;
  std::string password;
  // TLS: the CA that signed the broker's certificate; a client certificate
  // and key when the broker asks for one. Empty ca: plain MQTT.
  std::filesystem::path tls_ca;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
};

// A JPEG per track (its best frame, its box drawn), for its events.
struct SnapshotConfig {
  std::filesystem::path dir;
  double max_mb = 256;        // the folder's size; past it the oldest go
  double max_age_s = 604800;  // a week; older ones go
};

// A Modbus TCP server for PLCs (docs/modbus.md). Loopback by default, like
// the HTTP API: another address is the operator's choice.
// A discrete input (function code 02) a PLC polls as an alarm: on while at
// least `min` tracks of the classes are in the camera's zone (or its whole
// frame), debounced: the condition must hold on_after seconds to set the
// bit, and be gone off_after seconds to clear it.
struct ModbusAlarm {
  std::string name;
  std::string camera;
  std::string zone;                  // empty: the whole frame
  std::vector<std::string> classes;  // empty: every class
  int min = 1;
  int bit = 0;  // the discrete input's address
  double on_after_s = 0;
  double off_after_s = 0;
};

struct ModbusConfig {
  std::string bind = "127.0.0.1";
  int port = 5020;  // 502 is the standard port, but binding it needs root (or CAP_NET_BIND_SERVICE)
  int unit_id = 1;  // answered on any unit id; PLCs that send one use this
  int max_clients = 16;
  std::vector<std::string> classes;  // names or indices whose counts each camera block holds (at most 16)
  std::vector<ModbusAlarm> alarms;
};

struct OutputConfig {
  std::string jsonl;   // file to append to; "-": stdout; empty: none
  std::string events;  // tracks' events (new, update, end, zones, lines), JSON Lines; as jsonl
  double stats_interval_s = 5;
  std::optional<MqttConfig> mqtt;
  std::optional<SnapshotConfig> snapshots;
  std::optional<ModbusConfig> modbus;
};

// The HTTP detection service (`shmyolo serve`, or `http:` in a config).
struct HttpConfig {
  // Loopback by default: the API hands out every camera's frames. Any other
  // address needs `auth: none`, said on purpose (checked before start).
  std::string bind = "127.0.0.1";
  bool no_auth = false;               // http.auth: none
  std::filesystem::path tokens_file;  // http.auth: {tokens_file: ...}: token hashes (include/shmyolo/http/auth.hpp)
  std::filesystem::path tls_cert;     // http.tls: {cert, key}: PEM files; set, the service speaks HTTPS only
  std::filesystem::path tls_key;
  int port = 8080;  // 0: any free port, printed at start (a restarted aggregator gets another)
  int threads = 8;  // requests served at once
  // Connections open at once (those still sending their request head hold
  // no thread); past it the one waiting longest for its head is dropped.
  int max_connections = 256;
  double header_timeout_s = 10;   // a request's head must arrive within this, or 408
  double request_timeout_s = 60;  // ... and the whole request (its body too) within this, or it is cut
  int queue = 0;                  // uploads waiting or in work before 503; 0: 2 per worker
  double max_body_mb = 20;        // larger bodies get 413
  double max_megapixels = 40;     // larger images (by their header) get 422, before decoding
  // Pixels decoded and held at once by all requests (by their headers); more
  // get 503. Memory for decoding is about 3.5 bytes per pixel of it (docs/http.md).
  double decode_megapixels = 80;  // default: twice max_megapixels
  double timeout_s = 30;          // an upload's wait for its result before 504
  double read_timeout_s = 5;      // a client silent this long mid-request is dropped
};

struct PipelineConfig {
  std::filesystem::path file;  // where it was read from
  std::string name = "default";
  std::filesystem::path shm_dir;  // empty: $SHMYOLO_SHM_DIR or /dev/shm
  std::vector<CameraConfig> cameras;
  ModelConfig model;
  WorkerConfig workers;
  OutputConfig outputs;
  std::optional<HttpConfig> http;  // cameras may be empty when this is set
};

enum class ConfigErrc {
  unreadable,      // the file cannot be read
  syntax,          // not YAML
  invalid,         // a key is unknown, missing, of the wrong type or out of range
  secret_missing,  // a ${NAME} or ${file:PATH} that names nothing
};

[[nodiscard]] std::string_view to_string(ConfigErrc code);

// The message is one line: file:line: key: what is wrong and what to do.
using ConfigError = Error<ConfigErrc>;

template <class T>
using ConfigResult = Result<T, ConfigErrc>;

[[nodiscard]] ConfigResult<PipelineConfig> load(const std::filesystem::path& file);
// Every rule on the values (ranges, names, pairs of keys that go together),
// for a config built in code; load() and parse() apply the same rules and
// name the file's line. run_pipeline calls it whatever built the config.
[[nodiscard]] ConfigResult<void> validate(const PipelineConfig& config);
// `origin` names the text in messages; relative paths resolve against `base`.
[[nodiscard]] ConfigResult<PipelineConfig> parse(const std::string& text, const std::string& origin,
                                                 const std::filesystem::path& base);

// Text from a config (a key, a value) inside a message: control characters
// written as escapes ("\n", "\x1b"), so that the message stays on its one
// line whatever the file holds.
[[nodiscard]] std::string one_line(std::string_view text);

// "rtsp://admin:***@cam/stream?token=***": a URL's password, and the values
// of query parameters named like secrets (password, pass, pwd, token, key,
// secret, auth, signature, sig), masked. Anything else is returned as is.
[[nodiscard]] std::string mask_credentials(std::string_view url);

// ${NAME} from the environment, ${file:PATH} from a file (one trailing
// newline dropped; a Kubernetes or Docker secret), $$ for a dollar sign. An
// unset variable or unreadable file is an error naming it.
[[nodiscard]] ConfigResult<std::string> expand_references(std::string_view text);

// The source part of a camera: kind, location and shown form from its URI.
[[nodiscard]] ConfigResult<CameraConfig> parse_source(CameraConfig camera, const std::filesystem::path& base);

}  // namespace shmyolo::config

// Publishes to an MQTT broker with libmosquitto. Connection and reconnection
// run on libmosquitto's own thread (linear backoff, retries at most 5 s apart), so a
// broker that goes away never blocks the aggregator; messages published
// while it is away are counted as dropped, not queued without bound.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <shmyolo/config/pipeline_config.hpp>

struct mosquitto;

namespace shmyolo::pipeline {

class MqttOutput {
 public:
  static std::unique_ptr<MqttOutput> start(const config::MqttConfig& config, const std::string& pipeline);
  ~MqttOutput();
  MqttOutput(const MqttOutput&) = delete;
  MqttOutput& operator=(const MqttOutput&) = delete;

  // `retain`: the broker keeps the newest value for late subscribers (counts, state).
  void publish(const std::string& topic, const std::string& payload, bool retain = false);
  [[nodiscard]] const std::string& prefix() const { return config_.topic_prefix; }
  [[nodiscard]] std::string availability_topic() const { return config_.topic_prefix + "/available"; }
  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  explicit MqttOutput(config::MqttConfig config) : config_(std::move(config)) {}
  bool secure(const config::MqttConfig& config);
  static void on_connect(mosquitto* client, void* self, int rc);
  static void on_publish(mosquitto* client, void* self, int mid);
  // Publishes the retained availability; the message id, or -1.
  int announce(const char* state);

  config::MqttConfig config_;
  mosquitto* client_ = nullptr;
  std::atomic<std::uint64_t> dropped_{0};  // relaxed: a counter read for statistics
  std::atomic<int> refusal_said_{0};       // the last CONNACK code reported (0: none)
  std::atomic<int> acknowledged_{0};       // the last QoS 1 message id the broker acknowledged
};

}  // namespace shmyolo::pipeline

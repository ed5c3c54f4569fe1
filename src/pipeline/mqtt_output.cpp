#include "mqtt_output.hpp"

#include <unistd.h>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <mosquitto.h>

namespace shmyolo::pipeline {

std::unique_ptr<MqttOutput> MqttOutput::start(const config::MqttConfig& config, const std::string& pipeline) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttOutput> out(new MqttOutput(config));
  const std::string id = config.client_id.empty() ? fmt::format("shmyolo-{}-{}", pipeline, getpid()) : config.client_id;
  out->client_ = mosquitto_new(id.c_str(), true, nullptr);
  if (out->client_ == nullptr) return nullptr;
  // Linear backoff capped at 5 s: retries come 0, 1, 2, ... 5 s apart, so a
  // broker back from a restart gets results again within 5 s. libmosquitto's
  // exponential mode grows the gap quadratically (1, 4, 9, 16 s), and one
  // unlucky miss could leave a PLC without results for half a minute; a
  // connect attempt every 5 s costs the broker nothing.
  mosquitto_reconnect_delay_set(out->client_, 1, 5, false);
  // connect_async + loop_start: a broker that is down now is retried by the
  // loop thread, and the pipeline starts regardless.
  const int rc = mosquitto_connect_async(out->client_, config.host.c_str(), config.port, config.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "shmyolo: mqtt: cannot reach %s:%d (%s); retrying in the background\n", config.host.c_str(),
                 config.port, mosquitto_strerror(rc));
  }
  if (mosquitto_loop_start(out->client_) != MOSQ_ERR_SUCCESS) return nullptr;
  return out;
}

MqttOutput::~MqttOutput() {
  if (client_ == nullptr) return;
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, true);
  mosquitto_destroy(client_);
}

void MqttOutput::publish(const std::string& topic, const std::string& payload) {
  const int rc = mosquitto_publish(client_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                   config_.qos, false);
  if (rc != MOSQ_ERR_SUCCESS) dropped_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace shmyolo::pipeline

#include "mqtt_output.hpp"

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

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
  if (!out->secure(config)) return nullptr;
  // <prefix>/available, retained: "online" on each connection, "offline" at a
  // clean stop, and "offline" from the broker itself (the will) when the
  // connection drops without one: a killed aggregator, a dead host. QoS 1:
  // availability must not be lost like a single detection may be.
  const std::string offline = "offline";
  if (mosquitto_will_set(out->client_, out->availability_topic().c_str(), static_cast<int>(offline.size()),
                         offline.data(), 1, true) != MOSQ_ERR_SUCCESS)
    return nullptr;
  mosquitto_connect_callback_set(out->client_, &MqttOutput::on_connect);
  mosquitto_publish_callback_set(out->client_, &MqttOutput::on_publish);
  mosquitto_user_data_set(out->client_, out.get());
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

// The login and TLS, before the first connect. The password goes to
// libmosquitto only; no message names it.
bool MqttOutput::secure(const config::MqttConfig& config) {
  if (!config.username.empty()) {
    const int rc = mosquitto_username_pw_set(client_, config.username.c_str(),
                                             config.password.empty() ? nullptr : config.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) {
      std::fprintf(stderr, "shmyolo: mqtt: cannot use outputs.mqtt.username (%s)\n", mosquitto_strerror(rc));
      return false;
    }
  }
  if (config.tls_ca.empty()) return true;
  const auto file = [](const std::filesystem::path& p) { return p.empty() ? nullptr : p.c_str(); };
  int rc =
      mosquitto_tls_set(client_, config.tls_ca.c_str(), nullptr, file(config.tls_cert), file(config.tls_key), nullptr);
  // Verify the broker's certificate and name; TLS 1.2 or newer.
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(client_, 1, "tlsv1.2", nullptr);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "shmyolo: mqtt: cannot use outputs.mqtt.tls (%s): check the PEM files\n",
                 mosquitto_strerror(rc));
    return false;
  }
  return true;
}

// libmosquitto's thread, on each CONNACK: a refusal (wrong login, a client
// the broker does not know) is said once per reason, not at every retry.
void MqttOutput::on_connect(mosquitto* /*client*/, void* self, int rc) {
  auto& out = *static_cast<MqttOutput*>(self);
  const int said = out.refusal_said_.exchange(rc, std::memory_order_relaxed);  // relaxed: only this thread writes it
  if (rc == 0) out.announce("online");
  if (rc == 0 || rc == said) return;
  std::fprintf(stderr,
               "shmyolo: mqtt: %s:%d refused the connection: %s (check outputs.mqtt.username, password "
               "and tls); retrying\n",
               out.config_.host.c_str(), out.config_.port, mosquitto_connack_string(rc));
}

// libmosquitto's thread, as the broker acknowledges a QoS 1 message.
void MqttOutput::on_publish(mosquitto* /*client*/, void* self, int mid) {
  // release: pairs with the destructor's acquire; nothing else rides on it.
  static_cast<MqttOutput*>(self)->acknowledged_.store(mid, std::memory_order_release);
}

int MqttOutput::announce(const char* state) {
  int mid = 0;
  const auto n = static_cast<int>(std::strlen(state));
  return mosquitto_publish(client_, &mid, availability_topic().c_str(), n, state, 1, true) == MOSQ_ERR_SUCCESS ? mid
                                                                                                               : -1;
}

MqttOutput::~MqttOutput() {
  if (client_ == nullptr) return;
  // A clean stop sends no will: say "offline" ourselves, and give the broker
  // up to 2 s to take it before the connection closes.
  const int mid = announce("offline");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (mid > 0 && acknowledged_.load(std::memory_order_acquire) != mid && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, true);
  mosquitto_destroy(client_);
}

void MqttOutput::publish(const std::string& topic, const std::string& payload, bool retain) {
  const int rc = mosquitto_publish(client_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                   config_.qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) dropped_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace shmyolo::pipeline

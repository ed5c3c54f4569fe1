// The Modbus server of a running pipeline, with libmodbus's own client as a
// PLC would poll it: the map printed is the map served, the values agree
// with the JSON Lines, the handshake, exception responses for what a PLC may
// not do, many clients at once, and a heartbeat that stops with the
// aggregator and comes back with its replacement.
#include <gtest/gtest.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kShapes = shmyolo::test::source_dir() + "/models/shapes-320.onnx";

struct Client {
  explicit Client(int port) : ctx(modbus_new_tcp("127.0.0.1", port)) {}
  ~Client() {
    modbus_close(ctx);
    modbus_free(ctx);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  bool connect() const { return modbus_connect(ctx) == 0; }
  // One input register, or -1 (errno says the exception).
  int input(int address) const {
    std::uint16_t v = 0;
    return modbus_read_input_registers(ctx, address, 1, &v) == 1 ? v : -1;
  }
  long input32(int address) const {
    std::array<std::uint16_t, 2> v{};
    return modbus_read_input_registers(ctx, address, 2, v.data()) == 2 ? (long{v[0]} << 16) | v[1] : -1;
  }
  modbus_t* ctx;
};

// Polls until `done` holds, for up to 30 s.
template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 300; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

class Modbus : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = shmyolo::test::free_port();
    config_ = dir_.path() / "plc.yaml";
    std::ofstream(config_) << "name: plc\nshm_dir: " << shm_.path().string() << "\nmodel: {path: " << kShapes
                           << ", confidence: 0.5}\n"
                           << R"(workers: {count: 2}
cameras:
  - name: yard
    source: "synthetic:?seed=1"
    fps: 10
    frames: 30
    delivery: queue
    zones: [{name: west, points: [[0, 0], [320, 0], [320, 480], [0, 480]]}]
    lines: [{name: middle, from: [320, 0], to: [320, 480]}]
http: {port: 0}
outputs:
  jsonl: )" << (dir_.path() / "out.jsonl").string()
                           << "\n  modbus: {port: " << port_
                           << ", max_clients: 60, classes: [circle, square, triangle, person],\n"
                              "    alarms: [{name: anyone, camera: yard, bit: 3, on_after: 0.3, off_after: 1},\n"
                              "             {name: crowd, camera: yard, zone: west, min: 100, bit: 5}]}\n";
  }
  std::vector<json> results() const {
    std::vector<json> out;
    std::ifstream in(dir_.path() / "out.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  shmyolo::test::TempShmDir dir_;
  shmyolo::test::TempShmDir shm_;
  std::filesystem::path config_;
  int port_ = 0;
};

TEST_F(Modbus, TheMapPrintedNamesWhatIsServed) {
  const auto map = shmyolo::test::run({shmyolo::test::shmyolo_bin(), "modbus", "map", config_.string(), "--csv"});
  ASSERT_EQ(map.exit_code, 0) << map.output;
  for (const char* row :
       {"input,0,1,pipeline.heartbeat,", "input,100,1,yard.state,", "input,105,1,yard.result_sequence,",
        "input,110,1,yard.count.circle,", "input,113,1,yard.count.person,", "input,130,1,yard.zone.west,",
        "input,150,2,yard.line.middle.forward,", "holding,0,1,yard.acknowledge,",
        "input,12,1,pipeline.aggregator_starts,", "discrete,3,1,alarm.anyone,", "discrete,5,1,alarm.crowd,"}) {
    EXPECT_NE(map.output.find(row), std::string::npos) << row << "\n" << map.output;
  }
}

TEST_F(Modbus, RegistersAgreeWithTheJsonLinesAndTheHandshakeTakesAnAcknowledge) {
  auto run = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "run", config_.string()});
  const Client plc(port_);
  ASSERT_TRUE(eventually([&] { return plc.connect(); })) << "no Modbus server on port " << port_;
  EXPECT_EQ(plc.input(10), 1) << "map version";
  EXPECT_EQ(plc.input(3), 1) << "cameras";
  // The camera sends its 30 frames and finishes; the pipeline serves on (http:).
  ASSERT_TRUE(eventually([&] { return plc.input32(102) == 30 && plc.input(100) == 3; }))
      << "frames_out " << plc.input32(102) << ", state " << plc.input(100);
  const auto lines = results();
  ASSERT_EQ(lines.size(), 30U);
  std::map<std::string, int> last;  // the newest result's boxes per class
  for (const auto& d : lines.back()["detections"]) ++last[d["class"].get<std::string>()];
  EXPECT_EQ(plc.input(106), static_cast<int>(lines.back()["detections"].size()));
  const std::array<const char*, 4> classes{"circle", "square", "triangle", "person"};
  for (std::size_t k = 0; k < classes.size(); ++k)
    EXPECT_EQ(plc.input(110 + static_cast<int>(k)), last[classes[k]]) << classes[k];
  EXPECT_EQ(plc.input(105), 30) << "one result_sequence step per result";
  EXPECT_EQ(plc.input32(6), 30) << "pipeline frames_out";
  // Handshake: unacknowledged until the PLC writes the sequence it handled.
  EXPECT_EQ(plc.input(108), 1);
  ASSERT_EQ(modbus_write_register(plc.ctx, 0, 30), 1) << modbus_strerror(errno);
  EXPECT_TRUE(eventually([&] { return plc.input(108) == 0; }));
  // Alarms: objects are in the frame all along, a crowd of 100 never is.
  std::array<std::uint8_t, 6> bits{};
  EXPECT_TRUE(eventually([&] { return modbus_read_input_bits(plc.ctx, 0, 6, bits.data()) == 6 && bits[3] == 1; }));
  EXPECT_EQ(bits[5], 0);
  EXPECT_EQ(modbus_read_input_bits(plc.ctx, 6, 1, bits.data()), -1) << "past the last alarm";
  EXPECT_EQ(plc.input(12), 1) << "aggregator_starts";
  // The heartbeat beats while nothing else changes.
  const int beat = plc.input(0);
  EXPECT_TRUE(eventually([&] { return plc.input(0) >= beat + 2; }));
  ASSERT_EQ(kill(run.pid, SIGTERM), 0);
  EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
}

TEST_F(Modbus, WhatAPlcMayNotDoGetsAnExceptionAndTheServerStaysUp) {
  auto run = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "run", config_.string()});
  const Client plc(port_);
  ASSERT_TRUE(eventually([&] { return plc.connect(); }));
  std::array<std::uint16_t, 4> v{};
  // Input registers cannot be written (no function writes them); holding
  // registers past the acknowledges do not exist.
  EXPECT_EQ(modbus_write_register(plc.ctx, 5, 1), -1);
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(modbus_read_input_registers(plc.ctx, 200, 1, v.data()), -1) << "past the last camera block";
  EXPECT_EQ(errno, EMBXILADD);
  std::array<std::uint8_t, 4> bits{};
  EXPECT_EQ(modbus_read_bits(plc.ctx, 0, 1, bits.data()), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  EXPECT_EQ(modbus_write_bit(plc.ctx, 0, 1), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  const std::array<std::uint8_t, 2> raw{0x01, 0x07};  // unit 1, read exception status (serial lines only)
  std::array<std::uint8_t, MODBUS_TCP_MAX_ADU_LENGTH> reply{};
  ASSERT_GT(modbus_send_raw_request(plc.ctx, raw.data(), raw.size()), 0);
  ASSERT_EQ(modbus_receive_confirmation(plc.ctx, reply.data()), 9);  // MBAP header, function, exception code
  EXPECT_EQ(reply[7], 0x87) << "not an exception response";
  EXPECT_EQ(reply[8], MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
  // Garbage instead of a frame: that connection is closed, the server is not.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string junk = "GET / HTTP/1.1\r\nHost: plc\r\n\r\n";
  ASSERT_EQ(::write(s, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char c = 0;
  EXPECT_LE(::read(s, &c, 1), 0) << "the connection stayed open after a malformed frame";
  ::close(s);
  EXPECT_EQ(plc.input(10), 1) << "the server stopped answering";
  // 50 PLCs at once.
  std::vector<std::unique_ptr<Client>> many;
  for (int i = 0; i < 50; ++i) {
    many.push_back(std::make_unique<Client>(port_));
    ASSERT_TRUE(many.back()->connect()) << "client " << i;
  }
  for (const auto& m : many) EXPECT_EQ(m->input(10), 1);
  ASSERT_EQ(kill(run.pid, SIGTERM), 0);
  EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
}

TEST_F(Modbus, TheHeartbeatStopsWithTheAggregatorAndResumesWithItsReplacement) {
  auto run = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "run", config_.string()});
  Client plc(port_);
  ASSERT_TRUE(eventually([&] { return plc.connect() && plc.input(0) >= 1; }));
  const std::string children = "/proc/" + std::to_string(run.pid) + "/task/" + std::to_string(run.pid) + "/children";
  pid_t aggregator = 0;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(children);
    for (pid_t c = 0; in >> c;) {
      std::ifstream comm("/proc/" + std::to_string(c) + "/comm");
      std::string name;
      std::getline(comm, name);
      if (name == "shmyolo-aggrega") aggregator = c;
    }
    return aggregator > 0;
  }));
  ASSERT_EQ(kill(aggregator, SIGKILL), 0);
  // Within 2 s the PLC sees no heartbeat: its connection is gone with the process.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(plc.input(0), -1) << "a heartbeat answered after the aggregator was killed";
  modbus_close(plc.ctx);
  ASSERT_TRUE(eventually([&] { return plc.connect() && plc.input(0) >= 1; })) << "no heartbeat after the restart";
  EXPECT_LT(plc.input32(8), 30) << "uptime is the replacement's";
  EXPECT_EQ(plc.input(12), 2) << "aggregator_starts counts the restart";
  ASSERT_EQ(kill(run.pid, SIGTERM), 0);
  EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
}

// Past outputs.modbus.max_clients a connection is closed as it comes; a
// place freed by a client that leaves is taken by the next one.
TEST_F(Modbus, AClientPastTheLimitIsClosedAndAFreedPlaceIsTaken) {
  std::ifstream in(config_);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  in.close();
  text.replace(text.find("max_clients: 60"), 15, "max_clients: 2");
  std::ofstream(config_) << text;
  auto run = shmyolo::test::spawn({shmyolo::test::shmyolo_bin(), "run", config_.string()});
  const Client first(port_);
  const Client second(port_);
  // Each try closes the last one's connection: a connection left open would hold one of the two places.
  const auto served = [](const Client& c) {
    modbus_close(c.ctx);
    return c.connect() && c.input(0) >= 1;
  };
  ASSERT_TRUE(eventually([&] { return served(first); }));
  ASSERT_TRUE(second.connect());
  EXPECT_GE(second.input(0), 1);
  const Client third(port_);
  ASSERT_TRUE(third.connect()) << "the kernel accepts; the server then closes it";
  EXPECT_EQ(third.input(0), -1) << "a third client was served past max_clients: 2";
  modbus_close(second.ctx);  // a place frees
  const Client fourth(port_);
  EXPECT_TRUE(eventually([&] { return served(fourth); })) << "the freed place is not taken";
  EXPECT_GE(first.input(0), 1) << "the first client is still served";
  ASSERT_EQ(kill(run.pid, SIGTERM), 0);
  EXPECT_EQ(shmyolo::test::wait_exit(run.pid, 60s).value_or(-1), 0);
}

}  // namespace

// shmyolo ls | inspect NAME | gc: the project's segments in shared memory.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <shmyolo/bus/catalog.hpp>
#include <shmyolo/bus/ring.hpp>

#include "commands.hpp"

namespace shmyolo::cli {
namespace {

using bus::SegmentInfo;

std::string_view state_name(bus::RingState s) {
  switch (s) {
    case bus::RingState::initializing: return "initializing";
    case bus::RingState::active: return "active";
    case bus::RingState::closed: return "closed";
  }
  return "unknown";
}

std::string geometry_text(const SegmentInfo& s) {
  return fmt::format("{}x{} {}", s.geometry.width, s.geometry.height, bus::to_string(s.geometry.pixel_format));
}

std::string slot_summary(const SegmentInfo& s) {
  int counts[4] = {0, 0, 0, 0};
  for (const auto& slot : s.slots) {
    const auto i = static_cast<std::size_t>(slot.state);
    if (i < 4) ++counts[i];
  }
  return fmt::format("{}/{}/{}/{}", counts[0], counts[1], counts[2], counts[3]);
}

nlohmann::json to_json(const SegmentInfo& s, bool with_slots) {
  nlohmann::json j{{"name", s.name},           {"path", s.path.string()},
                   {"bytes", s.file_bytes},    {"mode", fmt::format("{:04o}", s.mode)},
                   {"uid", s.file_uid},        {"valid", s.valid},
                   {"stale", bus::is_stale(s)}};
  if (!s.valid) {
    j["problem"] = s.problem;
    return j;
  }
  const auto& g = s.geometry;
  j["state"] = state_name(s.state);
  j["geometry"] = {{"width", g.width},
                   {"height", g.height},
                   {"pixel_format", bus::to_string(g.pixel_format)},
                   {"row_stride", g.row_stride},
                   {"frame_bytes", g.frame_bytes},
                   {"slot_count", g.slot_count},
                   {"slot_stride", g.slot_stride}};
  j["policy"] = {{"delivery", bus::to_string(s.policy.delivery)},
                 {"full_policy", s.policy.full_policy == bus::FullPolicy::fail ? "fail" : "drop-oldest"},
                 {"queue_wait_ms", s.policy.queue_wait_ms},
                 {"lease_ms", s.policy.lease_ms},
                 {"stale_ms", s.policy.stale_ms}};
  j["creator"] = {{"pid", s.creator.pid},
                  {"alive", s.creator_alive},
                  {"uid", s.creator.uid},
                  {"generation", fmt::format("{:016x}", s.creator.generation)}};
  j["producer"] = {{"pid", s.producer_pid}, {"alive", s.producer_alive}, {"heartbeat_age_ms", s.heartbeat_age_ms}};
  const auto& c = s.counters;
  j["counters"] = {{"published", c.published},    {"dropped", c.dropped},     {"claimed", c.claimed},
                   {"released", c.released},      {"reclaimed", c.reclaimed}, {"rejected", c.rejected},
                   {"space_waits", c.space_waits}};
  if (with_slots) {
    j["slots"] = nlohmann::json::array();
    for (const auto& slot : s.slots) {
      nlohmann::json e{{"state", bus::to_string(slot.state)}, {"frame_seq", slot.frame_seq}};
      if (slot.state == bus::SlotState::claimed || slot.state == bus::SlotState::writing)
        e["owner_pid"] = slot.owner_pid;
      if (slot.state == bus::SlotState::claimed) e["lease_left_ms"] = slot.lease_left_ms;
      j["slots"].push_back(e);
    }
  }
  return j;
}

int run_ls(const std::string& dir, bool json) {
  auto segments = bus::list_segments(dir);
  if (!segments) return fail(segments.error().message);
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : *segments) out.push_back(to_json(s, false));
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (segments->empty()) {
    fmt::print("no shmyolo segments in {}\n", bus::segments_place(dir));
    return 0;
  }
  fmt::print("{:<32} {:>10} {:>5} {:>14} {:>14} {:<18} {:<7} {:>11} {:>10} {:>9} {:>9}\n", "NAME", "BYTES", "MODE",
             "CREATOR", "PRODUCER", "GEOMETRY", "MODE", "SLOTS f/w/r/c", "PUBLISHED", "DROPPED", "RECLAIMED");
  for (const auto& s : *segments) {
    if (!s.valid) {
      fmt::print("{:<32} {:>10} {:>5o} invalid: {}\n", s.name, s.file_bytes, s.mode, s.problem);
      continue;
    }
    const auto who = [](std::int32_t pid, bool alive) {
      return pid == 0 ? std::string("-") : fmt::format("{} ({})", pid, alive ? "alive" : "dead");
    };
    fmt::print("{:<32} {:>10} {:>5o} {:>14} {:>14} {:<18} {:<7} {:>11} {:>10} {:>9} {:>9}{}\n", s.name, s.file_bytes,
               s.mode, who(s.creator.pid, s.creator_alive), who(s.producer_pid, s.producer_alive), geometry_text(s),
               bus::to_string(s.policy.delivery), slot_summary(s), s.counters.published, s.counters.dropped,
               s.counters.reclaimed, bus::is_stale(s) ? "  STALE (shmyolo gc removes it)" : "");
  }
  return 0;
}

int run_inspect(const std::string& dir, const std::string& name, bool json) {
  auto info = bus::inspect_segment(name, dir);
  if (!info) return fail(info.error().message);
  if (!info->valid) {
    if (json) fmt::print("{}\n", to_json(*info, true).dump(2));
    return fail(info->problem);
  }
  if (json) {
    fmt::print("{}\n", to_json(*info, true).dump(2));
    return 0;
  }
  const auto j = to_json(*info, true);
  fmt::print("{}\n", j.dump(2));
  return 0;
}

int run_gc(const std::string& dir, bool dry_run, bool invalid) {
  const auto result = bus::collect_garbage(dir, dry_run, invalid);
  for (const auto& name : result.removed) fmt::print("{} {}\n", dry_run ? "would remove" : "removed", name);
  for (const auto& e : result.errors) fmt::print(stderr, "shmyolo: {}\n", e);
  if (result.removed.empty() && result.errors.empty())
    fmt::print("no stale segments in {}\n", bus::segments_place(dir));
  for (const auto& why : result.invalid_kept) fmt::print("kept {}\n", why);
  return result.errors.empty() ? 0 : 1;
}

}  // namespace

void add_segment_commands(CLI::App& app, int& exit_code) {
  struct Options {
    std::string dir = bus::default_shm_dir().string();
    std::string name;
    bool json = false;
    bool dry_run = false;
    bool invalid = false;
  };
  auto opts = std::make_shared<Options>();
  const char* dir_help = "Directory holding the segments (default /dev/shm or $SHMYOLO_SHM_DIR)";

  auto* ls = app.add_subcommand("ls", "List shmyolo segments: size, owner and whether it is alive, geometry, counters");
  ls->add_option("--shm-dir", opts->dir, dir_help);
  ls->add_flag("--json", opts->json, "Print JSON for scripts");
  ls->callback([opts, &exit_code] { exit_code = run_ls(opts->dir, opts->json); });

  auto* inspect = app.add_subcommand("inspect", "Show one segment's header and slot states");
  inspect->add_option("name", opts->name, "Segment name, e.g. shmyolo.demo.cam0")->required();
  inspect->add_option("--shm-dir", opts->dir, dir_help);
  inspect->add_flag("--json", opts->json, "Print JSON (the default output is JSON too)");
  inspect->callback([opts, &exit_code] { exit_code = run_inspect(opts->dir, opts->name, opts->json); });

  auto* gc = app.add_subcommand("gc", "Remove segments whose creator is dead or that were closed");
  gc->add_option("--shm-dir", opts->dir, dir_help);
  gc->add_flag("--dry-run", opts->dry_run, "Only say what would be removed");
  gc->add_flag("--invalid", opts->invalid, "Also remove shmyolo.* files that are not valid rings");
  gc->callback([opts, &exit_code] { exit_code = run_gc(opts->dir, opts->dry_run, opts->invalid); });
}

}  // namespace shmyolo::cli

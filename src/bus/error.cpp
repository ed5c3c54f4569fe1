#include <shmyolo/bus/error.hpp>

namespace shmyolo::bus {

std::string_view to_string(BusErrc code) {
  switch (code) {
    case BusErrc::invalid_argument: return "invalid argument";
    case BusErrc::already_exists: return "ring already exists";
    case BusErrc::not_found: return "ring not found";
    case BusErrc::permission_denied: return "permission denied";
    case BusErrc::no_space: return "not enough shared memory";
    case BusErrc::system_error: return "system error";
    case BusErrc::invalid_header: return "invalid ring header";
    case BusErrc::version_mismatch: return "ring layout version mismatch";
    case BusErrc::not_ready: return "ring not ready";
    case BusErrc::timeout: return "timed out";
    case BusErrc::ring_full: return "ring full";
    case BusErrc::producer_gone: return "producer gone";
    case BusErrc::closed: return "ring closed";
    case BusErrc::producer_busy: return "another producer is attached";
    case BusErrc::claim_lost: return "claim lost: its lease ran out";
  }
  return "unknown error";
}

}  // namespace shmyolo::bus

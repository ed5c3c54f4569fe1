// Errors of the frame bus. Operations that can fail for ordinary reasons
// return std::expected<T, BusError>; the message is one line that names the
// segment and says what to do.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include <shmyolo/error.hpp>

namespace shmyolo::bus {

enum class BusErrc {
  invalid_argument,   // a bad name, geometry or option from the caller
  already_exists,     // a live process owns a segment of that name
  not_found,          // no segment of that name in the directory
  permission_denied,  // the segment belongs to another user or mode
  no_space,           // the directory (e.g. /dev/shm) is too small
  system_error,       // another syscall failed; the message names it
  invalid_header,     // the segment is not a valid ring (tampered, truncated, foreign)
  version_mismatch,   // a ring of another layout version
  not_ready,          // the creator has not finished initialising the ring
  timeout,            // nothing arrived (or no space freed) in time
  ring_full,          // queue mode with the fail policy: no space after the wait
  producer_gone,      // the producer died or stopped beating
  closed,             // the creator closed the ring
  producer_busy,      // another live producer is attached
  claim_lost,         // the lease ran out and the slot was reclaimed
};

[[nodiscard]] std::string_view to_string(BusErrc code);

// The message is empty for timeout, the common case on the data path.
using BusError = Error<BusErrc>;

template <class T>
using BusResult = Result<T, BusErrc>;

[[nodiscard]] inline std::unexpected<BusError> bus_error(BusErrc code, std::string message = {}) {
  return make_error(code, std::move(message));
}

}  // namespace shmyolo::bus

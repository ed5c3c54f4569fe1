// libFuzzer target: random bytes as a ring header and a random mapping size
// through the attach-time validation. Whatever it accepts must describe a
// layout that fits inside the mapping; nothing may crash or overflow.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <shmyolo/bus/ring.hpp>

using namespace shmyolo::bus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof(std::uint64_t)) return 0;
  std::uint64_t mapping = 0;
  std::memcpy(&mapping, data, sizeof(mapping));
  data += sizeof(mapping);
  size -= sizeof(mapping);
  alignas(RingHeader) std::array<std::byte, sizeof(RingHeader)> bytes{};
  std::memcpy(bytes.data(), data, std::min(size, bytes.size()));
  // Most inputs should get past the magic: seed it unless the input asks not to.
  if (size > 0 && (data[0] & 1U) == 0) {
    std::memcpy(bytes.data(), &kRingMagic, sizeof(kRingMagic));
    const std::uint32_t version = kLayoutVersion;
    std::memcpy(bytes.data() + 8, &version, sizeof(version));
    const std::uint32_t header = sizeof(RingHeader);
    std::memcpy(bytes.data() + 12, &header, sizeof(header));
  }
  const auto* header = reinterpret_cast<const RingHeader*>(bytes.data());
  const auto verdict = validate_header(*header, mapping, "fuzz");
  if (!verdict) {
    if (verdict.error().message.empty() || verdict.error().message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  const RingGeometry& g = header->geometry;
  const unsigned __int128 end =
      static_cast<unsigned __int128>(g.slots_offset) + static_cast<unsigned __int128>(g.slot_stride) * g.slot_count;
  const unsigned __int128 table_end = static_cast<unsigned __int128>(g.descriptors_offset) +
                                      static_cast<unsigned __int128>(g.slot_count) * kDescriptorBytes;
  if (end > mapping || table_end > g.slots_offset || g.frame_bytes > g.slot_stride || g.slot_count == 0) std::abort();
  return 0;
}

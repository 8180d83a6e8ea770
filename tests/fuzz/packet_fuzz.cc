// libFuzzer entry point for parsePacket. The parser's contract is "any bytes, no crash, no
// out-of-bounds read", so the target only checks the invariants that hold for every input;
// build it with -fsanitize=fuzzer,address,undefined to make the sanitizers the oracle.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fw/packet/packet.h"

namespace {

void check(std::span<const uint8_t> bytes, size_t wire_length) {
  muzzle::PacketInfo info;
  muzzle::ParseError e = muzzle::parsePacket(bytes, wire_length, &info);
  if (e == muzzle::ParseError::kOk) {
    // A transport offset past the end would send later stages reading beyond the buffer.
    if (info.l4_offset > bytes.size()) std::abort();
    if (info.has_ports && info.later_fragment) std::abort();
  }
  if (muzzle::parseErrorName(e).empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The whole input as a whole packet.
  check(std::span<const uint8_t>(data, size), size);
  // And as the copied prefix of a longer packet (a header-only queue): the first two bytes say
  // how much longer the packet was on the wire.
  if (size > 2) {
    const size_t extra = size_t{data[0]} << 8 | data[1];
    check(std::span<const uint8_t>(data + 2, size - 2), size - 2 + extra);
  }
  return 0;
}

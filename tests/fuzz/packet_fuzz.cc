// libFuzzer entry point for parsePacket. The parser's contract is "any bytes, no crash, no
// out-of-bounds read", so the target only checks the invariants that hold for every input;
// build it with -fsanitize=fuzzer,address,undefined to make the sanitizers the oracle.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fw/packet/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  muzzle::PacketInfo info;
  muzzle::ParseError e = muzzle::parsePacket(std::span<const uint8_t>(data, size), &info);
  if (e == muzzle::ParseError::kOk) {
    // A transport offset past the end would send later stages reading beyond the buffer.
    if (info.l4_offset > size) std::abort();
    if (info.has_ports && info.later_fragment) std::abort();
  }
  if (muzzle::parseErrorName(e).empty()) std::abort();
  return 0;
}

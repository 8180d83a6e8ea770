// libFuzzer target for the flood guard's counts: the answer to a dump of @flood-dropped (the
// messages NetlinkTransport::dump collects) -> parseFloodDump, as NftRulesetWriter's
// readFloodDrops runs it, with a small bound (2 elements) so that it is met; and the same bytes as
// an answer about @segment-dropped -> parseSegmentDump (readSegmentDrops), whose keys are
// interface names. The same bytes are parsed again cut short (the last byte says where).
// Oracle: the sanitizers on our code (libmnl is not instrumented), and: a refusal names the set
// and the table; no more counts than the bound, whether the parse succeeded or not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/nft/flood_dump.h"
#include "fw/nft/ruleset_layout.h"
#include "tests/fuzz/netlink_input.h"

namespace {

constexpr size_t kMaxElements = 2;

void check(const std::vector<char>& buf) {
  std::vector<muzzle::FloodDropCount> drops;
  const muzzle::Status status =
      muzzle::parseFloodDump(buf, muzzle::kFloodDroppedSet, kMaxElements, &drops);
  if (!status.ok() &&
      status.message().rfind("nftables: reading set flood-dropped of inet muzzle: ", 0) != 0) {
    std::abort();
  }
  if (drops.size() > kMaxElements) std::abort();
  std::vector<muzzle::SegmentDropCount> segments;
  const muzzle::Status segment_status =
      muzzle::parseSegmentDump(buf, muzzle::kSegmentDroppedSet, kMaxElements, &segments);
  if (!segment_status.ok() &&
      segment_status.message().rfind("nftables: reading set segment-dropped of inet muzzle: ", 0) !=
          0) {
    std::abort();
  }
  if (segments.size() > kMaxElements) std::abort();
  // A name as the kernel gives it: 1-15 bytes, no NUL.
  for (const muzzle::SegmentDropCount& s : segments) {
    if (s.interface.empty() || s.interface.size() > 15 ||
        s.interface.find('\0') != std::string::npos) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  muzzle::fuzz::checkWholeAndCut(data, size, check);
  return 0;
}

// The flood guard's counts read back: see flood_dump.h.
#include "fw/nft/flood_dump.h"

#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "fw/common/excerpt.h"
#include "fw/nft/conntrack_wire.h"
#include "fw/nft/netlink_attrs.h"
#include "fw/nft/nft_expressions.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {
namespace {
// The library's files are compiled in batches (muzzle_unity): this file's own names live in a
// namespace of their own, so that they never meet another file's of the same batch.
namespace flooddump {

// An element of @flood-dropped as the kernel dumps it: element nest (4), key nest (4) and value
// (4 + 6, padded to 12), timeout and expiration (each 4 + 8, and 4 of padding before each 64-bit
// value at worst), expression nest (4), name "counter" (4 + 8), data nest (4), bytes and packets
// (each 4 + 8, and 4 of padding at worst): 104 bytes at most, room for a flag or two. (Linux 6.18
// on x86 sends 76: no padding, and no timeout where it is the set's own.) An element of
// @segment-dropped has a key of 16 bytes (4 + 16): 112 bytes at most.
constexpr size_t kDumpBytesPerElement = 128;
// Each datagram of a dump (up to 32 KiB) starts a message with its own headers and names.
constexpr size_t kDumpBytesSlack = size_t{64} << 10;

struct NftnlSetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};

// The strict attribute walks are netlink_attrs.h's.

// What the element walk needs: the set, the bound, the running count, where the counts go (the
// devices' or the interfaces': one of the two is null), and the first problem.
struct ElementWalk {
  const std::string& set;
  size_t max_elements;
  size_t count = 0;
  std::vector<FloodDropCount>* devices;
  std::vector<SegmentDropCount>* interfaces;
  std::string problem;
};

// An interface name as `meta iifname` loads it (interfaceNameKey): 1-15 bytes, then NULs to the
// 16th. Anything else is no key the segment guard's rule made. The name may hold any other byte
// the kernel allows; its readers escape it where they show it.
bool interfaceNameOf(const uint8_t* key, size_t len, std::string* name) {
  const auto* end = static_cast<const uint8_t*>(std::memchr(key, 0, len));
  if (end == nullptr || end == key) return false;
  for (const uint8_t* p = end; p < key + len; ++p) {
    if (*p != 0) return false;
  }
  name->assign(reinterpret_cast<const char*>(key), static_cast<size_t>(end - key));
  return true;
}

// What an element's expressions said of its counter.
struct CounterRead {
  bool found = false;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  std::string problem;
};

// One expression (NFTA_EXPR_*): when it is a counter, its bytes and packets.
int readExpression(const nlattr* expr, void* data) {
  auto* read = static_cast<CounterRead*>(data);
  const nlattr* tb[NFTA_EXPR_MAX + 1] = {};
  if (!isNestedAttr(expr) || !collectNested(expr, tb, NFTA_EXPR_MAX)) {
    read->problem = "a garbled expression";
    return MNL_CB_ERROR;
  }
  if (!isStringAttr(tb[NFTA_EXPR_NAME], "counter")) return MNL_CB_OK;
  const nlattr* ctr[NFTA_COUNTER_MAX + 1] = {};
  // Both, though only the packets are kept: a counter without either is not the kernel's.
  if (!isNestedAttr(tb[NFTA_EXPR_DATA]) ||
      !collectNested(tb[NFTA_EXPR_DATA], ctr, NFTA_COUNTER_MAX) ||
      !readBe64(ctr[NFTA_COUNTER_BYTES], &read->bytes) ||
      !readBe64(ctr[NFTA_COUNTER_PACKETS], &read->packets)) {
    read->problem = "a counter without its bytes and packets";
    return MNL_CB_ERROR;
  }
  read->found = true;
  return MNL_CB_OK;
}

int readElement(const nlattr* item, void* data) {
  auto* walk = static_cast<ElementWalk*>(data);
  const nlattr* tb[NFTA_SET_ELEM_MAX + 1] = {};
  const nlattr* key[NFTA_DATA_MAX + 1] = {};
  if (mnl_attr_get_type(item) != NFTA_LIST_ELEM || !isNestedAttr(item) ||
      !collectNested(item, tb, NFTA_SET_ELEM_MAX) || !isNestedAttr(tb[NFTA_SET_ELEM_KEY]) ||
      !collectNested(tb[NFTA_SET_ELEM_KEY], key, NFTA_DATA_MAX) ||
      key[NFTA_DATA_VALUE] == nullptr) {
    walk->problem = "an element without a key";
    return MNL_CB_ERROR;
  }
  const size_t len = mnl_attr_get_payload_len(key[NFTA_DATA_VALUE]);
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(key[NFTA_DATA_VALUE]));
  const bool by_device = walk->devices != nullptr;
  const size_t want = by_device ? kEtherAddressLength : kInterfaceNameKeyLength;
  if (len != want) {
    walk->problem = "an element has a key of " + std::to_string(len) + " bytes, not " +
                    (by_device ? "a MAC address's " : "an interface name's ") +
                    std::to_string(want);
    return MNL_CB_ERROR;
  }
  MacAddress mac;
  std::string interface;
  if (by_device) {
    mac = MacAddress::fromBytes(bytes);
  } else if (!interfaceNameOf(bytes, len, &interface)) {
    walk->problem = "an element has a key that is no interface name (1-15 bytes, then NULs)";
    return MNL_CB_ERROR;
  }
  // How an error names the element: never more than a MAC address or 15 bytes, escaped.
  const std::string element = by_device ? mac.toString() : "\"" + excerpt(interface) + "\"";
  // One expression comes as NFTA_SET_ELEM_EXPR, several as a list in NFTA_SET_ELEM_EXPRESSIONS.
  CounterRead counter;
  if (tb[NFTA_SET_ELEM_EXPR] != nullptr) {
    readExpression(tb[NFTA_SET_ELEM_EXPR], &counter);
  } else if (tb[NFTA_SET_ELEM_EXPRESSIONS] != nullptr &&
             !forEachNested(tb[NFTA_SET_ELEM_EXPRESSIONS], readExpression, &counter) &&
             counter.problem.empty()) {
    counter.problem = "element " + element + " has a garbled list of expressions";
  }
  if (counter.problem.empty() && !counter.found) {
    counter.problem = "element " + element + " has no counter";
  }
  if (!counter.problem.empty()) {
    walk->problem = counter.problem;
    return MNL_CB_ERROR;
  }
  if (++walk->count > walk->max_elements) {
    walk->problem = "the set holds more than its " + std::to_string(walk->max_elements) +
                    " elements, so it is not the set muzzled made (`nft list set inet " +
                    kRulesetTable + " " + walk->set +
                    "` shows it; muzzled's next start replaces the table)";
    return MNL_CB_ERROR;
  }
  if (by_device) {
    walk->devices->push_back({mac, counter.packets});
  } else {
    walk->interfaces->push_back({std::move(interface), counter.packets});
  }
  return MNL_CB_OK;
}

// The elements of one NFT_MSG_NEWSETELEM message of the answer; "" or what was wrong.
std::string readElements(const nlmsghdr* nlh, ElementWalk& walk) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) return "a message has no nfgenmsg header";
  const nlattr* tb[NFTA_SET_ELEM_LIST_MAX + 1] = {};
  if (!collectMessage(nlh, tb, NFTA_SET_ELEM_LIST_MAX)) {
    return "a message with garbled attributes";
  }
  if (!isStringAttr(tb[NFTA_SET_ELEM_LIST_SET], walk.set.c_str())) {
    return "a message that is not about this set";
  }
  // No list is no elements, as an empty list is (what Linux 6.18 sends for an empty set).
  if (tb[NFTA_SET_ELEM_LIST_ELEMENTS] == nullptr) return "";
  if (!forEachNested(tb[NFTA_SET_ELEM_LIST_ELEMENTS], readElement, &walk)) {
    return walk.problem.empty() ? "a garbled list of elements" : walk.problem;
  }
  return "";
}

}  // namespace flooddump
}  // namespace

std::vector<char> floodDumpRequest(const std::string& table, const std::string& set, uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  std::unique_ptr<nftnl_set, flooddump::NftnlSetFree> s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kNftFamily);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, kNftFamily, NLM_F_DUMP, seq);
  nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

size_t floodDumpBytes(uint32_t max_elements) {
  return size_t{max_elements} * flooddump::kDumpBytesPerElement + flooddump::kDumpBytesSlack;
}

namespace {
namespace flooddump {

Status parseDump(std::span<const char> answer, ElementWalk& walk) {
  const std::string& set = walk.set;
  const std::string where =
      "nftables: reading set " + set + " of inet " + std::string(kRulesetTable) + ": ";
  size_t offset = 0;
  for (size_t index = 1; answer.size() - offset >= sizeof(nlmsghdr); ++index) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(answer.data() + offset);
    // libmnl walks attributes up to the message's length rounded up to 4: all of that must be
    // in the answer. Rounded in 64 bits: NLMSG_ALIGN of a length of 2^32-3 or more is 0, and a
    // walk that steps 0 bytes never ends.
    const size_t aligned_len = (size_t{nlh->nlmsg_len} + 3) & ~size_t{3};
    if (nlh->nlmsg_len < sizeof(nlmsghdr) || aligned_len > answer.size() - offset) break;
    offset += aligned_len;
    const std::string at = "message " + std::to_string(index) + " of the answer: ";
    if (nlh->nlmsg_type == NLMSG_DONE) {
      int error = 0;
      if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(error)) {
        std::memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
      }
      if (error == 0) return Status();
      return Status::error(where +
                           "the kernel ended the dump with an error: " + netlinkErrorText(error));
    }
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
        return Status::error(where + at + "an error message too short to hold its error");
      }
      const int error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
      // No such table or set: the guard is off, or the table is gone.
      if (error == -ENOENT) return Status();
      if (error == 0) return Status::error(where + at + "an acknowledgement, not a dump");
      return Status::error(where + "the kernel refused the dump: " + netlinkErrorText(error));
    }
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
      return Status::error(where + "the table changed while it was read; read it again");
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
        NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM) {
      return Status::error(where + at + "unexpected message type " +
                           std::to_string(nlh->nlmsg_type));
    }
    if (std::string problem = readElements(nlh, walk); !problem.empty()) {
      return Status::error(where + at + problem);
    }
  }
  return Status::error(where + "the answer (" + std::to_string(answer.size()) +
                       " bytes) ends before its last message (NLMSG_DONE): truncated or garbled");
}

}  // namespace flooddump
}  // namespace

Status parseFloodDump(std::span<const char> answer, const std::string& set, size_t max_elements,
                      std::vector<FloodDropCount>* out) {
  flooddump::ElementWalk walk{set, max_elements, 0, out, nullptr, ""};
  return flooddump::parseDump(answer, walk);
}

Status parseSegmentDump(std::span<const char> answer, const std::string& set, size_t max_elements,
                        std::vector<SegmentDropCount>* out) {
  flooddump::ElementWalk walk{set, max_elements, 0, nullptr, out, ""};
  return flooddump::parseDump(answer, walk);
}

}  // namespace muzzle

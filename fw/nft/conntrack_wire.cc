// conntrack's wire format for accounting: see conntrack_wire.h.
#include "fw/nft/conntrack_wire.h"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "fw/nft/marks.h"
#include "fw/nft/netlink_attrs.h"

namespace muzzle {
namespace {
// The library's files are compiled in batches (muzzle_unity): this file's own names live in a
// namespace of their own, so that they never meet another file's of the same batch.
namespace ctwire {

// The strict attribute walks (collectNested, collectMessage, readBe64/32) are netlink_attrs.h's.

// One direction's counters: the 64-bit pair the kernel sends, or the old 32-bit one. "" or what
// was wrong.
std::string readCounters(const nlattr* nest, uint64_t* bytes, uint64_t* packets) {
  const nlattr* tb[CTA_COUNTERS_MAX + 1] = {};
  if (!collectNested(nest, tb, CTA_COUNTERS_MAX)) return "garbled counters";
  if (tb[CTA_COUNTERS_BYTES] != nullptr || tb[CTA_COUNTERS_PACKETS] != nullptr) {
    if (!readBe64(tb[CTA_COUNTERS_BYTES], bytes) || !readBe64(tb[CTA_COUNTERS_PACKETS], packets)) {
      return "counters without 64-bit bytes and packets";
    }
    return "";
  }
  uint32_t bytes32 = 0;
  uint32_t packets32 = 0;
  if (!readBe32(tb[CTA_COUNTERS32_BYTES], &bytes32) ||
      !readBe32(tb[CTA_COUNTERS32_PACKETS], &packets32)) {
    return "counters without bytes and packets";
  }
  *bytes = bytes32;
  *packets = packets32;
  return "";
}

// One address of the original tuple: exactly the family's length.
std::string readAddress(const nlattr* attr, bool v6, const char* which, IpAddress* out) {
  const size_t want = v6 ? 16 : 4;
  if (attr == nullptr) {
    return std::string("an original tuple without its ") + (v6 ? "IPv6 " : "IPv4 ") + which +
           " address";
  }
  if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, want) != 0) {
    return std::string("an ") + (v6 ? "IPv6 " : "IPv4 ") + which + " address of " +
           std::to_string(mnl_attr_get_payload_len(attr)) + " bytes, not " + std::to_string(want);
  }
  *out = IpAddress::fromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(attr)), v6);
  return "";
}

// Whether a TCP connection is closing past the point nf_conncount stops counting it (TIME_WAIT
// or CLOSE, as the kernel's own connection limit; a connection of another protocol has no TCP
// state and is not). "" or what was wrong with the state.
std::string readClosed(const nlattr* protoinfo, bool* closed) {
  *closed = false;
  if (protoinfo == nullptr) return "";
  const nlattr* info[CTA_PROTOINFO_MAX + 1] = {};
  if (!collectNested(protoinfo, info, CTA_PROTOINFO_MAX)) return "garbled protocol state";
  if (info[CTA_PROTOINFO_TCP] == nullptr) return "";
  const nlattr* tcp[CTA_PROTOINFO_TCP_MAX + 1] = {};
  if (!collectNested(info[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX)) {
    return "garbled TCP state";
  }
  const nlattr* state = tcp[CTA_PROTOINFO_TCP_STATE];
  if (state == nullptr) return "";
  if (mnl_attr_validate(state, MNL_TYPE_U8) != 0) {
    return "a TCP state of " + std::to_string(mnl_attr_get_payload_len(state)) + " bytes, not 1";
  }
  const uint8_t value = mnl_attr_get_u8(state);
  *closed = value == TCP_CONNTRACK_TIME_WAIT || value == TCP_CONNTRACK_CLOSE;
  return "";
}

// The device a connection's label names (the `ct label set ether saddr` of muzzled's table: the
// address in its first 6 bytes, the other 10 zero), or nothing: no label, or one muzzled did not
// set (all zero, or bits past the address). "" or what was wrong.
std::string readLabel(const nlattr* labels, std::optional<MacAddress>* device) {
  device->reset();
  if (labels == nullptr) return "";
  constexpr size_t kLabelBytes = 16;
  if (mnl_attr_get_payload_len(labels) != kLabelBytes) {
    return "labels of " + std::to_string(mnl_attr_get_payload_len(labels)) + " bytes, not 16";
  }
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(labels));
  bool address = false, rest = false;
  for (size_t i = 0; i < kLabelBytes; ++i) (i < 6 ? address : rest) |= bytes[i] != 0;
  if (address && !rest) *device = MacAddress::fromBytes(bytes);
  return "";
}

// One connection entry (IPCTNL_MSG_CT_NEW or _DELETE); "" or what was wrong. Appends its count
// when it has counters and counted something; with `live`, the device of a connection muzzled
// judged and allowed that is not closing and whose label names one (whatever its counters).
std::string readEntry(const nlmsghdr* nlh, std::vector<FlowCount>* out,
                      std::vector<MacAddress>* live, ConntrackParseStats* stats) {
  ++stats->entries;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) return "no nfgenmsg header";
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6) return "";
  const bool v6 = nfg->nfgen_family == AF_INET6;

  const nlattr* tb[CTA_MAX + 1] = {};
  if (!collectMessage(nlh, tb, CTA_MAX)) return "garbled attributes";
  const nlattr* tuple[CTA_TUPLE_MAX + 1] = {};
  const nlattr* ip[CTA_IP_MAX + 1] = {};
  if (tb[CTA_TUPLE_ORIG] == nullptr) return "no original tuple";
  if (!collectNested(tb[CTA_TUPLE_ORIG], tuple, CTA_TUPLE_MAX)) return "a garbled original tuple";
  if (!collectNested(tuple[CTA_TUPLE_IP], ip, CTA_IP_MAX)) {
    return "an original tuple without addresses";
  }
  FlowCount count;
  if (std::string problem =
          readAddress(ip[v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC], v6, "source", &count.source);
      !problem.empty()) {
    return problem;
  }
  if (std::string problem = readAddress(ip[v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST], v6, "destination",
                                        &count.destination);
      !problem.empty()) {
    return problem;
  }
  if (tb[CTA_MARK] != nullptr && !readBe32(tb[CTA_MARK], &count.mark)) {
    return "a mark of " + std::to_string(mnl_attr_get_payload_len(tb[CTA_MARK])) + " bytes, not 4";
  }
  // The key of the connection's growth (ConnectionGrowth): the kernel puts it in every entry.
  if (tb[CTA_ID] == nullptr) return "no id";
  if (!readBe32(tb[CTA_ID], &count.id)) {
    return "an id of " + std::to_string(mnl_attr_get_payload_len(tb[CTA_ID])) + " bytes, not 4";
  }
  // A generation in the mark: muzzled judged it; verdict code 0 or 1: allowed (marks.h).
  if (live != nullptr && (count.mark >> 8) != 0 && (count.mark & 0x2) == 0) {
    bool closed = false;
    if (std::string problem = readClosed(tb[CTA_PROTOINFO], &closed); !problem.empty()) {
      return problem;
    }
    std::optional<MacAddress> device;
    if (std::string problem = readLabel(tb[CTA_LABELS], &device); !problem.empty()) {
      return problem;
    }
    if (!closed && device) live->push_back(*device);
  }
  // Both directions' counters, or neither: the kernel adds them together (the acct extension).
  if (tb[CTA_COUNTERS_ORIG] == nullptr && tb[CTA_COUNTERS_REPLY] == nullptr) {
    ++stats->uncounted;
    return "";
  }
  if (tb[CTA_COUNTERS_ORIG] == nullptr || tb[CTA_COUNTERS_REPLY] == nullptr) {
    return "counters of one direction only";
  }
  if (std::string problem =
          readCounters(tb[CTA_COUNTERS_ORIG], &count.orig_bytes, &count.orig_packets);
      !problem.empty()) {
    return "original direction: " + problem;
  }
  if (std::string problem =
          readCounters(tb[CTA_COUNTERS_REPLY], &count.reply_bytes, &count.reply_packets);
      !problem.empty()) {
    return "reply direction: " + problem;
  }
  if (!count.countsNothing()) out->push_back(count);
  return "";
}

Status parseMessages(std::span<const char> bytes, const ConntrackDumpSender* sender,
                     std::vector<FlowCount>* out, std::vector<MacAddress>* live,
                     ConntrackParseStats* stats) {
  // Every event and every part of a dump passes here: the words of an error are put together
  // only when there is one.
  auto refused = [](std::string what) { return Status::error("conntrack answer: " + what); };
  size_t offset = 0;
  for (size_t index = 1; offset < bytes.size(); ++index) {
    auto at = [index](const std::string& what) {
      return "message " + std::to_string(index) + ": " + what;
    };
    if (bytes.size() - offset < sizeof(nlmsghdr)) {
      return refused(at(std::to_string(bytes.size() - offset) +
                        " bytes, too short for a netlink header: truncated or garbled"));
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data() + offset);
    // libmnl walks attributes up to the message's length rounded up to 4: all of that must be
    // in the buffer. Rounded in 64 bits: NLMSG_ALIGN of a length of 2^32-3 or more is 0, and a
    // walk that steps 0 bytes never ends.
    const size_t aligned_len = (size_t{nlh->nlmsg_len} + 3) & ~size_t{3};
    if (nlh->nlmsg_len < sizeof(nlmsghdr) || aligned_len > bytes.size() - offset) {
      return refused(at("a length of " + std::to_string(nlh->nlmsg_len) + " bytes where " +
                        std::to_string(bytes.size() - offset) + " are left: truncated or garbled"));
    }
    offset += aligned_len;
    if (sender != nullptr && (nlh->nlmsg_seq != sender->seq || nlh->nlmsg_pid != sender->portid)) {
      return refused(at("an answer to another request (sequence " + std::to_string(nlh->nlmsg_seq) +
                        " to port " + std::to_string(nlh->nlmsg_pid) + ", not " +
                        std::to_string(sender->seq) + " to port " + std::to_string(sender->portid) +
                        ")"));
    }
    if (nlh->nlmsg_type == NLMSG_NOOP) continue;
    if (nlh->nlmsg_type == NLMSG_DONE) {
      int error = 0;
      if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(error)) {
        std::memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
      }
      if (error != 0)
        return refused("the kernel ended the dump with an error: " + netlinkErrorText(error));
      stats->done = true;
      return Status();
    }
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
        return refused(at("an error message too short to hold its error"));
      }
      int error = 0;
      std::memcpy(&error,
                  static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offsetof(nlmsgerr, error),
                  sizeof(error));
      if (error == 0) return refused(at("an acknowledgement, not a dump"));
      return refused(
          "the kernel refused the dump: " + netlinkErrorText(error) +
          (error == -EPERM || error == EPERM ? " (reading conntrack needs CAP_NET_ADMIN)" : ""));
    }
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
      return refused("the conntrack table changed while it was read: read again");
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        (NFNL_MSG_TYPE(nlh->nlmsg_type) != IPCTNL_MSG_CT_NEW &&
         NFNL_MSG_TYPE(nlh->nlmsg_type) != IPCTNL_MSG_CT_DELETE)) {
      return refused(at("unexpected message type " + std::to_string(nlh->nlmsg_type) +
                        " (subsystem " + std::to_string(NFNL_SUBSYS_ID(nlh->nlmsg_type)) +
                        ", message " + std::to_string(NFNL_MSG_TYPE(nlh->nlmsg_type)) + ")"));
    }
    if (std::string problem = readEntry(nlh, out, live, stats); !problem.empty()) {
      return refused("entry " + std::to_string(stats->entries) + " (message " +
                     std::to_string(index) + "): " + problem);
    }
  }
  return Status();
}

}  // namespace ctwire
}  // namespace

std::string netlinkErrorText(int raw) {
  const long long error = raw < 0 ? -static_cast<long long>(raw) : raw;
  if (error > 4095) return "error number " + std::to_string(error);
  return std::strerror(static_cast<int>(error));
}

// A plain dump, never IPCTNL_MSG_CT_GET_CTRZERO (the top of conntrack_wire.h says why).
std::vector<char> conntrackCountsRequest(uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;  // IPv4 and IPv6
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  // The kernel's filter, (mark & 0x2) == 0: verdict code 0 or 1, never 2 or 3 (marks.h).
  static_assert(static_cast<uint32_t>(VerdictCode::kReject) == 2 &&
                static_cast<uint32_t>(VerdictCode::kDrop) == 3);
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(0));
  mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(0x2));
  buf.resize(nlh->nlmsg_len);
  return buf;
}

Status parseConntrackMessages(std::span<const char> bytes, std::vector<FlowCount>* out,
                              ConntrackParseStats* stats, const ConntrackDumpSender* sender,
                              std::vector<MacAddress>* live) {
  return ctwire::parseMessages(bytes, sender, out, live, stats);
}

}  // namespace muzzle

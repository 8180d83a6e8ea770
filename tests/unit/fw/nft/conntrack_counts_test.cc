// Accounting by conntrack's counters (fw/nft/conntrack_counts.h), the pure parts: the dump
// request (cumulative counts, never zeroed) byte by byte; dump answers and DESTROY events built
// here the way the kernel's ctnetlink_fill_info() writes them (IPv4, IPv6, other families, with
// and without counters, the id), and every way a message can be short, garbled or not an entry,
// each refused with an error that says so; ConnectionGrowth (each connection's growth by id:
// dumps, events, tombstones, the sweep, the bound); then FlowCountTotals' grouping, its refusals
// and its bound.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "fw/nft/conntrack_wire.h"
#include "fw/nft/marks.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

struct Entry {
  uint8_t family = AF_INET;
  std::string source = "198.18.10.20";
  std::string destination = "203.0.113.5";
  std::optional<uint32_t> mark = verdictMark(7, VerdictCode::kAllow, 3);
  std::optional<uint32_t> id = 0x1234abcd;
  bool tuple = true;
  bool counters = true;
  bool counters32 = false;  // the old 32-bit counters instead of the kernel's 64-bit ones
  int address_len = -1;     // -1: the address's own length
  uint64_t orig_bytes = 1000;
  uint64_t orig_packets = 10;
  uint64_t reply_bytes = 5000;
  uint64_t reply_packets = 8;
  uint8_t type = IPCTNL_MSG_CT_NEW;
  uint16_t flags = NLM_F_MULTI;
  std::optional<uint8_t> tcp_state;  // CTA_PROTOINFO's TCP state, as the kernel sends it
  int tcp_state_len = 1;             // its length: other than 1, garbled
  // CTA_LABELS: the device muzzled's table put in the label (its first 6 bytes), or raw bytes.
  std::optional<std::string> label_mac;
  std::optional<std::vector<uint8_t>> label_bytes;
};

// Messages, one after the other, as one recv returns them. The buffer comes from operator new,
// so it is aligned as a receive buffer is.
class Messages {
 public:
  Messages& entry(const Entry& e) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = header(buf.data(), (NFNL_SUBSYS_CTNETLINK << 8) | e.type, e.flags);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = e.family;
    nfg->version = NFNETLINK_V0;
    if (e.tuple) {
      const IpAddress src = ip(e.source.c_str());
      const IpAddress dst = ip(e.destination.c_str());
      const size_t len =
          e.address_len >= 0 ? static_cast<size_t>(e.address_len) : (src.v6 ? 16 : 4);
      nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
      nlattr* ipnest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
      mnl_attr_put(nlh, src.v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, len, src.bytes.data());
      mnl_attr_put(nlh, dst.v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, len, dst.bytes.data());
      mnl_attr_nest_end(nlh, ipnest);
      nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
      mnl_attr_put_u8(nlh, CTA_PROTO_NUM, 6);
      mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(40000));
      mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(443));
      mnl_attr_nest_end(nlh, proto);
      mnl_attr_nest_end(nlh, tuple);
    }
    if (e.counters) {
      counters(nlh, CTA_COUNTERS_ORIG, e.orig_bytes, e.orig_packets, e.counters32);
      counters(nlh, CTA_COUNTERS_REPLY, e.reply_bytes, e.reply_packets, e.counters32);
    }
    if (e.tcp_state) {
      nlattr* info = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
      nlattr* tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
      const uint8_t state[4] = {*e.tcp_state, 0, 0, 0};
      mnl_attr_put(nlh, CTA_PROTOINFO_TCP_STATE, static_cast<size_t>(e.tcp_state_len), state);
      mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, 7);
      mnl_attr_nest_end(nlh, tcp);
      mnl_attr_nest_end(nlh, info);
    }
    if (e.label_mac || e.label_bytes) {
      std::vector<uint8_t> label(16, 0);
      if (e.label_bytes) label = *e.label_bytes;
      if (e.label_mac) {
        const uint64_t v = MacAddress::parse(*e.label_mac)->value;
        for (int i = 0; i < 6; ++i) label[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
      }
      mnl_attr_put(nlh, CTA_LABELS, label.size(), label.data());
    }
    if (e.mark) mnl_attr_put_u32(nlh, CTA_MARK, htonl(*e.mark));
    if (e.id) mnl_attr_put_u32(nlh, CTA_ID, htonl(*e.id));
    mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(120));  // an attribute the parse does not need
    return append(nlh);
  }

  Messages& done(int error = 0) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = header(buf.data(), NLMSG_DONE, NLM_F_MULTI);
    std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(error)), &error, sizeof(error));
    return append(nlh);
  }

  Messages& error(int error) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = header(buf.data(), NLMSG_ERROR, 0);
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    err->error = error;
    return append(nlh);
  }

  // A message of the given type with an nfgenmsg header and no attributes.
  Messages& bare(uint16_t type, uint16_t flags = NLM_F_MULTI) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = header(buf.data(), type, flags);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_INET;
    return append(nlh);
  }

  // Raw bytes after the messages (a cut, a garbled tail).
  Messages& raw(const std::vector<char>& bytes) {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return *this;
  }

  std::vector<char>& bytes() { return bytes_; }

 private:
  static nlmsghdr* header(char* buf, uint16_t type, uint16_t flags) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = 42;
    return nlh;
  }

  static void counters(nlmsghdr* nlh, uint16_t type, uint64_t bytes, uint64_t packets, bool old) {
    nlattr* nest = mnl_attr_nest_start(nlh, type);
    if (old) {
      mnl_attr_put_u32(nlh, CTA_COUNTERS32_PACKETS, htonl(static_cast<uint32_t>(packets)));
      mnl_attr_put_u32(nlh, CTA_COUNTERS32_BYTES, htonl(static_cast<uint32_t>(bytes)));
    } else {
      mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(packets));
      mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(bytes));
    }
    mnl_attr_nest_end(nlh, nest);
  }

  Messages& append(const nlmsghdr* nlh) {
    const auto* p = reinterpret_cast<const char*>(nlh);
    bytes_.insert(bytes_.end(), p, p + NLMSG_ALIGN(nlh->nlmsg_len));
    return *this;
  }

  std::vector<char> bytes_;
};

struct Parsed {
  Status status;
  std::vector<FlowCount> counts;
  ConntrackParseStats stats;
};

Parsed parse(const std::vector<char>& bytes) {
  Parsed p;
  p.status = parseConntrackMessages(bytes, &p.counts, &p.stats);
  return p;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The attributes in [begin, end), as the builder wrote them (trusted: tests only walk their own).
std::vector<nlattr*> attributesIn(char* begin, char* end) {
  std::vector<nlattr*> out;
  while (end - begin >= static_cast<long>(sizeof(nlattr))) {
    auto* a = reinterpret_cast<nlattr*>(begin);
    out.push_back(a);
    begin += NLA_ALIGN(a->nla_len);
  }
  return out;
}

std::vector<nlattr*> attributesOf(nlmsghdr* nlh) {
  char* begin = static_cast<char*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
  return attributesIn(begin, reinterpret_cast<char*>(nlh) + nlh->nlmsg_len);
}

// The attribute `outer` of the first message past its nfgenmsg header, or its child `inner`
// (when not 0): where a test garbles the bytes.
nlattr* findAttribute(std::vector<char>& bytes, uint16_t outer, uint16_t inner) {
  for (nlattr* attr : attributesOf(reinterpret_cast<nlmsghdr*>(bytes.data()))) {
    if (mnl_attr_get_type(attr) != outer) continue;
    if (inner == 0) return attr;
    char* payload = static_cast<char*>(mnl_attr_get_payload(attr));
    for (nlattr* child : attributesIn(payload, payload + mnl_attr_get_payload_len(attr))) {
      if (mnl_attr_get_type(child) == inner) return child;
    }
  }
  return nullptr;
}

TEST_CASE("the dump request: a plain dump (never zeroing) of IPv4 and IPv6, mark filter 0/0x2") {
  const std::vector<char> request = conntrackCountsRequest(1234);
  REQUIRE(request.size() >= sizeof(nlmsghdr) + sizeof(nfgenmsg));
  std::vector<char> copy = request;
  auto* nlh = reinterpret_cast<nlmsghdr*>(copy.data());
  CHECK(nlh->nlmsg_len == request.size());
  // Not IPCTNL_MSG_CT_GET_CTRZERO: the kernel zeroes an entry before it knows it fits in the
  // message, and the entry sent again in the next message has lost its counts.
  CHECK(nlh->nlmsg_type == ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET));
  CHECK(nlh->nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
  CHECK(nlh->nlmsg_seq == 1234);
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  CHECK(nfg->nfgen_family == AF_UNSPEC);
  CHECK(nfg->version == NFNETLINK_V0);
  CHECK(nfg->res_id == 0);

  std::vector<std::pair<uint16_t, uint32_t>> attrs;
  for (const nlattr* attr : attributesOf(nlh)) {
    REQUIRE(mnl_attr_validate(attr, MNL_TYPE_U32) == 0);
    attrs.emplace_back(mnl_attr_get_type(attr), ntohl(mnl_attr_get_u32(attr)));
  }
  const std::vector<std::pair<uint16_t, uint32_t>> want = {{CTA_MARK, 0}, {CTA_MARK_MASK, 0x2}};
  CHECK(attrs == want);
  // The filter keeps exactly the verdict codes of allowed connections.
  for (VerdictCode code : {VerdictCode::kAllowInspected, VerdictCode::kAllow, VerdictCode::kReject,
                           VerdictCode::kDrop}) {
    const uint32_t mark = verdictMark(9, code, 5);
    const bool allowed = code == VerdictCode::kAllowInspected || code == VerdictCode::kAllow;
    CHECK(((mark & 0x2) == 0) == allowed);
  }
}

TEST_CASE("an IPv4 dump entry: addresses, mark and both directions' counters") {
  Messages m;
  m.entry({}).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  CHECK(p.stats.done);
  CHECK(p.stats.entries == 1);
  CHECK(p.stats.uncounted == 0);
  REQUIRE(p.counts.size() == 1);
  const FlowCount& c = p.counts[0];
  CHECK(c.source == ip("198.18.10.20"));
  CHECK(c.destination == ip("203.0.113.5"));
  CHECK_FALSE(c.source.v6);
  CHECK(c.mark == verdictMark(7, VerdictCode::kAllow, 3));
  CHECK(c.id == 0x1234abcd);
  CHECK(c.orig_bytes == 1000);
  CHECK(c.orig_packets == 10);
  CHECK(c.reply_bytes == 5000);
  CHECK(c.reply_packets == 8);
}

TEST_CASE("an IPv6 dump entry, 64-bit counts beyond 2^32, and the old 32-bit counters") {
  Entry v6;
  v6.family = AF_INET6;
  v6.source = "fd00:10::20";
  v6.destination = "2001:db8::5";
  v6.orig_bytes = (uint64_t{1} << 40) + 3;
  v6.reply_packets = (uint64_t{1} << 33) + 1;
  Entry old;
  old.counters32 = true;
  old.orig_bytes = 77;
  old.reply_bytes = 99;
  Messages m;
  m.entry(v6).entry(old).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  REQUIRE(p.counts.size() == 2);
  CHECK(p.counts[0].source == ip("fd00:10::20"));
  CHECK(p.counts[0].destination == ip("2001:db8::5"));
  CHECK(p.counts[0].source.v6);
  CHECK(p.counts[0].orig_bytes == (uint64_t{1} << 40) + 3);
  CHECK(p.counts[0].reply_packets == (uint64_t{1} << 33) + 1);
  CHECK(p.counts[1].orig_bytes == 77);
  CHECK(p.counts[1].orig_packets == 10);
  CHECK(p.counts[1].reply_bytes == 99);
  CHECK(p.counts[1].reply_packets == 8);
}

TEST_CASE("DESTROY events (IPCTNL_MSG_CT_DELETE) parse as entries, without NLMSG_DONE") {
  Entry ended;
  ended.type = IPCTNL_MSG_CT_DELETE;
  ended.flags = 0;
  ended.mark = verdictMark(7, VerdictCode::kReject);  // the parse keeps it: FlowCountTotals judges
  ended.orig_bytes = 60;
  Messages m;
  m.entry(ended);
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  CHECK_FALSE(p.stats.done);
  CHECK(p.stats.entries == 1);
  REQUIRE(p.counts.size() == 1);
  CHECK(p.counts[0].orig_bytes == 60);
  CHECK(p.counts[0].mark == verdictMark(7, VerdictCode::kReject));
}

TEST_CASE("entries that counted nothing are read but not kept; a mark is optional") {
  Entry zero;
  zero.orig_bytes = zero.orig_packets = zero.reply_bytes = zero.reply_packets = 0;
  Entry unmarked;
  unmarked.mark.reset();
  Messages m;
  m.entry(zero).entry(unmarked).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  CHECK(p.stats.entries == 2);
  CHECK(p.stats.uncounted == 0);
  REQUIRE(p.counts.size() == 1);
  CHECK(p.counts[0].mark == 0);
}

TEST_CASE("a dump's live connections: judged and allowed, by the device their label names") {
  // The connection limit's recount (fw/device/connection_counts.h) reads every connection muzzled
  // allowed that still holds its place, as nf_conncount counts them, by the MAC address muzzled's
  // table put in its label on its first packet: whatever source address the device used.
  const char* cam = "44:47:cc:00:00:11";
  const char* vacuum = "50:ec:50:00:00:21";
  auto judged = [](const char* device, uint32_t mark, std::optional<uint8_t> state) {
    Entry e;
    if (device != nullptr) e.label_mac = device;
    e.mark = mark;
    e.tcp_state = state;
    return e;
  };
  const uint32_t allowed = verdictMark(7, VerdictCode::kAllow, 3);
  Entry idle = judged(cam, allowed, TCP_CONNTRACK_ESTABLISHED);
  idle.orig_bytes = idle.orig_packets = idle.reply_bytes = idle.reply_packets = 0;
  Entry uncounted = judged(cam, allowed, std::nullopt);  // UDP: no TCP state
  uncounted.counters = false;
  Entry elsewhere = judged(cam, allowed, std::nullopt);  // another source address, the same device
  elsewhere.source = "198.18.10.200";
  // A DNS flow, saved with verdict code 0 (inspected): allowed.
  Entry dns = judged(vacuum, verdictMark(7, VerdictCode::kAllowInspected, 2), std::nullopt);
  dns.family = AF_INET6;
  dns.source = "fd00:10::21";
  dns.destination = "2001:db8::53";
  Entry foreign = judged(nullptr, allowed, std::nullopt);  // a label muzzled did not set
  foreign.label_bytes = std::vector<uint8_t>(16, 0);
  (*foreign.label_bytes)[0] = 0x44;
  (*foreign.label_bytes)[9] = 1;
  Messages m;
  m.entry(judged(cam, allowed, TCP_CONNTRACK_ESTABLISHED))
      .entry(idle)
      .entry(uncounted)
      .entry(elsewhere)
      .entry(judged(cam, allowed, TCP_CONNTRACK_SYN_SENT))
      .entry(judged(cam, allowed, TCP_CONNTRACK_FIN_WAIT))
      .entry(judged(cam, allowed, TCP_CONNTRACK_TIME_WAIT))  // left out
      .entry(judged(cam, allowed, TCP_CONNTRACK_CLOSE))      // left out
      .entry(dns)
      // Allowed under an older generation, not judged again yet: still a connection.
      .entry(judged(vacuum, verdictMark(6, VerdictCode::kAllow, 0), std::nullopt))
      // No label (opened before muzzled's table), or another's: no device's.
      .entry(judged(nullptr, allowed, std::nullopt))
      .entry(foreign)
      // Never judged (the box's own), and refused (the kernel's filter leaves those out anyway).
      .entry(judged(cam, 0, std::nullopt))
      .entry(judged(cam, verdictMark(7, VerdictCode::kReject, 0), std::nullopt))
      .entry(judged(cam, verdictMark(7, VerdictCode::kDrop, 0), std::nullopt))
      .done();
  std::vector<FlowCount> counts;
  std::vector<MacAddress> live;
  ConntrackParseStats stats;
  const Status s = parseConntrackMessages(m.bytes(), &counts, &stats, nullptr, &live);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(stats.entries == 15);
  const LiveConnections by = countByDevice(live, /*complete=*/true);
  CHECK(by.complete);
  std::map<std::string, uint32_t> got;
  for (const DeviceConnections& c : by.by_device) got[c.device.toString()] = c.connections;
  const std::map<std::string, uint32_t> want = {{cam, 6}, {vacuum, 2}};
  CHECK(got == want);
  // Without `live` (events, accounting's own parse): the same counts, nothing else.
  std::vector<FlowCount> plain;
  ConntrackParseStats plain_stats;
  REQUIRE(parseConntrackMessages(m.bytes(), &plain, &plain_stats).ok());
  CHECK(plain.size() == counts.size());
}

TEST_CASE("a garbled TCP state or labels of another size refuse the entry, with what was wrong") {
  Entry state;
  state.tcp_state = TCP_CONNTRACK_ESTABLISHED;
  state.tcp_state_len = 2;
  Entry label;
  label.label_bytes = std::vector<uint8_t>(8, 0x44);
  // Not a structured binding: clang 14 cannot capture one in CAPTURE.
  for (const std::pair<Entry, std::string>& bad :
       {std::pair<Entry, std::string>{state, "a TCP state of 2 bytes, not 1"},
        std::pair<Entry, std::string>{label, "labels of 8 bytes, not 16"}}) {
    const std::string& what = bad.second;
    CAPTURE(what);
    Messages m;
    m.entry(bad.first).done();
    std::vector<FlowCount> counts;
    std::vector<MacAddress> live;
    ConntrackParseStats stats;
    const Status s = parseConntrackMessages(m.bytes(), &counts, &stats, nullptr, &live);
    CHECK_FALSE(s.ok());
    CHECK(contains(s.message(), std::string("entry 1 (message 1): ") + what));
    CHECK(live.empty());
  }
}

TEST_CASE("countByDevice: one row per device, however many and in whatever order") {
  std::vector<MacAddress> devices;
  for (uint64_t i = 0; i < 3000; ++i) devices.push_back(MacAddress{0x020000000003 - i % 3});
  const LiveConnections live = countByDevice(devices, /*complete=*/false);
  CHECK_FALSE(live.complete);
  REQUIRE(live.by_device.size() == 3);
  CHECK(live.by_device[0].device.value == 0x020000000001);
  for (const DeviceConnections& c : live.by_device) CHECK(c.connections == 1000);
  CHECK(countByDevice({}, true).by_device.empty());
}

TEST_CASE("an entry without counters (accounting was off when it began) is uncounted") {
  Entry bare;
  bare.counters = false;
  Messages m;
  m.entry(bare).entry({}).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  CHECK(p.stats.entries == 2);
  CHECK(p.stats.uncounted == 1);
  CHECK(p.counts.size() == 1);
}

TEST_CASE("an entry of another family than IPv4 and IPv6 is counted and skipped") {
  Entry bridge;
  bridge.family = AF_BRIDGE;
  bridge.tuple = false;  // whatever it carries is not read
  Messages m;
  m.entry(bridge).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_MESSAGE(p.status.ok(), p.status.message());
  CHECK(p.stats.entries == 1);
  CHECK(p.stats.uncounted == 0);
  CHECK(p.counts.empty());
}

TEST_CASE("NLMSG_DONE ends the dump, and its error refuses it") {
  SUBCASE("done") {
    Messages m;
    m.done();
    const Parsed p = parse(m.bytes());
    CHECK(p.status.ok());
    CHECK(p.stats.done);
    CHECK(p.stats.entries == 0);
  }
  SUBCASE("an answer cut before its NLMSG_DONE is not done") {
    Messages m;
    m.entry({});
    const Parsed p = parse(m.bytes());
    CHECK(p.status.ok());
    CHECK_FALSE(p.stats.done);
  }
  SUBCASE("done with an error") {
    Messages m;
    m.entry({}).done(-EINTR);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), std::strerror(EINTR)));
    CHECK_FALSE(p.stats.done);
  }
}

TEST_CASE("NLMSG_ERROR names its errno, even a garbled one") {
  SUBCASE("EPERM") {
    Messages m;
    m.error(-EPERM);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "conntrack answer: "));
    CHECK(contains(p.status.message(), std::strerror(EPERM)));
    CHECK(contains(p.status.message(), "CAP_NET_ADMIN"));
  }
  SUBCASE("INT_MIN") {
    Messages m;
    m.error(INT_MIN);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "error number 2147483648"));
  }
  SUBCASE("an acknowledgement is not a dump") {
    Messages m;
    m.error(0);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "acknowledgement"));
  }
  SUBCASE("too short for its error") {
    Messages m;
    m.error(-EPERM);
    auto* nlh = reinterpret_cast<nlmsghdr*>(m.bytes().data());
    nlh->nlmsg_len = sizeof(nlmsghdr) + 2;
    m.bytes().resize(NLMSG_ALIGN(nlh->nlmsg_len));
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "too short to hold its error"));
  }
}

TEST_CASE("a dump the kernel interrupted (NLM_F_DUMP_INTR) is refused: read again") {
  Entry interrupted;
  interrupted.flags = NLM_F_MULTI | NLM_F_DUMP_INTR;
  Messages m;
  m.entry({}).entry(interrupted).done();
  const Parsed p = parse(m.bytes());
  REQUIRE_FALSE(p.status.ok());
  CHECK(contains(p.status.message(), "the conntrack table changed while it was read: read again"));
  CHECK(p.counts.size() == 1);  // what came before
}

TEST_CASE("a dump's answer must answer its own request: another sequence or port is refused") {
  Messages m;
  m.entry({}).done();
  std::vector<FlowCount> counts;
  ConntrackParseStats stats;
  const ConntrackDumpSender ours{42, 0};
  REQUIRE(parseConntrackMessages(m.bytes(), &counts, &stats, &ours).ok());
  CHECK(counts.size() == 1);
  for (const ConntrackDumpSender other : {ConntrackDumpSender{43, 0}, ConntrackDumpSender{42, 7}}) {
    CAPTURE(other.seq);
    counts.clear();
    stats = {};
    const Status s = parseConntrackMessages(m.bytes(), &counts, &stats, &other);
    REQUIRE_FALSE(s.ok());
    const std::string want = "message 1: an answer to another request (sequence 42 to port 0, " +
                             std::string("not ") + std::to_string(other.seq) + " to port " +
                             std::to_string(other.portid) + ")";
    CHECK(contains(s.message(), want));
    CHECK(counts.empty());
  }
}

TEST_CASE("a truncated answer is refused wherever it is cut") {
  Messages m;
  m.entry({}).entry({});
  const std::vector<char> whole = m.bytes();
  const size_t first = NLMSG_ALIGN(reinterpret_cast<const nlmsghdr*>(whole.data())->nlmsg_len);
  for (size_t cut :
       {first + 1, first + sizeof(nlmsghdr) - 1, first + sizeof(nlmsghdr) + 4, whole.size() - 4}) {
    CAPTURE(cut);
    std::vector<char> bytes(whole.begin(), whole.begin() + static_cast<long>(cut));
    const Parsed p = parse(bytes);
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "message 2"));
    CHECK(contains(p.status.message(), "truncated or garbled"));
    CHECK(p.counts.size() == 1);
  }
  SUBCASE("a length that rounds up past 2^32 (found by conntrack_fuzz: the walk stepped 0 bytes)") {
    for (uint32_t len : {0xFFFFFFFFu, 0xFFFFFFFDu}) {
      Messages bad;
      bad.bare(NLMSG_NOOP);
      reinterpret_cast<nlmsghdr*>(bad.bytes().data())->nlmsg_len = len;
      const Parsed p = parse(bad.bytes());
      REQUIRE_FALSE(p.status.ok());
      CHECK(contains(p.status.message(), "message 1: a length of " + std::to_string(len)));
    }
  }
  SUBCASE("a length shorter than a header") {
    Messages bad;
    bad.entry({});
    reinterpret_cast<nlmsghdr*>(bad.bytes().data())->nlmsg_len = 8;
    const Parsed p = parse(bad.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "message 1"));
  }
  SUBCASE("a message too short for its nfgenmsg header") {
    Messages bad;
    bad.bare((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);
    reinterpret_cast<nlmsghdr*>(bad.bytes().data())->nlmsg_len = sizeof(nlmsghdr) + 2;
    bad.bytes().resize(NLMSG_ALIGN(sizeof(nlmsghdr) + 2));
    const Parsed p = parse(bad.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "entry 1"));
    CHECK(contains(p.status.message(), "no nfgenmsg header"));
  }
}

TEST_CASE("an attribute longer than its parent is refused") {
  SUBCASE("in the message") {
    Messages m;
    m.entry({});
    nlattr* mark = findAttribute(m.bytes(), CTA_MARK, 0);
    REQUIRE(mark != nullptr);
    mark->nla_len = 400;
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "entry 1 (message 1): garbled attributes"));
    CHECK(p.counts.empty());
  }
  SUBCASE("in the original tuple") {
    Messages m;
    m.entry({});
    nlattr* ipnest = findAttribute(m.bytes(), CTA_TUPLE_ORIG, CTA_TUPLE_IP);
    REQUIRE(ipnest != nullptr);
    ipnest->nla_len = 200;  // longer than the tuple that holds it
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "garbled original tuple"));
  }
  SUBCASE("in the counters") {
    Messages m;
    m.entry({});
    nlattr* bytes = findAttribute(m.bytes(), CTA_COUNTERS_REPLY, CTA_COUNTERS_BYTES);
    REQUIRE(bytes != nullptr);
    bytes->nla_len = 40;
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "reply direction: garbled counters"));
  }
  SUBCASE("a counter of the wrong size") {
    Messages m;
    m.entry({});
    nlattr* bytes = findAttribute(m.bytes(), CTA_COUNTERS_ORIG, CTA_COUNTERS_BYTES);
    REQUIRE(bytes != nullptr);
    bytes->nla_len = sizeof(nlattr) + 4;  // a u32 where a u64 belongs; the rest reads as padding
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "original direction"));
  }
}

TEST_CASE("an entry without its original tuple or addresses is refused") {
  SUBCASE("no tuple") {
    Entry e;
    e.tuple = false;
    Messages m;
    m.entry({}).entry(e);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "conntrack answer: entry 2 (message 2): no original tuple"));
  }
  SUBCASE("IPv6 addresses in an IPv4 entry") {
    Entry e;
    e.source = "fd00::1";
    e.destination = "fd00::2";
    Messages m;
    m.entry(e);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "without its IPv4 source address"));
  }
  SUBCASE("an IPv4 entry with a 16-byte address") {
    Entry e;
    e.address_len = 16;
    Messages m;
    m.entry(e);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "IPv4 source address of 16 bytes, not 4"));
  }
  SUBCASE("an IPv6 entry with a 4-byte address") {
    Entry e;
    e.family = AF_INET6;
    Messages m;
    m.entry(e);  // the builder writes IPv4 attributes for IPv4 text
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "without its IPv6 source address"));
  }
}

TEST_CASE("an entry without its id, or with an id of the wrong size, is refused") {
  SUBCASE("no id") {
    Entry e;
    e.id.reset();
    Messages m;
    m.entry({}).entry(e);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "conntrack answer: entry 2 (message 2): no id"));
    CHECK(p.counts.size() == 1);
  }
  SUBCASE("no id in an event either") {
    Entry e;
    e.id.reset();
    e.type = IPCTNL_MSG_CT_DELETE;
    e.flags = 0;
    Messages m;
    m.entry(e);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "no id"));
    CHECK(p.counts.empty());
  }
  SUBCASE("an id of 2 bytes") {
    Messages m;
    m.entry({});
    nlattr* id = findAttribute(m.bytes(), CTA_ID, 0);
    REQUIRE(id != nullptr);
    id->nla_len = sizeof(nlattr) + 2;
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "an id of 2 bytes, not 4"));
  }
}

TEST_CASE("a mark of the wrong size, or counters of one direction only, are refused") {
  SUBCASE("mark") {
    Messages m;
    m.entry({});
    nlattr* mark = findAttribute(m.bytes(), CTA_MARK, 0);
    REQUIRE(mark != nullptr);
    mark->nla_len = sizeof(nlattr) + 2;
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "a mark of 2 bytes, not 4"));
  }
  SUBCASE("one direction") {
    Messages m;
    m.entry({});
    nlattr* reply = findAttribute(m.bytes(), CTA_COUNTERS_REPLY, 0);
    REQUIRE(reply != nullptr);
    reply->nla_type = CTA_TIMEOUT;  // the reply counters gone, the message's length unchanged
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "counters of one direction only"));
  }
}

TEST_CASE("a message that is not a connection entry is refused with its type") {
  SUBCASE("another ctnetlink message") {
    Messages m;
    m.bare((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_CTRZERO);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(),
                   "unexpected message type " +
                       std::to_string((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_CTRZERO)));
  }
  SUBCASE("another subsystem's") {
    Messages m;
    m.entry({}).bare((NFNL_SUBSYS_QUEUE << 8) | IPCTNL_MSG_CT_NEW);
    const Parsed p = parse(m.bytes());
    REQUIRE_FALSE(p.status.ok());
    CHECK(contains(p.status.message(), "message 2: unexpected message type"));
    CHECK(contains(p.status.message(), "subsystem " + std::to_string(NFNL_SUBSYS_QUEUE)));
  }
}

// A connection's cumulative counts as a dump entry or an event gives them.
FlowCount cumulative(uint32_t id, uint64_t orig_bytes, uint64_t orig_packets,
                     uint64_t reply_bytes = 0, uint64_t reply_packets = 0) {
  FlowCount c;
  c.source = ip("198.18.10.20");
  c.destination = ip("203.0.113.5");
  c.mark = verdictMark(7, VerdictCode::kAllow, 3);
  c.id = id;
  c.orig_bytes = orig_bytes;
  c.orig_packets = orig_packets;
  c.reply_bytes = reply_bytes;
  c.reply_packets = reply_packets;
  return c;
}

// The four counts of a growth, or all zero for nullopt.
std::vector<uint64_t> counts(const std::optional<FlowCount>& g) {
  if (!g) return {0, 0, 0, 0};
  return {g->orig_bytes, g->orig_packets, g->reply_bytes, g->reply_packets};
}
const std::vector<uint64_t> kNothing = {0, 0, 0, 0};

TEST_CASE("ConnectionGrowth: the first dump counts whole, the next the difference") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  const std::optional<FlowCount> first = growth.dumped(cumulative(1, 1000, 10, 5000, 8));
  REQUIRE(first.has_value());
  CHECK(counts(first) == std::vector<uint64_t>{1000, 10, 5000, 8});
  // The growth keeps the entry's addresses, mark and id: FlowCountTotals groups by them.
  CHECK(first->source == ip("198.18.10.20"));
  CHECK(first->destination == ip("203.0.113.5"));
  CHECK(first->mark == verdictMark(7, VerdictCode::kAllow, 3));
  CHECK(first->id == 1);
  growth.endDump();
  CHECK(growth.tracked() == 1);

  growth.beginDump();
  CHECK(counts(growth.dumped(cumulative(1, 1300, 13, 5000, 9))) ==
        std::vector<uint64_t>{300, 3, 0, 1});
  growth.endDump();
  growth.beginDump();
  CHECK(counts(growth.dumped(cumulative(1, 1450, 14, 5100, 10))) ==
        std::vector<uint64_t>{150, 1, 100, 1});
  growth.endDump();
  CHECK(growth.tracked() == 1);
  CHECK(growth.untracked() == 0);
  CHECK(growth.swept() == 0);
}

TEST_CASE("ConnectionGrowth: no growth is nullopt, and the counts stay as they were") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  CHECK(growth.dumped(cumulative(1, 100, 1)).has_value());
  growth.endDump();
  growth.beginDump();
  CHECK_FALSE(growth.dumped(cumulative(1, 100, 1)).has_value());
  growth.endDump();
  CHECK(growth.tracked() == 1);
  // An event with nothing new: nullopt, and the connection is no longer tracked.
  CHECK_FALSE(growth.ended(cumulative(1, 100, 1)).has_value());
  CHECK(growth.tracked() == 0);
  // A connection that counted nothing at all (the parse keeps none, but the class does not rely
  // on it).
  growth.beginDump();
  CHECK_FALSE(growth.dumped(cumulative(2, 0, 0)).has_value());
  growth.endDump();
  CHECK_FALSE(growth.ended(cumulative(3, 0, 0)).has_value());
}

TEST_CASE("ConnectionGrowth: a counter that went down is a reused id: counted whole") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  growth.dumped(cumulative(1, 1000, 10, 500, 5));
  growth.endDump();
  growth.beginDump();
  // Fewer reply packets than before, though more bytes in every other count: a new connection.
  CHECK(counts(growth.dumped(cumulative(1, 2000, 20, 600, 4))) ==
        std::vector<uint64_t>{2000, 20, 600, 4});
  growth.endDump();
  // And from there on, the difference again.
  growth.beginDump();
  CHECK(counts(growth.dumped(cumulative(1, 2100, 21, 600, 4))) ==
        std::vector<uint64_t>{100, 1, 0, 0});
  growth.endDump();
  // An event whose counts went down: whole too.
  CHECK(counts(growth.ended(cumulative(1, 50, 1))) == std::vector<uint64_t>{50, 1, 0, 0});
}

TEST_CASE("ConnectionGrowth: an event after a dump counts final - last and untracks") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  growth.dumped(cumulative(1, 1000, 10, 5000, 8));
  growth.dumped(cumulative(2, 10, 1));
  growth.endDump();
  CHECK(growth.tracked() == 2);
  CHECK(counts(growth.ended(cumulative(1, 1200, 12, 5000, 9))) ==
        std::vector<uint64_t>{200, 2, 0, 1});
  CHECK(growth.tracked() == 1);
  // Not tracked any more: a second event (no dump in progress, no tombstone) counts whole; the
  // kernel sends one DESTROY a connection, so this only shows the id was forgotten.
  CHECK(counts(growth.ended(cumulative(1, 1200, 12, 5000, 9))) ==
        std::vector<uint64_t>{1200, 12, 5000, 9});
  // The next dump does not hold it; the other connection goes on.
  growth.beginDump();
  CHECK(counts(growth.dumped(cumulative(2, 30, 3))) == std::vector<uint64_t>{20, 2, 0, 0});
  growth.endDump();
  CHECK(growth.tracked() == 1);
}

TEST_CASE("ConnectionGrowth: an event for an unknown id counts whole") {
  ConnectionGrowth growth(10);
  CHECK(counts(growth.ended(cumulative(9, 700, 7, 70, 1))) == std::vector<uint64_t>{700, 7, 70, 1});
  CHECK(growth.tracked() == 0);
  growth.beginDump();
  growth.dumped(cumulative(1, 1, 1));
  growth.endDump();
  CHECK(counts(growth.ended(cumulative(8, 40, 1))) == std::vector<uint64_t>{40, 1, 0, 0});
  CHECK(growth.tracked() == 1);
}

TEST_CASE("ConnectionGrowth: an event during a dump leaves a tombstone until the dump ends") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  growth.dumped(cumulative(1, 100, 1));
  growth.endDump();

  SUBCASE("a tracked connection, its entry in a later datagram of the dump") {
    growth.beginDump();
    // The event came before the datagram holding the entry was parsed.
    CHECK(counts(growth.ended(cumulative(1, 180, 2))) == std::vector<uint64_t>{80, 1, 0, 0});
    CHECK(growth.tracked() == 0);
    CHECK_FALSE(growth.dumped(cumulative(1, 170, 2)).has_value());  // counted by the event
    CHECK(growth.tracked() == 0);                                   // and not tracked again
    growth.endDump();
    // The tombstone is gone: the id is free for a new connection.
    growth.beginDump();
    CHECK(counts(growth.dumped(cumulative(1, 30, 1))) == std::vector<uint64_t>{30, 1, 0, 0});
    growth.endDump();
  }
  SUBCASE("a connection never seen: whole, and not again from the dump") {
    growth.beginDump();
    CHECK(counts(growth.ended(cumulative(5, 500, 5))) == std::vector<uint64_t>{500, 5, 0, 0});
    CHECK_FALSE(growth.dumped(cumulative(5, 490, 4)).has_value());
    growth.endDump();
    CHECK(growth.tracked() == 1);
  }
  SUBCASE("the entry parsed before the event: the event counts only what came after it") {
    growth.beginDump();
    CHECK(counts(growth.dumped(cumulative(1, 150, 2))) == std::vector<uint64_t>{50, 1, 0, 0});
    CHECK(counts(growth.ended(cumulative(1, 160, 3))) == std::vector<uint64_t>{10, 1, 0, 0});
    growth.endDump();
    CHECK(growth.tracked() == 0);
  }
  SUBCASE("an aborted dump also drops its tombstones") {
    growth.beginDump();
    CHECK(growth.ended(cumulative(1, 180, 2)).has_value());
    growth.abortDump();
    growth.beginDump();
    CHECK(counts(growth.dumped(cumulative(1, 30, 1))) == std::vector<uint64_t>{30, 1, 0, 0});
    growth.endDump();
  }
}

TEST_CASE("ConnectionGrowth: a second event of the same id during a dump is ignored") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  CHECK(growth.ended(cumulative(4, 40, 1)).has_value());
  CHECK_FALSE(growth.ended(cumulative(4, 40, 1)).has_value());
  growth.endDump();
  CHECK(growth.tracked() == 0);
}

TEST_CASE("ConnectionGrowth: an id missing from two dumps is swept, not from one") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  growth.dumped(cumulative(1, 100, 1));
  growth.dumped(cumulative(2, 200, 2));
  growth.endDump();

  growth.beginDump();  // 1 missing: it ended, its event still queued
  growth.dumped(cumulative(2, 210, 3));
  growth.endDump();
  CHECK(growth.tracked() == 2);
  CHECK(growth.swept() == 0);

  SUBCASE("its event after one missing dump still counts final - last") {
    CHECK(counts(growth.ended(cumulative(1, 130, 2))) == std::vector<uint64_t>{30, 1, 0, 0});
    CHECK(growth.tracked() == 1);
  }
  SUBCASE("missing from a second dump: forgotten (its event was lost)") {
    growth.beginDump();
    growth.dumped(cumulative(2, 220, 4));
    growth.endDump();
    CHECK(growth.tracked() == 1);
    CHECK(growth.swept() == 1);
    CHECK(counts(growth.ended(cumulative(1, 130, 2))) == std::vector<uint64_t>{130, 2, 0, 0});
  }
}

TEST_CASE("ConnectionGrowth: a failed dump is not one of the two an id must be missing from") {
  ConnectionGrowth growth(10);
  growth.beginDump();
  growth.dumped(cumulative(1, 100, 1));
  growth.dumped(cumulative(2, 200, 2));
  growth.endDump();
  growth.beginDump();  // fails after the entry of 2; 1 missing
  growth.dumped(cumulative(2, 220, 4));
  growth.abortDump();
  CHECK(growth.tracked() == 2);
  growth.beginDump();  // 1 missing again
  growth.dumped(cumulative(2, 230, 5));
  growth.endDump();
  CHECK(growth.tracked() == 2);  // 1 missed one complete dump only
  CHECK(growth.swept() == 0);
  CHECK(counts(growth.ended(cumulative(1, 130, 2))) == std::vector<uint64_t>{30, 1, 0, 0});
  growth.beginDump();
  growth.dumped(cumulative(3, 10, 1));
  growth.endDump();
  growth.beginDump();  // 3 missing
  growth.dumped(cumulative(2, 240, 6));
  growth.endDump();
  growth.beginDump();  // 3 missing again: forgotten
  growth.dumped(cumulative(2, 250, 7));
  growth.endDump();
  CHECK(growth.tracked() == 1);
  CHECK(growth.swept() == 1);
}

TEST_CASE("ConnectionGrowth's bound: beyond it a dump entry is skipped, its event counts whole") {
  ConnectionGrowth growth(2);
  growth.beginDump();
  CHECK(growth.dumped(cumulative(1, 10, 1)).has_value());
  CHECK(growth.dumped(cumulative(2, 20, 1)).has_value());
  CHECK_FALSE(growth.dumped(cumulative(3, 30, 1)).has_value());
  growth.endDump();
  CHECK(growth.tracked() == 2);
  CHECK(growth.untracked() == 1);
  growth.beginDump();
  CHECK_FALSE(growth.dumped(cumulative(3, 35, 2)).has_value());  // still no room
  CHECK(counts(growth.dumped(cumulative(1, 12, 2))) == std::vector<uint64_t>{2, 1, 0, 0});
  growth.endDump();
  CHECK(growth.untracked() == 2);
  // Its end: everything it counted, once.
  CHECK(counts(growth.ended(cumulative(3, 40, 3))) == std::vector<uint64_t>{40, 3, 0, 0});
  // Room again after an event: a new connection is tracked, counted whole.
  CHECK(counts(growth.ended(cumulative(2, 20, 1))) == kNothing);
  growth.beginDump();
  CHECK(counts(growth.dumped(cumulative(4, 44, 4))) == std::vector<uint64_t>{44, 4, 0, 0});
  growth.endDump();
  CHECK(growth.tracked() == 2);
}

TEST_CASE("ConnectionGrowth at scale: thousands of ids, ended in any order, survivors of a sweep") {
  // Ids as the kernel gives them (any 32-bit value); events in an order of their own. Each
  // removal moves the last tracked connection into the hole, and a sweep moves every survivor:
  // each must still be found under its own id, with its own last counts.
  std::mt19937 rng(18);
  std::vector<uint32_t> ids;
  std::set<uint32_t> seen;
  while (ids.size() < 6000) {
    const uint32_t id = static_cast<uint32_t>(rng());
    if (seen.insert(id).second) ids.push_back(id);
  }
  auto first_bytes = [](size_t k) { return 100 + k; };
  ConnectionGrowth growth(8000);
  growth.beginDump();
  for (size_t k = 0; k < ids.size(); ++k) growth.dumped(cumulative(ids[k], first_bytes(k), 1));
  growth.endDump();
  REQUIRE(growth.tracked() == ids.size());

  // A third end (k % 3 == 0), in a shuffled order: each counts 7 bytes more than the dump saw.
  // Their places are filled from the end of the array, by connections of every kind.
  std::vector<size_t> order;
  for (size_t k = 0; k < ids.size(); k += 3) order.push_back(k);
  std::shuffle(order.begin(), order.end(), rng);
  for (const size_t k : order) {
    CHECK(counts(growth.ended(cumulative(ids[k], first_bytes(k) + 7, 2))) ==
          std::vector<uint64_t>{7, 1, 0, 0});
  }
  CHECK(growth.tracked() == 4000);
  // Two dumps see only the survivors (k % 3 == 1; each 10 bytes more the second time), and
  // 2000 new ids, first (they take the places the moved ones left: a stale place now holds
  // another id); the rest (k % 3 == 2) are swept.
  std::vector<uint32_t> fresh;
  while (fresh.size() < 2000) {
    const uint32_t id = static_cast<uint32_t>(rng());
    if (seen.insert(id).second) fresh.push_back(id);
  }
  for (uint64_t extra : {0, 10}) {
    growth.beginDump();
    for (const uint32_t id : fresh) {
      CHECK(counts(growth.dumped(cumulative(id, 50 + extra, 1))) ==
            std::vector<uint64_t>{extra == 0 ? 50u : 10u, extra == 0 ? 1u : 0u, 0, 0});
    }
    for (size_t k = 1; k < ids.size(); k += 3) {
      CHECK(counts(growth.dumped(cumulative(ids[k], first_bytes(k) + extra, 1))) ==
            std::vector<uint64_t>{extra, 0, 0, 0});
    }
    growth.endDump();
  }
  CHECK(growth.tracked() == 4000);
  CHECK(growth.swept() == 2000);
  // The survivors end: 5 bytes since the last dump. The swept ones count whole.
  for (size_t k = 1; k < ids.size(); k += 3) {
    CHECK(counts(growth.ended(cumulative(ids[k], first_bytes(k) + 15, 2))) ==
          std::vector<uint64_t>{5, 1, 0, 0});
  }
  for (const uint32_t id : fresh) {
    CHECK(counts(growth.ended(cumulative(id, 61, 1))) == std::vector<uint64_t>{1, 0, 0, 0});
  }
  CHECK(counts(growth.ended(cumulative(ids[5003], first_bytes(5003), 1))) ==
        std::vector<uint64_t>{first_bytes(5003), 1, 0, 0});
  CHECK(growth.tracked() == 0);
}

TEST_CASE("ConnectionGrowth over parsed dumps: what a connection counted, once, in any order") {
  // The same connection read by two dumps, then ended: the sums of its growth are its final
  // counts, whatever came between.
  Entry first;
  first.orig_bytes = 1000;
  Entry second = first;
  second.orig_bytes = 1500;
  second.orig_packets = 15;
  Entry ended = second;
  ended.type = IPCTNL_MSG_CT_DELETE;
  ended.flags = 0;
  ended.orig_bytes = 1600;
  ended.orig_packets = 16;
  ended.reply_bytes = 6000;
  ended.reply_packets = 9;
  FlowCountTotals totals(10);
  ConnectionGrowth growth(10);
  for (const Entry* e : {&first, &second}) {
    Messages m;
    m.entry(*e).done();
    const Parsed p = parse(m.bytes());
    REQUIRE(p.status.ok());
    growth.beginDump();
    for (const FlowCount& c : p.counts) {
      if (auto g = growth.dumped(c)) totals.add(*g);
    }
    growth.endDump();
  }
  Messages event;
  event.entry(ended);
  const Parsed p = parse(event.bytes());
  REQUIRE(p.status.ok());
  for (const FlowCount& c : p.counts) {
    if (auto g = growth.ended(c)) totals.add(*g);
  }
  const std::vector<FlowGroupCount> groups = totals.take();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].orig_bytes == 1600);
  CHECK(groups[0].orig_packets == 16);
  CHECK(groups[0].reply_bytes == 6000);
  CHECK(groups[0].reply_packets == 9);
}

FlowCount count(const char* source, const char* destination, uint32_t mark, uint64_t orig_bytes,
                uint64_t reply_bytes = 0) {
  FlowCount c;
  c.source = ip(source);
  c.destination = ip(destination);
  c.mark = mark;
  c.orig_bytes = orig_bytes;
  c.orig_packets = orig_bytes > 0 ? 1 : 0;
  c.reply_bytes = reply_bytes;
  c.reply_packets = reply_bytes > 0 ? 1 : 0;
  return c;
}

const FlowGroupCount* groupOf(const std::vector<FlowGroupCount>& groups, const char* source,
                              const char* destination, uint8_t traffic_class, bool judged) {
  for (const FlowGroupCount& g : groups) {
    if (g.source == ip(source) && g.destination == ip(destination) &&
        g.traffic_class == traffic_class && g.judged == judged) {
      return &g;
    }
  }
  return nullptr;
}

TEST_CASE("FlowCountTotals sums connections by addresses, class and judged") {
  FlowCountTotals totals(100);
  const uint32_t web = verdictMark(7, VerdictCode::kAllow, 3);
  const uint32_t inspected = verdictMark(8, VerdictCode::kAllowInspected, 3);  // same class
  totals.add(count("198.18.10.20", "203.0.113.5", web, 100, 1000));
  totals.add(count("198.18.10.20", "203.0.113.5", inspected, 50, 500));
  totals.add(count("198.18.10.20", "203.0.113.5", verdictMark(7, VerdictCode::kAllow, 4), 7));
  totals.add(count("203.0.113.5", "198.18.10.20", web, 9));  // the other way round
  totals.add(count("fd00:10::20", "2001:db8::5", web, 11, 22));
  CHECK(totals.groups() == 4);
  const std::vector<FlowGroupCount> groups = totals.take();
  REQUIRE(groups.size() == 4);
  const FlowGroupCount* g = groupOf(groups, "198.18.10.20", "203.0.113.5", 3, true);
  REQUIRE(g != nullptr);
  CHECK(g->orig_bytes == 150);
  CHECK(g->orig_packets == 2);
  CHECK(g->reply_bytes == 1500);
  CHECK(g->reply_packets == 2);
  REQUIRE(groupOf(groups, "198.18.10.20", "203.0.113.5", 4, true) != nullptr);
  CHECK(groupOf(groups, "198.18.10.20", "203.0.113.5", 4, true)->orig_bytes == 7);
  REQUIRE(groupOf(groups, "203.0.113.5", "198.18.10.20", 3, true) != nullptr);
  CHECK(groupOf(groups, "203.0.113.5", "198.18.10.20", 3, true)->orig_bytes == 9);
  REQUIRE(groupOf(groups, "fd00:10::20", "2001:db8::5", 3, true) != nullptr);
  CHECK(groupOf(groups, "fd00:10::20", "2001:db8::5", 3, true)->reply_bytes == 22);
}

TEST_CASE("FlowCountTotals keeps no zero counts and no refused connection's") {
  FlowCountTotals totals(100);
  totals.add(count("198.18.10.20", "203.0.113.5", verdictMark(7, VerdictCode::kReject), 100));
  totals.add(count("198.18.10.20", "203.0.113.5", verdictMark(7, VerdictCode::kDrop), 100));
  totals.add(count("198.18.10.20", "203.0.113.5", kVerdictCodeBits, 100));  // code 3, no generation
  totals.add(count("198.18.10.20", "203.0.113.5", verdictMark(7, VerdictCode::kAllow), 0, 0));
  CHECK(totals.groups() == 0);
  CHECK(totals.lostBytes() == 0);
  CHECK(totals.take().empty());
  totals.add(count("198.18.10.20", "203.0.113.5", verdictMark(7, VerdictCode::kAllow), 1));
  CHECK(totals.groups() == 1);  // and an allowed one is kept
}

TEST_CASE("FlowCountTotals: a mark without a generation is class 0, not judged") {
  FlowCountTotals totals(100);
  totals.add(count("198.18.1.1", "198.18.10.20", 0, 300, 30));
  totals.add(count("198.18.1.1", "198.18.10.20", verdictMark(7, VerdictCode::kAllow, 0), 5));
  // Class bits without a generation: the class as the bits say, still not judged.
  totals.add(count("198.18.1.1", "198.18.10.20", verdictMark(0, VerdictCode::kAllow, 5), 8));
  const std::vector<FlowGroupCount> groups = totals.take();
  REQUIRE(groups.size() == 3);
  const FlowGroupCount* classed = groupOf(groups, "198.18.1.1", "198.18.10.20", 5, false);
  REQUIRE(classed != nullptr);
  CHECK(classed->orig_bytes == 8);
  const FlowGroupCount* box = groupOf(groups, "198.18.1.1", "198.18.10.20", 0, false);
  REQUIRE(box != nullptr);
  CHECK(box->orig_bytes == 300);
  CHECK(box->reply_bytes == 30);
  const FlowGroupCount* judged = groupOf(groups, "198.18.1.1", "198.18.10.20", 0, true);
  REQUIRE(judged != nullptr);
  CHECK(judged->orig_bytes == 5);
}

const FlowGroupCount* endOf(const std::vector<FlowGroupCount>& groups, FlowGroupCount::Ends ends,
                            const char* address) {
  for (const FlowGroupCount& g : groups) {
    if (g.ends != ends) continue;
    const IpAddress& at = ends == FlowGroupCount::Ends::kSource ? g.source : g.destination;
    const IpAddress& other = ends == FlowGroupCount::Ends::kSource ? g.destination : g.source;
    if (at == ip(address) && other == IpAddress{}) return &g;
  }
  return nullptr;
}

TEST_CASE(
    "FlowCountTotals' bound: past the room for pairs a connection is summed at each of its ends; "
    "past that, its bytes are counted as lost") {
  using Ends = FlowGroupCount::Ends;
  FlowCountTotals totals(8);  // 6 pairs, 2 ends
  const uint32_t mark = verdictMark(7, VerdictCode::kAllow, 1);
  for (int i = 1; i <= 6; ++i) {
    totals.add(count(("198.18.10." + std::to_string(i)).c_str(), "203.0.113.5", mark, 10));
  }
  CHECK(totals.groups() == 6);
  // A seventh pair: no room; its source's group and its destination's take it.
  totals.add(count("198.18.10.7", "203.0.113.5", mark, 30, 4));
  CHECK(totals.groups() == 8);
  CHECK(totals.lostBytes() == 0);
  // The same source to another destination: its source's group grows, its destination finds no
  // room: lost, for that end.
  totals.add(count("198.18.10.7", "203.0.113.9", mark, 5));
  // Neither end has room: lost.
  totals.add(count("198.18.10.8", "203.0.113.6", mark, 40));
  // An existing pair still grows.
  totals.add(count("198.18.10.1", "203.0.113.5", mark, 1));
  CHECK(totals.groups() == 8);
  CHECK(totals.lostBytes() == 45);
  std::vector<FlowGroupCount> groups = totals.take();
  REQUIRE(groups.size() == 8);
  REQUIRE(groupOf(groups, "198.18.10.1", "203.0.113.5", 1, true) != nullptr);
  CHECK(groupOf(groups, "198.18.10.1", "203.0.113.5", 1, true)->orig_bytes == 11);
  CHECK(groupOf(groups, "198.18.10.7", "203.0.113.5", 1, true) == nullptr);
  const FlowGroupCount* source = endOf(groups, Ends::kSource, "198.18.10.7");
  REQUIRE(source != nullptr);
  CHECK(source->orig_bytes == 35);
  CHECK(source->reply_bytes == 4);
  CHECK(source->traffic_class == 1);
  CHECK(source->judged);
  const FlowGroupCount* destination = endOf(groups, Ends::kDestination, "203.0.113.5");
  REQUIRE(destination != nullptr);
  CHECK(destination->orig_bytes == 30);
  CHECK(destination->reply_bytes == 4);

  // take() clears: the next interval starts empty, with room again; lost bytes stay counted.
  CHECK(totals.groups() == 0);
  CHECK(totals.take().empty());
  totals.add(count("198.18.10.8", "203.0.113.6", mark, 40));
  CHECK(totals.groups() == 1);
  CHECK(totals.take().front().ends == Ends::kBoth);
  CHECK(totals.lostBytes() == 45);
}

TEST_CASE("FlowCountTotals at scale: a churning segment past the room, two intervals alike") {
  // The bench's churn: 999 devices, each flow to one of 254 hosts, far more pairs than room.
  // What take() returns is checked against a plain model of the same rule: the first pairs
  // seen get groups, the rest go to their ends while those have room.
  using Ends = FlowGroupCount::Ends;
  const size_t room = 4096;  // 3072 pairs, 1024 ends
  FlowCountTotals totals(room);
  const uint32_t mark = verdictMark(7, VerdictCode::kAllow, 2);
  for (int interval = 0; interval < 2; ++interval) {
    CAPTURE(interval);
    const uint64_t lost_start = totals.lostBytes();
    std::map<std::tuple<int, std::string, std::string>, uint64_t> model;  // (ends, src, dst)
    size_t pairs = 0;
    size_t ends = 0;
    uint64_t lost = 0;
    for (uint32_t seq = 0; seq < 20000; ++seq) {
      const std::string src = "198.18." + std::to_string(1 + (seq % 999) / 250) + "." +
                              std::to_string(1 + (seq % 999) % 250);
      // Another order of hosts in the second interval: the groups land in other places.
      const std::string dst =
          "203.0.113." + std::to_string(1 + (seq * (interval == 0 ? 7919 : 104729)) % 254);
      const uint64_t bytes = 1 + seq % 13;
      totals.add(count(src.c_str(), dst.c_str(), mark, bytes));
      auto pair = model.find({0, src, dst});
      if (pair != model.end() || pairs < room - room / 4) {
        if (pair == model.end()) ++pairs;
        model[{0, src, dst}] += bytes;
        continue;
      }
      bool found_both = true;
      for (const auto& key :
           {std::make_tuple(1, src, std::string()), std::make_tuple(2, std::string(), dst)}) {
        auto end = model.find(key);
        if (end == model.end() && ends >= room / 4) {
          found_both = false;
          continue;
        }
        if (end == model.end()) ++ends;
        model[key] += bytes;
      }
      if (!found_both) lost += bytes;
    }
    CHECK(totals.groups() == model.size());
    CHECK(lost > 0);  // the end groups filled too
    CHECK(totals.lostBytes() == lost_start + lost);
    const std::vector<FlowGroupCount> groups = totals.take();
    REQUIRE(groups.size() == model.size());
    for (const FlowGroupCount& g : groups) {
      const int kind = g.ends == Ends::kBoth ? 0 : g.ends == Ends::kSource ? 1 : 2;
      const auto it = model.find({kind, g.source == IpAddress{} ? "" : g.source.toString(),
                                  g.destination == IpAddress{} ? "" : g.destination.toString()});
      REQUIRE(it != model.end());
      CHECK(g.orig_bytes == it->second);
      CHECK(g.traffic_class == 2);
    }
    CHECK(totals.groups() == 0);
  }
}

TEST_CASE("parsed entries sum into groups: a dump and an event of the same pair") {
  Entry dumped;
  Entry ended;
  ended.type = IPCTNL_MSG_CT_DELETE;
  ended.flags = 0;
  Messages dump;
  dump.entry(dumped).done();
  Messages event;
  event.entry(ended);
  FlowCountTotals totals(10);
  for (Messages* m : {&dump, &event}) {
    const Parsed p = parse(m->bytes());
    REQUIRE(p.status.ok());
    for (const FlowCount& c : p.counts) totals.add(c);
  }
  const std::vector<FlowGroupCount> groups = totals.take();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].traffic_class == 3);
  CHECK(groups[0].judged);
  CHECK(groups[0].orig_bytes == 2000);
  CHECK(groups[0].reply_packets == 16);
}

TEST_CASE("UDP's ends go to the dumps only while the timeouts outlive and the tracker has room") {
  constexpr size_t kRoom = 100;
  // Timeouts short: events, whatever the tracker.
  CHECK_FALSE(udpEndsByDumpNext(true, false, false, 0, kRoom));
  // A dump skipped connections: events, even with the tracker emptied since.
  CHECK_FALSE(udpEndsByDumpNext(true, true, true, 0, kRoom));
  // From events: dumps only once fewer than half the room is tracked.
  CHECK(udpEndsByDumpNext(false, true, false, 49, kRoom));
  CHECK_FALSE(udpEndsByDumpNext(false, true, false, 50, kRoom));
  // From dumps: they stay while no dump skips, however full the tracker.
  CHECK(udpEndsByDumpNext(true, true, false, kRoom, kRoom));
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle

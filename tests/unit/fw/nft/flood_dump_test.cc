// Reading the flood guard's counts (fw/nft/flood_dump.h) from answers built here the way the
// kernel's nf_tables_fill_setelem() writes them: well-formed ones, the set missing, an empty set,
// and every way an answer can be short, garbled or too large, each refused with an error that says
// so. Then NftRulesetWriter's readFloodDrops() through a fake transport: nothing asked without a
// guard, one dump of @flood-dropped with it.
#include "fw/nft/flood_dump.h"

#include <doctest/doctest.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

struct Element {
  std::string mac;  // or an interface name, with `interface`
  uint64_t packets = 0;
  uint64_t bytes = 0;
  enum class Counter { kAlone, kInList, kNone } counter = Counter::kAlone;
  int key_len = 6;  // the MAC address's bytes, cut or padded with zeros to this many
  bool interface = false;  // `mac` is an interface name: its bytes, padded with zeros to key_len
};

// An element of @segment-dropped: the name's bytes, then NULs to 16 (as `meta iifname` loads it).
Element segment(const std::string& name, uint64_t packets, int key_len = 16) {
  Element e{name, packets, packets * 60};
  e.key_len = key_len;
  e.interface = true;
  return e;
}

// Dump answers, message by message, as the kernel writes them.
class Answer {
 public:
  // `tail` adds 4 zero bytes at the end of the element list: no attribute (its length is 0),
  // which libmnl's walk stops at without a word.
  Answer& elements(const std::string& set, const std::vector<Element>& elems,
                   uint16_t flags = NLM_F_MULTI, bool tail = false) {
    std::vector<char> buf(size_t{128} << 10);  // one nest holds at most 64 KiB
    nlmsghdr* nlh = header(buf.data(), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM, flags);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = NFPROTO_INET;
    nfg->version = NFNETLINK_V0;
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "muzzle");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const Element& e : elems) {
      std::vector<uint8_t> key;
      if (e.interface) {
        key.assign(e.mac.begin(), e.mac.end());
      } else {
        const uint64_t mac = MacAddress::parse(e.mac)->value;
        for (int i = 5; i >= 0; --i) key.push_back(static_cast<uint8_t>(mac >> (8 * i)));
      }
      key.resize(static_cast<size_t>(e.key_len), 0);
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      nlattr* key_nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
      mnl_attr_put(nlh, NFTA_DATA_VALUE, key.size(), key.data());
      mnl_attr_nest_end(nlh, key_nest);
      // One expression alone, or in the list the kernel sends when a set has several.
      if (e.counter == Element::Counter::kAlone) {
        counter(nlh, NFTA_SET_ELEM_EXPR, e);
      } else if (e.counter == Element::Counter::kInList) {
        nlattr* exprs = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPRESSIONS);
        nlattr* other = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "limit");
        mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, NFTA_EXPR_DATA));
        mnl_attr_nest_end(nlh, other);
        counter(nlh, NFTA_LIST_ELEM, e);
        mnl_attr_nest_end(nlh, exprs);
      }
      // The dynamic set's timeout and what is left of it, in milliseconds (Linux 6.18 sends the
      // timeout only when it is not the set's own).
      mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(kFloodDroppedTimeoutMs));
      mnl_attr_put_u64(nlh, NFTA_SET_ELEM_EXPIRATION, htobe64(kFloodDroppedTimeoutMs - 1500));
      mnl_attr_nest_end(nlh, elem);
    }
    if (tail) mnl_nlmsg_put_extra_header(nlh, 4);
    mnl_attr_nest_end(nlh, list);
    return add(nlh);
  }
  Answer& done(int error = 0) {
    char buf[64] = {};
    nlmsghdr* nlh = header(buf, NLMSG_DONE, NLM_F_MULTI);
    std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(int)), &error, sizeof(int));
    return add(nlh);
  }
  Answer& error(int error) {
    char buf[64] = {};
    nlmsghdr* nlh = header(buf, NLMSG_ERROR, 0);
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    err->error = -error;
    return add(nlh);
  }
  Answer& raw(uint16_t type) {
    char buf[64] = {};
    nlmsghdr* nlh = header(buf, type, NLM_F_MULTI);
    mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg));
    return add(nlh);
  }
  const std::vector<char>& bytes() const { return bytes_; }

 private:
  static void counter(nlmsghdr* nlh, uint16_t type, const Element& e) {
    nlattr* expr = mnl_attr_nest_start(nlh, type);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
    nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(e.bytes));
    mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(e.packets));
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, expr);
  }
  static nlmsghdr* header(char* buf, uint16_t type, uint16_t flags) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = 77;
    return nlh;
  }
  Answer& add(const nlmsghdr* nlh) {
    const char* p = reinterpret_cast<const char*>(nlh);
    bytes_.insert(bytes_.end(), p, p + NLMSG_ALIGN(nlh->nlmsg_len));
    return *this;
  }
  std::vector<char> bytes_;
};

constexpr const char* kWhere = "nftables: reading set flood-dropped of inet muzzle: ";

Result<std::vector<FloodDropCount>> parse(const std::vector<char>& answer,
                                          size_t max_elements = 100) {
  std::vector<FloodDropCount> out;
  Status s = parseFloodDump(answer, kFloodDroppedSet, max_elements, &out);
  if (!s.ok()) return s;
  return out;
}

TEST_CASE("an answer in two messages: every device with the packets dropped for it") {
  const std::vector<char> answer =
      Answer()
          .elements("flood-dropped",
                    {{"02:00:00:00:00:01", 7, 700}, {"44:47:cc:12:34:56", 5'000'000'000, 1}})
          .elements("flood-dropped", {{"02:00:00:00:00:03", 1, 60, Element::Counter::kInList}})
          .done()
          .bytes();
  auto drops = parse(answer);
  REQUIRE(drops.ok());
  REQUIRE(drops->size() == 3);
  CHECK((*drops)[0].mac.toString() == "02:00:00:00:00:01");
  CHECK((*drops)[0].packets == 7);
  CHECK((*drops)[1].mac.toString() == "44:47:cc:12:34:56");
  CHECK((*drops)[1].packets == 5'000'000'000);  // 64 bits, big-endian on the wire
  // The counter found in a list of expressions, past one of another kind.
  CHECK((*drops)[2].mac == *MacAddress::parse("02:00:00:00:00:03"));
  CHECK((*drops)[2].packets == 1);
}

std::vector<char> fromHex(const std::string& hex) {
  std::vector<char> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// What Linux 6.18 answered, byte for byte (NetlinkTransport::dump in a scratch namespace, after
// `nft add element inet muzzle flood-dropped { 02:00:00:00:00:01 counter packets 7 bytes 700 }`
// and one of 44:47:cc:12:34:56 with 5000000000 packets): the elements in one message (key,
// counter, expiration: no timeout, the set's own), an empty message after it, then NLMSG_DONE.
TEST_CASE("what the kernel answered: two elements, and the table missing") {
  const std::vector<char> two = fromHex(
      "d00000000c0a02009210000083490000010000040b0001006d757a7a6c65000012000200666c6f6f642d6472"
      "6f707065640000009c0003004c000100100001000a0001004447cc12345600002c0007000c000100636f756e"
      "746572001c0002000c00010000000000000000010c000200000000012a05f2000c000500000000000001d4a8"
      "4c000100100001000a00010002000000000100002c0007000c000100636f756e746572001c0002000c000100"
      "00000000000002bc0c00020000000000000000070c000500000000000001d4a0380000000c0a020092100000"
      "83490000010000040b0001006d757a7a6c65000012000200666c6f6f642d64726f7070656400000004000300"
      "1400000003000200921000008349000000000000");
  auto drops = parse(two);
  REQUIRE(drops.ok());
  REQUIRE(drops->size() == 2);
  CHECK((*drops)[0].mac.toString() == "44:47:cc:12:34:56");
  CHECK((*drops)[0].packets == 5'000'000'000);
  CHECK((*drops)[1].mac.toString() == "02:00:00:00:00:01");
  CHECK((*drops)[1].packets == 7);
  // No table inet muzzle: NLMSG_ERROR of ENOENT, echoing the request.
  const std::vector<char> no_table = fromHex(
      "4800000002000000921000007d490000feffffff340000000d0a010392100000000000000100000012000200"
      "666c6f6f642d64726f707065640000000b0001006d757a7a6c650000");
  auto missing = parse(no_table);
  REQUIRE(missing.ok());
  CHECK(missing->empty());
}

// Linux 6.18 answers an empty set with a message whose element list is empty, then NLMSG_DONE.
TEST_CASE("an empty set is no elements: NLMSG_DONE alone, or a message with an empty list") {
  auto alone = parse(Answer().done().bytes());
  REQUIRE(alone.ok());
  CHECK(alone->empty());
  auto listless = parse(Answer().elements("flood-dropped", {}).done().bytes());
  REQUIRE(listless.ok());
  CHECK(listless->empty());
}

TEST_CASE("no such set (the guard off, the table gone) is nothing; another refusal is an error") {
  auto missing = parse(Answer().error(ENOENT).bytes());
  REQUIRE(missing.ok());
  CHECK(missing->empty());
  auto denied = parse(Answer().error(EPERM).bytes());
  REQUIRE(!denied.ok());
  CHECK(denied.status().message() ==
        std::string(kWhere) + "the kernel refused the dump: " + std::strerror(EPERM));
  // Any error number a garbled answer may carry, INT_MIN too (its negation overflows).
  std::vector<char> odd = Answer().error(ENOENT).bytes();
  const int32_t int_min = INT32_MIN;
  std::memcpy(odd.data() + sizeof(nlmsghdr), &int_min, sizeof(int_min));
  CHECK(parse(odd).status().message().find("error number 2147483648") != std::string::npos);
  auto ended = parse(Answer().done(-EINTR).bytes());
  CHECK(ended.status().message().find("ended the dump with an error") != std::string::npos);
}

TEST_CASE("a short answer is refused at every length, never read past") {
  const std::vector<char> whole =
      Answer()
          .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1}, {"02:00:00:00:00:02", 2, 2}})
          .done()
          .bytes();
  REQUIRE(parse(whole).ok());
  for (size_t len = 0; len < whole.size(); ++len) {
    CAPTURE(len);
    // A copy of exactly `len` bytes, so that ASan sees a read past it.
    const std::vector<char> prefix(whole.begin(), whole.begin() + static_cast<long>(len));
    auto drops = parse(prefix);
    REQUIRE(!drops.ok());
    CHECK(drops.status().message().find(kWhere) == 0);
  }
  CHECK(parse({}).status().message() ==
        std::string(kWhere) +
            "the answer (0 bytes) ends before its last message (NLMSG_DONE): truncated or garbled");
}

TEST_CASE("a garbled answer: any byte changed gives counts or an error, never a crash") {
  const std::vector<char> whole =
      Answer()
          .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1},
                                      {"02:00:00:00:00:02", 2, 2, Element::Counter::kInList}})
          .done()
          .bytes();
  size_t refused = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) {
      std::vector<char> garbled = whole;
      garbled[i] = static_cast<char>(garbled[i] ^ flip);
      auto drops = parse(garbled);
      refused += !drops.ok();
      if (!drops.ok()) CHECK(drops.status().message().find(kWhere) == 0);
      if (drops.ok()) CHECK(drops->size() <= 2);
    }
  }
  CHECK(refused > whole.size());  // most changes to lengths, types and names are caught
}

TEST_CASE("a message length near 2^32 is refused, not stepped over forever") {
  std::vector<char> answer = Answer().done().bytes();
  const uint32_t huge = 0xfffffffe;  // NLMSG_ALIGN in 32 bits makes it 0
  std::memcpy(answer.data(), &huge, sizeof(huge));
  CHECK(parse(answer).status().message().find("truncated or garbled") != std::string::npos);
}

TEST_CASE("what the parse refuses, and what each error says") {
  struct Case {
    const char* what;
    std::vector<char> answer;
    std::string error;
  };
  const Case cases[] = {
      {"a key of 4 bytes (an IPv4 address, not a MAC address)",
       Answer().elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1, {}, 4}}).done().bytes(),
       "message 1 of the answer: an element has a key of 4 bytes, not a MAC address's 6"},
      {"a key of 8 bytes",
       Answer().elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1, {}, 8}}).done().bytes(),
       "an element has a key of 8 bytes, not a MAC address's 6"},
      {"a key without bytes",
       Answer().elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1, {}, 0}}).done().bytes(),
       "an element has a key of 0 bytes, not a MAC address's 6"},
      {"an element without a counter",
       Answer()
           .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1, Element::Counter::kNone}})
           .done()
           .bytes(),
       "message 1 of the answer: element 02:00:00:00:00:01 has no counter"},
      {"bytes after the last element that are no attribute",
       Answer()
           .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1}}, NLM_F_MULTI, true)
           .done()
           .bytes(),
       "message 1 of the answer: a garbled list of elements"},
      {"another set's elements",
       Answer().elements("flood-guard", {{"02:00:00:00:00:01", 1, 1}}).done().bytes(),
       "message 1 of the answer: a message that is not about this set"},
      {"a dump the kernel interrupted",
       Answer()
           .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1}}, NLM_F_MULTI | NLM_F_DUMP_INTR)
           .done()
           .bytes(),
       "the table changed while it was read; read it again"},
      {"another message type",
       Answer().raw((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE).done().bytes(),
       "message 1 of the answer: unexpected message type 2566"},
      {"an acknowledgement instead of a dump", Answer().error(0).bytes(),
       "message 1 of the answer: an acknowledgement, not a dump"},
      {"more elements than the set's size",
       Answer()
           .elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1}, {"02:00:00:00:00:02", 1, 1}})
           .elements("flood-dropped", {{"02:00:00:00:00:03", 1, 1}})
           .done()
           .bytes(),
       "message 2 of the answer: the set holds more than its 2 elements, so it is not the set "
       "muzzled made (`nft list set inet muzzle flood-dropped` shows it"},
      {"no NLMSG_DONE", Answer().elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1}}).bytes(),
       "ends before its last message (NLMSG_DONE): truncated or garbled"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto drops = parse(c.answer, 2);
    REQUIRE(!drops.ok());
    CHECK(drops.status().message().find(c.error) != std::string::npos);
    CHECK(drops.status().message().find(kWhere) == 0);
  }
}

TEST_CASE("the dump request: GETSETELEM with NLM_F_DUMP for @flood-dropped of inet muzzle") {
  const std::vector<char> request = floodDumpRequest("muzzle", kFloodDroppedSet, 42);
  REQUIRE(request.size() >= sizeof(nlmsghdr) + sizeof(nfgenmsg));
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(request.data());
  CHECK(nlh->nlmsg_len == request.size());
  CHECK(nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM));
  CHECK(nlh->nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
  CHECK(nlh->nlmsg_seq == 42);
  CHECK(static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family == NFPROTO_INET);
  const std::string text(request.begin(), request.end());
  CHECK(text.find(std::string("muzzle\0", 7)) != std::string::npos);
  CHECK(text.find(std::string("flood-dropped\0", 14)) != std::string::npos);
  // The answer's bound covers a full set with room to spare: per element (as many as one
  // message's 16-bit nest length holds, each with the largest counts), and for an empty set.
  const std::vector<Element> full(700, Element{"44:47:cc:12:34:56", ~uint64_t{0}, ~uint64_t{0}});
  const size_t one_message = Answer().elements("flood-dropped", full).done().bytes().size();
  CHECK(one_message < floodDumpBytes(700));
  CHECK(one_message * 2 > floodDumpBytes(700) - floodDumpBytes(0));  // not too loose
  CHECK(Answer().elements("flood-dropped", {}).done().bytes().size() < floodDumpBytes(0));
}

// Accepts every batch; answers each dump with `answer` (or fails with `error`), keeping the
// requests and the bound they came with.
class DumpingTransport : public NetlinkTransport {
 public:
  struct Script {
    std::vector<char> answer;
    std::string error;
    std::vector<std::vector<char>> requests;
    std::vector<size_t> max_bytes;
    size_t batches = 0;
  };
  explicit DumpingTransport(Script* script) : script_(script) {}
  Result<std::optional<NetlinkRefusal>> transact(std::span<const char>, size_t) override {
    ++script_->batches;
    return std::optional<NetlinkRefusal>();
  }
  Result<std::vector<char>> dump(std::span<const char> request, size_t max_bytes) override {
    script_->requests.emplace_back(request.begin(), request.end());
    script_->max_bytes.push_back(max_bytes);
    if (!script_->error.empty()) return Status::error(script_->error);
    return script_->answer;
  }

 private:
  Script* script_;
};

RulesetSpec guarded(uint32_t rate) {
  RulesetSpec spec;
  spec.generation = 3;
  spec.segment_ifnames = {"br-cam"};
  spec.flood_rate = rate;
  spec.flood_burst = rate * 2;
  return spec;
}

TEST_CASE("readFloodDrops asks nothing without a guard, and one dump of @flood-dropped with it") {
  DumpingTransport::Script script;
  script.answer =
      Answer()
          .elements("flood-dropped", {{"02:00:00:00:00:01", 7, 700}, {"02:00:00:00:00:02", 3, 180}})
          .done()
          .bytes();
  auto writer = makeNftRulesetWriter(std::make_unique<DumpingTransport>(&script));

  auto before = writer->readFloodDrops(DeviceDropCause::kFloodGuard);  // nothing installed yet
  REQUIRE(before.ok());
  CHECK(before->empty());
  REQUIRE(writer->install(guarded(0)).ok());
  auto unguarded = writer->readFloodDrops(DeviceDropCause::kFloodGuard);
  REQUIRE(unguarded.ok());
  CHECK(unguarded->empty());
  CHECK(script.requests.empty());

  REQUIRE(writer->install(guarded(50)).ok());
  auto drops = writer->readFloodDrops(DeviceDropCause::kFloodGuard);
  REQUIRE(drops.ok());
  REQUIRE(script.requests.size() == 1);
  const std::vector<char>& request = script.requests[0];
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(request.data());
  CHECK(nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM));
  CHECK((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
  CHECK(std::string(request.begin(), request.end()).find(std::string("flood-dropped\0", 14)) !=
        std::string::npos);
  CHECK(script.max_bytes[0] == floodDumpBytes(kFloodSetSize));
  REQUIRE(drops->size() == 2);
  CHECK((*drops)[0].mac.toString() == "02:00:00:00:00:01");
  CHECK((*drops)[0].packets == 7);
  CHECK((*drops)[1].packets == 3);

  // A second read is a new request, numbered apart from the first.
  REQUIRE(writer->readFloodDrops(DeviceDropCause::kFloodGuard).ok());
  REQUIRE(script.requests.size() == 2);
  CHECK(reinterpret_cast<const nlmsghdr*>(script.requests[1].data())->nlmsg_seq != nlh->nlmsg_seq);

  // The table removed: nothing to read.
  REQUIRE(writer->remove().ok());
  CHECK(writer->readFloodDrops(DeviceDropCause::kFloodGuard).ok());
  CHECK(script.requests.size() == 2);
}

TEST_CASE("readFloodDrops says what failed: the transport, or the answer") {
  DumpingTransport::Script script;
  auto writer = makeNftRulesetWriter(std::make_unique<DumpingTransport>(&script));
  REQUIRE(writer->install(guarded(50)).ok());
  script.error = "nftables: cannot open netlink socket: Operation not permitted";
  auto failed = writer->readFloodDrops(DeviceDropCause::kFloodGuard);
  REQUIRE(!failed.ok());
  CHECK(failed.status().message() ==
        "reading set flood-dropped: nftables: cannot open netlink socket: Operation not permitted");
  script.error.clear();
  script.answer = Answer().elements("flood-dropped", {{"02:00:00:00:00:01", 1, 1, {}, 4}}).bytes();
  auto garbled = writer->readFloodDrops(DeviceDropCause::kFloodGuard);
  REQUIRE(!garbled.ok());
  CHECK(garbled.status().message().find(kWhere) == 0);
  // The set missing (the table replaced by hand since): no counts, no error.
  script.answer = Answer().error(ENOENT).bytes();
  auto missing = writer->readFloodDrops(DeviceDropCause::kFloodGuard);
  REQUIRE(missing.ok());
  CHECK(missing->empty());
}

TEST_CASE("the connection limit's counts: @conn-limit-dropped, read only while the limit is on") {
  DumpingTransport::Script script;
  script.answer =
      Answer().elements("conn-limit-dropped", {{"02:00:00:00:00:03", 9, 540}}).done().bytes();
  auto writer = makeNftRulesetWriter(std::make_unique<DumpingTransport>(&script));
  RulesetSpec spec = guarded(0);
  REQUIRE(writer->install(spec).ok());
  auto off = writer->readFloodDrops(DeviceDropCause::kConnectionLimit);
  REQUIRE(off.ok());
  CHECK(off->empty());
  CHECK(script.requests.empty());

  spec.conn_limit = 64;  // the guard stays off: the two are independent
  REQUIRE(writer->install(spec).ok());
  CHECK(writer->readFloodDrops(DeviceDropCause::kFloodGuard)->empty());
  CHECK(script.requests.empty());
  auto drops = writer->readFloodDrops(DeviceDropCause::kConnectionLimit);
  REQUIRE(drops.ok());
  REQUIRE(script.requests.size() == 1);
  const std::vector<char>& request = script.requests[0];
  CHECK(std::string(request.begin(), request.end()).find(std::string("conn-limit-dropped\0", 19)) !=
        std::string::npos);
  REQUIRE(drops->size() == 1);
  CHECK((*drops)[0].mac.toString() == "02:00:00:00:00:03");
  CHECK((*drops)[0].packets == 9);

  // An answer about the other set is refused, and the error names the set asked for.
  script.answer =
      Answer().elements("flood-dropped", {{"02:00:00:00:00:03", 9, 540}}).done().bytes();
  auto wrong = writer->readFloodDrops(DeviceDropCause::kConnectionLimit);
  REQUIRE(!wrong.ok());
  CHECK(wrong.status().message().find(
            "nftables: reading set conn-limit-dropped of inet muzzle: ") == 0);
  CHECK(wrong.status().message().find("not about this set") != std::string::npos);
}

Result<std::vector<SegmentDropCount>> parseSegments(const std::vector<char>& answer,
                                                    size_t max_elements = 100) {
  std::vector<SegmentDropCount> out;
  Status s = parseSegmentDump(answer, kSegmentDroppedSet, max_elements, &out);
  if (!s.ok()) return s;
  return out;
}

TEST_CASE("the segment guard's counts: an interface name for each, and what is refused") {
  auto drops = parseSegments(
      Answer()
          .elements("segment-dropped",
                    {segment("br-cam", 5000), segment("uplink0", 3), segment("fifteen-bytes-1", 1)})
          .done()
          .bytes());
  REQUIRE(drops.ok());
  REQUIRE(drops->size() == 3);
  CHECK((*drops)[0].interface == "br-cam");
  CHECK((*drops)[0].packets == 5000);
  CHECK((*drops)[1].interface == "uplink0");
  CHECK((*drops)[2].interface == "fifteen-bytes-1");  // the longest name the kernel gives
  const std::string where = "nftables: reading set segment-dropped of inet muzzle: ";
  struct Case {
    const char* what;
    Element element;
    std::string error;
  };
  Element bytes_after_nul = segment("br", 1);
  bytes_after_nul.mac = std::string("br\0x", 4);
  const Case cases[] = {
      {"a MAC address's key", Element{"02:00:00:00:00:01", 1, 1},
       "an element has a key of 6 bytes, not an interface name's 16"},
      {"no NUL: a name of 16 bytes", segment("sixteen-bytes-12", 1),
       "an element has a key that is no interface name (1-15 bytes, then NULs)"},
      {"an empty name", segment("", 1), "no interface name"},
      {"bytes after the NUL", bytes_after_nul, "no interface name"},
      {"no counter",
       [] {
         Element e = segment("br-cam", 1);
         e.counter = Element::Counter::kNone;
         return e;
       }(),
       "element \"br-cam\" has no counter"},
      {"a name of bytes to escape, without a counter",
       [] {
         Element e = segment("br\x01\"x", 1);
         e.counter = Element::Counter::kNone;
         return e;
       }(),
       "element \"br\\x01\\\"x\" has no counter"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto refused = parseSegments(Answer().elements("segment-dropped", {c.element}).done().bytes());
    REQUIRE(!refused.ok());
    CHECK(refused.status().message().find(where) == 0);
    CHECK(refused.status().message().find(c.error) != std::string::npos);
  }
  // The device sets' parse refuses an interface's key.
  auto as_devices =
      parse(Answer().elements("flood-dropped", {segment("br-cam", 1)}).done().bytes());
  CHECK(as_devices.status().message().find("not a MAC address's 6") != std::string::npos);
  // Past its bound, as any set.
  auto many = parseSegments(
      Answer().elements("segment-dropped", {segment("a", 1), segment("b", 1)}).done().bytes(), 1);
  CHECK(many.status().message().find("holds more than its 1 elements") != std::string::npos);
}

TEST_CASE("readSegmentDrops: nothing asked without the segment guard, @segment-dropped with it") {
  DumpingTransport::Script script;
  script.answer = Answer().elements("segment-dropped", {segment("br-cam", 77)}).done().bytes();
  auto writer = makeNftRulesetWriter(std::make_unique<DumpingTransport>(&script));
  CHECK(writer->readSegmentDrops()->empty());  // nothing installed yet
  RulesetSpec spec = guarded(50);              // the device guard alone
  REQUIRE(writer->install(spec).ok());
  CHECK(writer->readSegmentDrops()->empty());
  CHECK(script.requests.empty());
  spec.flood_rate = 0;  // the segment guard alone: independent of the device's
  spec.segment_rate = 100;
  spec.segment_burst = 200;
  REQUIRE(writer->install(spec).ok());
  CHECK(writer->readFloodDrops(DeviceDropCause::kFloodGuard)->empty());
  CHECK(script.requests.empty());
  auto drops = writer->readSegmentDrops();
  REQUIRE(drops.ok());
  REQUIRE(script.requests.size() == 1);
  CHECK(std::string(script.requests[0].begin(), script.requests[0].end())
            .find(std::string("segment-dropped\0", 16)) != std::string::npos);
  CHECK(script.max_bytes[0] == floodDumpBytes(kSegmentSetSize));
  REQUIRE(drops->size() == 1);
  CHECK((*drops)[0].interface == "br-cam");
  CHECK((*drops)[0].packets == 77);
  script.error = "nftables: cannot open netlink socket: Operation not permitted";
  auto failed = writer->readSegmentDrops();
  REQUIRE(!failed.ok());
  CHECK(failed.status().message() ==
        "reading set segment-dropped: nftables: cannot open netlink socket: Operation not "
        "permitted");
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle

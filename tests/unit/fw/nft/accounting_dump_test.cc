// Reading the accounting sets (fw/nft/accounting_dump.h) from answers built here the way the
// kernel's nf_tables_fill_setelem() writes them: well-formed ones, the set missing, and every
// way an answer can be short, garbled or too large, each refused with an error that says so.
// Then NftRulesetWriter's readAccounting() and forgetAccounting() through a fake transport:
// one dump per set, nothing asked with accounting off, and a forget that meets an element
// already gone (ENOENT) reads the sets again and deletes only what is there.
#include "fw/nft/accounting_dump.h"

#include <doctest/doctest.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const AccountingSet& setNamed(const std::string& name) {
  for (const AccountingSet& s : kAccountingSets) {
    if (name == s.name) return s;
  }
  FAIL("no accounting set " << name);
  return kAccountingSets[0];
}

struct Element {
  std::string address;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  bool counter = true;
  int key_len = -1;         // -1: the address's own length and the class's 4 bytes
  uint32_t class_bits = 0;  // the key's class part: ct mark & 0xfc, in host order
};

// Dump answers, message by message, as the kernel writes them.
class Answer {
 public:
  Answer& elements(const std::string& set, const std::vector<Element>& elems,
                   uint16_t flags = NLM_F_MULTI) {
    std::vector<char> buf(size_t{128} << 10);  // one nest holds at most 64 KiB
    nlmsghdr* nlh = header(buf.data(), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM, flags);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = NFPROTO_INET;
    nfg->version = NFNETLINK_V0;
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "muzzle");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const Element& e : elems) {
      const IpAddress ip = *IpAddress::parse(e.address);
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
      // The address, then the class bits as a 32-bit register holds them (accountingKey).
      std::vector<uint8_t> key_bytes(ip.bytes.begin(), ip.bytes.begin() + (ip.v6 ? 16 : 4));
      const auto* raw = reinterpret_cast<const uint8_t*>(&e.class_bits);
      key_bytes.insert(key_bytes.end(), raw, raw + sizeof(e.class_bits));
      key_bytes.resize(e.key_len >= 0 ? static_cast<size_t>(e.key_len) : key_bytes.size());
      mnl_attr_put(nlh, NFTA_DATA_VALUE, key_bytes.size(), key_bytes.data());
      mnl_attr_nest_end(nlh, key);
      if (e.counter) {
        nlattr* expr = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPR);
        mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
        nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
        mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(e.bytes));
        mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(e.packets));
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, expr);
      }
      mnl_attr_nest_end(nlh, elem);
    }
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

Result<std::vector<AccountingCount>> parse(const std::vector<char>& answer, const char* set,
                                           size_t max_elements = 100) {
  std::vector<AccountingCount> out;
  Status s = parseAccountingDump(answer, setNamed(set), max_elements, &out);
  if (!s.ok()) return s;
  return out;
}

TEST_CASE("an answer in two messages: every element with its address, direction and counts") {
  const std::vector<char> answer =
      Answer()
          .elements("acct-down6", {{"fd00::2", 5'000'000'000, 4'000'000},
                                   {"fd00::3", 48, 1, true, -1, 63 << 2}})
          .elements("acct-down6", {{"fd00:1::9", 0, 0}})
          .done()
          .bytes();
  auto counts = parse(answer, "acct-down6");
  REQUIRE(counts.ok());
  REQUIRE(counts->size() == 3);
  CHECK((*counts)[0].address.toString() == "fd00::2");
  CHECK(!(*counts)[0].upload);
  CHECK((*counts)[0].bytes == 5'000'000'000);  // 64 bits, big-endian on the wire
  CHECK((*counts)[0].packets == 4'000'000);
  CHECK((*counts)[0].traffic_class == 0);
  CHECK((*counts)[1].bytes == 48);
  CHECK((*counts)[1].traffic_class == 63);  // the class bits of the key, as marks.h puts them
  CHECK((*counts)[2].address.toString() == "fd00:1::9");
  auto up =
      parse(Answer().elements("acct-up4", {{"198.18.0.2", 128, 1, true, -1, 2 << 2}}).done().bytes(),
            "acct-up4");
  REQUIRE(up.ok());
  REQUIRE(up->size() == 1);
  CHECK((*up)[0].upload);
  CHECK((*up)[0].address == *IpAddress::parse("198.18.0.2"));
  CHECK((*up)[0].traffic_class == 2);
  CHECK(accountingKey((*up)[0].address, 2) ==
        std::vector<uint8_t>{198, 18, 0, 2, 2 << 2, 0, 0, 0});  // what forget deletes by
  auto empty = parse(Answer().done().bytes(), "acct-up4");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("no such set (accounting off, the table gone) is nothing; another refusal is an error") {
  auto missing = parse(Answer().error(ENOENT).bytes(), "acct-up4");
  REQUIRE(missing.ok());
  CHECK(missing->empty());
  auto denied = parse(Answer().error(EPERM).bytes(), "acct-up4");
  REQUIRE(!denied.ok());
  CHECK(denied.status().message() ==
        "nftables: reading set acct-up4 of inet muzzle: the kernel refused the dump: " +
            std::string(std::strerror(EPERM)));
  // Any error number a garbled answer may carry, INT_MIN too (its negation overflows).
  std::vector<char> odd = Answer().error(ENOENT).bytes();
  const int32_t int_min = INT32_MIN;
  std::memcpy(odd.data() + sizeof(nlmsghdr), &int_min, sizeof(int_min));
  CHECK(parse(odd, "acct-up4").status().message().find("error number 2147483648") !=
        std::string::npos);
  auto interrupted_end = parse(Answer().done(-EINTR).bytes(), "acct-up4");
  CHECK(interrupted_end.status().message().find("ended the dump with an error") !=
        std::string::npos);
}

TEST_CASE("a short answer is refused at every length, never read past") {
  const std::vector<char> whole =
      Answer().elements("acct-up4", {{"198.18.0.2", 1, 1}, {"198.18.0.3", 2, 2}}).done().bytes();
  REQUIRE(parse(whole, "acct-up4").ok());
  for (size_t len = 0; len < whole.size(); ++len) {
    CAPTURE(len);
    // A copy of exactly `len` bytes, so that ASan sees a read past it.
    const std::vector<char> prefix(whole.begin(), whole.begin() + static_cast<long>(len));
    auto counts = parse(prefix, "acct-up4");
    REQUIRE(!counts.ok());
    CHECK(counts.status().message().find("nftables: reading set acct-up4 of inet muzzle: ") == 0);
  }
  auto empty = parse({}, "acct-up4");
  CHECK(empty.status().message() ==
        "nftables: reading set acct-up4 of inet muzzle: the answer (0 bytes) ends before its last "
        "message (NLMSG_DONE): truncated or garbled");
}

TEST_CASE("a garbled answer: any byte changed gives counts or an error, never a crash") {
  const std::vector<char> whole =
      Answer().elements("acct-up6", {{"fd00::2", 1, 1}, {"fd00::3", 2, 2}}).done().bytes();
  size_t refused = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) {
      std::vector<char> garbled = whole;
      garbled[i] = static_cast<char>(garbled[i] ^ flip);
      refused += !parse(garbled, "acct-up6").ok();
    }
  }
  CHECK(refused > whole.size());  // most changes to lengths, types and names are caught
}

TEST_CASE("what the parse refuses, and what each error says") {
  struct Case {
    const char* what;
    std::vector<char> answer;
    std::string error;
  };
  const Case cases[] = {
      {"an IPv6 key in an IPv4 set",
       Answer().elements("acct-up4", {{"fd00::2", 1, 1}}).done().bytes(),
       "message 1 of the answer: an element has a key of 20 bytes, not 8"},
      {"an address key without its class (the set of an older muzzled)",
       Answer().elements("acct-up4", {{"198.18.0.2", 1, 1, true, 4}}).done().bytes(),
       "an element has a key of 4 bytes, not 8"},
      {"a class with bits outside the class bits",
       Answer().elements("acct-up4", {{"198.18.0.2", 1, 1, true, -1, 0x101}}).done().bytes(),
       "element 198.18.0.2 has a class of bits outside the class"},
      {"a key without bytes",
       Answer().elements("acct-up4", {{"198.18.0.2", 1, 1, true, 0}}).done().bytes(),
       "an element has a key of 0 bytes, not 8"},
      {"an element without a counter",
       Answer().elements("acct-up4", {{"198.18.0.2", 1, 1, false}}).done().bytes(),
       "message 1 of the answer: element 198.18.0.2 has no counter"},
      {"another set's elements", Answer().elements("doh4", {{"198.18.0.2", 1, 1}}).done().bytes(),
       "message 1 of the answer: a message that is not about this set"},
      {"a dump the kernel interrupted",
       Answer()
           .elements("acct-up4", {{"198.18.0.2", 1, 1}}, NLM_F_MULTI | NLM_F_DUMP_INTR)
           .done()
           .bytes(),
       "the table changed while it was read; read it again"},
      {"another message type",
       Answer().raw((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE).done().bytes(),
       "message 1 of the answer: unexpected message type 2566"},
      {"more elements than the set's size",
       Answer()
           .elements("acct-up4", {{"198.18.0.2", 1, 1}, {"198.18.0.3", 1, 1}})
           .elements("acct-up4", {{"198.18.0.4", 1, 1}})
           .done()
           .bytes(),
       "message 2 of the answer: the set holds more than its 2 elements"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto counts = parse(c.answer, "acct-up4", 2);
    REQUIRE(!counts.ok());
    CHECK(counts.status().message().find(c.error) != std::string::npos);
    CHECK(counts.status().message().find("reading set acct-up4 of inet muzzle") !=
          std::string::npos);
  }
}

TEST_CASE("the dump request: GETSETELEM with NLM_F_DUMP for one set of inet muzzle") {
  const std::vector<char> request = accountingDumpRequest("muzzle", setNamed("acct-down4"), 42);
  REQUIRE(request.size() >= sizeof(nlmsghdr) + sizeof(nfgenmsg));
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(request.data());
  CHECK(nlh->nlmsg_len == request.size());
  CHECK(nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM));
  CHECK(nlh->nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
  CHECK(nlh->nlmsg_seq == 42);
  const std::string text(request.begin(), request.end());
  CHECK(text.find(std::string("muzzle\0", 7)) != std::string::npos);
  CHECK(text.find(std::string("acct-down4\0", 11)) != std::string::npos);
  // The answer's bound covers a full set of IPv6 elements with room to spare: per element (as
  // many as one message's 16-bit nest length holds), and for an empty set.
  const std::vector<Element> full(700, Element{"fd00::2", ~uint64_t{0}, ~uint64_t{0}});
  const size_t one_message = Answer().elements("acct-up6", full).done().bytes().size();
  CHECK(one_message < accountingDumpBytes(700));
  CHECK(one_message * 2 > accountingDumpBytes(700) - accountingDumpBytes(0));  // not too loose
  CHECK(Answer().elements("acct-up6", {}).done().bytes().size() < accountingDumpBytes(0));
}

}  // namespace
}  // namespace muzzle

// NftRulesetWriter's readAccounting() and forgetAccounting() against a fake transport that
// answers dumps from a table of elements per set, as the kernel would, and refuses a batch that
// deletes an element not in it (ENOENT), as the kernel does (seen on Linux 6.18): one dump per
// set and nothing asked with accounting off; a forget that meets an element already gone reads
// the sets again and deletes only what is there; a delete message never goes out empty (an
// empty one would flush the whole set).
#include <doctest/doctest.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fw/nft/accounting_dump.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Calls `f` with each attribute nested in `nest` (libmnl's loop macros do not compile as C++).
template <typename F>
void forEachNested(const nlattr* nest, F f) {
  int left = static_cast<int>(mnl_attr_get_payload_len(nest));
  for (auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest)); mnl_attr_ok(a, left);) {
    f(a);
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
}

std::string attrString(const nlmsghdr* nlh, uint16_t type) {
  std::string out;
  int left = static_cast<int>(mnl_nlmsg_get_payload_len(nlh) - sizeof(nfgenmsg));
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
       mnl_attr_ok(a, left);) {
    if (mnl_attr_get_type(a) == type) out = mnl_attr_get_str(a);
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
  return out;
}

const nlattr* attr(const nlmsghdr* nlh, uint16_t type) {
  int left = static_cast<int>(mnl_nlmsg_get_payload_len(nlh) - sizeof(nfgenmsg));
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
       mnl_attr_ok(a, left);) {
    if (mnl_attr_get_type(a) == type) return a;
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
  return nullptr;
}

// An element's key as this test writes it: "198.18.0.2", or "198.18.0.2#2" with traffic class 2.
std::string keyText(const IpAddress& ip, uint32_t class_bits) {
  const uint32_t traffic_class = class_bits >> 2;
  return ip.toString() + (traffic_class == 0 ? "" : "#" + std::to_string(traffic_class));
}

// The kernel's sets, as far as this test needs them: set name -> key text -> bytes.
class KernelSets : public NetlinkTransport {
 public:
  std::map<std::string, std::map<std::string, uint64_t>> sets;
  std::vector<std::string> dumped;                // the sets asked for, in order
  std::vector<size_t> bounds;                     // max_bytes of each dump
  std::vector<std::vector<std::string>> deletes;  // per batch: "set address" per element
  size_t batches = 0;
  size_t empty_delete_messages = 0;

  Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch, size_t) override {
    ++batches;
    deletes.emplace_back();
    std::map<std::string, std::map<std::string, uint64_t>> after = sets;
    int len = static_cast<int>(batch.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_DELSETELEM ||
          nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
        continue;
      }
      const std::string set = attrString(nlh, NFTA_SET_ELEM_LIST_SET);
      const nlattr* list = attr(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
      if (list == nullptr) ++empty_delete_messages;
      bool refused = false;
      if (list != nullptr) {
        forEachNested(list, [&](const nlattr* elem) {
          forEachNested(elem, [&](const nlattr* field) {
            if (mnl_attr_get_type(field) != NFTA_SET_ELEM_KEY) return;
            forEachNested(field, [&](const nlattr* value) {
              // The address, then the class bits (accountingKey).
              const bool v6 = mnl_attr_get_payload_len(value) == accountingKeyLength(true);
              const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(value));
              uint32_t class_bits = 0;
              std::memcpy(&class_bits, bytes + (v6 ? 16 : 4), sizeof(class_bits));
              const std::string address = keyText(IpAddress::fromBytes(bytes, v6), class_bits);
              deletes.back().push_back(set + " " + address);
              refused = refused || after[set].erase(address) == 0;
            });
          });
        });
      }
      // All or nothing, as the kernel applies a batch.
      if (refused) return std::optional<NetlinkRefusal>(NetlinkRefusal{nlh->nlmsg_seq, ENOENT});
    }
    sets = after;
    return std::optional<NetlinkRefusal>();
  }

  Result<std::vector<char>> dump(std::span<const char> request, size_t max_bytes) override {
    const auto* req = reinterpret_cast<const nlmsghdr*>(request.data());
    const std::string set = attrString(req, NFTA_SET_ELEM_LIST_SET);
    dumped.push_back(set);
    bounds.push_back(max_bytes);
    std::vector<char> buf(size_t{64} << 10);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_seq = req->nlmsg_seq;
    if (sets.count(set) == 0) {
      nlh->nlmsg_type = NLMSG_ERROR;
      static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)))->error = -ENOENT;
      return std::vector<char>(buf.data(), buf.data() + NLMSG_ALIGN(nlh->nlmsg_len));
    }
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
    nlh->nlmsg_flags = NLM_F_MULTI;
    mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg));
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "muzzle");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const auto& [text, bytes] : sets[set]) {
      const size_t hash = text.find('#');
      const IpAddress ip = *IpAddress::parse(text.substr(0, hash));
      const uint32_t traffic_class =
          hash == std::string::npos ? 0 : static_cast<uint32_t>(std::stoul(text.substr(hash + 1)));
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
      const std::vector<uint8_t> key_bytes = accountingKey(ip, traffic_class);
      mnl_attr_put(nlh, NFTA_DATA_VALUE, key_bytes.size(), key_bytes.data());
      mnl_attr_nest_end(nlh, key);
      nlattr* expr = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPR);
      mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
      nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
      mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(bytes));
      mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(1));
      mnl_attr_nest_end(nlh, data);
      mnl_attr_nest_end(nlh, expr);
      mnl_attr_nest_end(nlh, elem);
    }
    mnl_attr_nest_end(nlh, list);
    std::vector<char> answer(buf.data(), buf.data() + NLMSG_ALIGN(nlh->nlmsg_len));
    nlmsghdr* done = mnl_nlmsg_put_header(buf.data());
    done->nlmsg_type = NLMSG_DONE;
    done->nlmsg_seq = req->nlmsg_seq;
    mnl_nlmsg_put_extra_header(done, sizeof(int));
    answer.insert(answer.end(), buf.data(), buf.data() + done->nlmsg_len);
    return answer;
  }
};

RulesetSpec spec(uint32_t accounting) {
  RulesetSpec s;
  s.generation = 5;
  s.segment_ifnames = {"br-cam"};
  s.accounting_addresses = accounting;
  return s;
}

AccountingCount element(const char* address, bool upload, uint8_t traffic_class = 0) {
  return {*IpAddress::parse(address), upload, 0, 0, traffic_class};
}

TEST_CASE("readAccounting: one dump per set, bounded by the set's size; nothing asked when off") {
  auto* kernel = new KernelSets;
  auto writer = makeNftRulesetWriter(std::unique_ptr<NetlinkTransport>(kernel));
  auto none = writer->readAccounting();  // nothing installed yet
  REQUIRE(none.ok());
  CHECK(none->empty());
  REQUIRE(writer->install(spec(0)).ok());
  none = writer->readAccounting();
  REQUIRE(none.ok());
  CHECK(kernel->dumped.empty());

  REQUIRE(writer->install(spec(16)).ok());
  kernel->sets = {{"acct-up4", {{"198.18.0.2", 100}, {"198.18.0.3", 7}, {"198.18.0.3#2", 5}}},
                  {"acct-down4", {{"198.18.0.2", 300}}},
                  {"acct-up6", {}}};  // acct-down6 is missing: no error, no elements
  auto counts = writer->readAccounting();
  REQUIRE(counts.ok());
  CHECK(kernel->dumped ==
        std::vector<std::string>{"acct-up4", "acct-down4", "acct-up6", "acct-down6"});
  for (const size_t bound : kernel->bounds) CHECK(bound == accountingDumpBytes(16));
  REQUIRE(counts->size() == 4);
  CHECK((*counts)[0].address.toString() == "198.18.0.2");
  CHECK((*counts)[0].upload);
  CHECK((*counts)[0].bytes == 100);
  CHECK((*counts)[0].traffic_class == 0);
  // One address, two classes: two elements.
  CHECK((*counts)[2].address.toString() == "198.18.0.3");
  CHECK((*counts)[2].traffic_class == 2);
  CHECK((*counts)[2].bytes == 5);
  CHECK((*counts)[3].address.toString() == "198.18.0.2");
  CHECK(!(*counts)[3].upload);
  CHECK((*counts)[3].bytes == 300);

  // A set larger than the spec's size is not ours: an error that names it, no partial result.
  kernel->sets["acct-up6"] = {};
  for (int i = 0; i < 17; ++i) kernel->sets["acct-up6"]["fd00::" + std::to_string(i + 1)] = 1;
  counts = writer->readAccounting();
  REQUIRE(!counts.ok());
  CHECK(counts.status().message().find("reading set acct-up6 of inet muzzle") != std::string::npos);
  CHECK(counts.status().message().find("more than its 16 elements") != std::string::npos);
}

TEST_CASE("forgetAccounting: one batch; an element already gone is no error") {
  auto* kernel = new KernelSets;
  auto writer = makeNftRulesetWriter(std::unique_ptr<NetlinkTransport>(kernel));
  REQUIRE(writer->install(spec(16)).ok());
  kernel->sets = {{"acct-up4", {{"198.18.0.2", 100}, {"198.18.0.3", 7}, {"198.18.0.3#2", 5}}},
                  {"acct-down4", {{"198.18.0.2", 300}}},
                  {"acct-up6", {{"fd00::2", 9}}},
                  {"acct-down6", {}}};
  const size_t installs = kernel->batches;

  REQUIRE(writer->forgetAccounting({}).ok());
  CHECK(kernel->batches == installs);  // nothing to send

  // Present elements only: one batch, one message per set that has any, none empty.
  REQUIRE(writer->forgetAccounting({element("198.18.0.2", true), element("fd00::2", true)}).ok());
  CHECK(kernel->batches == installs + 1);
  CHECK(kernel->deletes.back() ==
        std::vector<std::string>{"acct-up4 198.18.0.2", "acct-up6 fd00::2"});
  CHECK(kernel->empty_delete_messages == 0);
  CHECK(kernel->sets["acct-up4"].count("198.18.0.3") == 1);  // never a flush
  kernel->dumped.clear();

  // One already gone (forgotten above), one never there, one present: the first batch is
  // refused, the sets are read again, and a second batch deletes the present one alone.
  Status s = writer->forgetAccounting(
      {element("198.18.0.2", true), element("198.18.0.9", false), element("198.18.0.3", true)});
  CHECK(s.ok());
  CHECK(kernel->batches == installs + 3);
  CHECK(kernel->dumped.size() == 4);
  CHECK(kernel->deletes.back() == std::vector<std::string>{"acct-up4 198.18.0.3"});
  CHECK(kernel->sets["acct-up4"] == std::map<std::string, uint64_t>{{"198.18.0.3#2", 5}});
  // An element is its address and its class: the other class of the address stays.
  REQUIRE(writer->forgetAccounting({element("198.18.0.3", true, 2)}).ok());
  CHECK(kernel->deletes.back() == std::vector<std::string>{"acct-up4 198.18.0.3#2"});
  CHECK(kernel->sets["acct-up4"].empty());
  CHECK(kernel->sets["acct-down4"].count("198.18.0.2") == 1);

  // Nothing left to delete after the second read: no second batch.
  s = writer->forgetAccounting({element("198.18.0.3", true)});
  CHECK(s.ok());
  CHECK(kernel->batches == installs + 5);

  // Accounting off: nothing to forget, nothing sent.
  REQUIRE(writer->install(spec(0)).ok());
  const size_t off = kernel->batches;
  CHECK(writer->forgetAccounting({element("198.18.0.2", false)}).ok());
  CHECK(kernel->batches == off);
}

}  // namespace
}  // namespace muzzle

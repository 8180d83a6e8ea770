// NftBatch: a table and a policy change become batches whose every message and nested attribute
// says its true length (netlink lengths are 16 bits inside a message), so do more segments than
// one message of @segments holds, and a batch that does not fit its limit is refused whole,
// naming what did not fit, and never sent.
#include "fw/nft/nft_batch.h"

#include <doctest/doctest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Keeps a copy of every batch and accepts it.
class KeepingTransport : public NetlinkTransport {
 public:
  explicit KeepingTransport(std::vector<std::string>* batches) : batches_(batches) {}
  Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch, size_t) override {
    batches_->emplace_back(batch.begin(), batch.end());
    return std::optional<NetlinkRefusal>();
  }
  Result<std::vector<char>> dump(std::span<const char>, size_t) override {
    return Status::error("KeepingTransport: no dumps in this test");
  }

 private:
  std::vector<std::string>* batches_;
};

struct Walk {
  size_t messages = 0;
  size_t element_messages = 0;
  size_t elements = 0;
  size_t largest_elements_nest = 0;
  uint32_t first_seq = 0;
  uint32_t last_seq = 0;
  std::vector<std::string> errors;
};

// Walks `batch` with libmnl: messages tile the bytes exactly, and in each set element message the
// element list's nest covers exactly the elements it holds, up to the message's end.
Walk walk(const std::string& batch) {
  Walk w;
  int left = static_cast<int>(batch.size());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data());
  w.first_seq = nlh->nlmsg_seq;
  for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    ++w.messages;
    w.last_seq = nlh->nlmsg_seq;
    if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM ||
        (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) {
      continue;
    }
    ++w.element_messages;
    const auto* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
    const nlattr* list = nullptr;
    for (auto* attr =
             static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
         mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
         attr = mnl_attr_next(attr)) {
      if (mnl_attr_get_type(attr) == NFTA_SET_ELEM_LIST_ELEMENTS) list = attr;
    }
    if (list == nullptr) {
      w.errors.push_back("message " + std::to_string(nlh->nlmsg_seq) + " has no element list");
      continue;
    }
    const auto* list_end = reinterpret_cast<const char*>(list) + MNL_ALIGN(list->nla_len);
    if (list_end != end) {
      w.errors.push_back("message " + std::to_string(nlh->nlmsg_seq) + ": element list ends " +
                         std::to_string(end - list_end) + " bytes before the message");
    }
    w.largest_elements_nest = std::max<size_t>(w.largest_elements_nest, list->nla_len);
    const char* last_end = static_cast<const char*>(mnl_attr_get_payload(list));
    for (auto* elem = static_cast<const nlattr*>(mnl_attr_get_payload(list));
         mnl_attr_ok(elem, static_cast<int>(list_end - reinterpret_cast<const char*>(elem)));
         elem = mnl_attr_next(elem)) {
      ++w.elements;
      last_end = reinterpret_cast<const char*>(elem) + MNL_ALIGN(elem->nla_len);
    }
    if (last_end != list_end) {
      w.errors.push_back("message " + std::to_string(nlh->nlmsg_seq) +
                         ": elements do not fill their list");
    }
  }
  if (left != 0) w.errors.push_back(std::to_string(left) + " bytes after the last message");
  return w;
}

TEST_CASE("a table and a policy change: every message and element list has its true length") {
  std::vector<std::string> batches;
  auto writer = makeNftRulesetWriter(std::make_unique<KeepingTransport>(&batches));
  RulesetSpec spec;
  spec.generation = 3;
  spec.segment_ifnames = {"br-cam"};
  REQUIRE(writer->install(spec).ok());
  spec.generation = 4;  // rewrites the per-policy chains' rules
  REQUIRE(writer->install(spec).ok());
  REQUIRE(batches.size() == 2);
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string& batch = batches[i];
    INFO("batch of " << batch.size() << " bytes");
    const Walk w = walk(batch);
    CHECK(w.errors.empty());
    for (const std::string& e : w.errors) MESSAGE(e);
    // The 4 verdicts of the conntrack-mark map of each base chain that leads to `judge` (forward,
    // input: rewritten with the policy too) and the 3 of `judge`'s packet-mark map, each map in a
    // message of its own; and in the first batch only (the policy change leaves it) the segment
    // in @segments.
    const size_t segments = i == 0 ? 1 : 0;
    CHECK(w.elements == 4 + 4 + 3 + segments);
    CHECK(w.element_messages == 3 + segments);
    CHECK(w.largest_elements_nest <= kElementsPerMessage * kMaxElementBytes);
    CHECK(w.largest_elements_nest < 0xffff);
  }
  // The second batch's numbers start after the first's: no answer of one is taken for the other.
  CHECK(walk(batches[1]).first_seq > walk(batches[0]).last_seq);
}

TEST_CASE("many segments: @segments' names in messages of kElementsPerMessage, padded to 16") {
  std::vector<std::string> batches;
  KeepingTransport transport(&batches);
  SetLayout segments{.name = "segments", .id = 8, .kind = SetKind::kInterfaceNames};
  for (size_t i = 0; i < kElementsPerMessage + 10; ++i) {
    segments.ifnames.push_back("vlan" + std::to_string(i));
  }
  NftBatch b(1);
  b.addInterfaceNameSet("muzzle", segments);
  REQUIRE(b.commit(transport).ok());
  REQUIRE(batches.size() == 1);
  const Walk w = walk(batches[0]);
  CHECK(w.errors.empty());
  CHECK(w.elements == kElementsPerMessage + 10);
  CHECK(w.element_messages == 2);
  CHECK(interfaceNameKey("vlan7") ==
        std::vector<uint8_t>{'v', 'l', 'a', 'n', '7', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  // The kernel's names end in a NUL within 16 bytes: a longer one is cut, never unterminated.
  CHECK(interfaceNameKey("a-name-of-20-bytes!!") ==
        std::vector<uint8_t>{'a', '-', 'n', 'a', 'm', 'e', '-', 'o', 'f', '-', '2', '0', '-', 'b',
                             'y', 0});
}

TEST_CASE("a batch past its limit is refused whole, names what did not fit, and is not sent") {
  std::vector<std::string> batches;
  KeepingTransport transport(&batches);
  // 40,000 names in messages of kElementsPerMessage (~28 KiB each) pass 1 MiB.
  SetLayout segments{.name = "segments", .id = 8, .kind = SetKind::kInterfaceNames};
  for (size_t i = 0; i < 40'000; ++i) segments.ifnames.push_back("vlan" + std::to_string(i));
  NftBatch b(1, size_t{1} << 20);
  b.addTable("muzzle");
  b.addInterfaceNameSet("muzzle", segments);
  b.addTable("after");
  const Status s = b.commit(transport);
  CHECK(batches.empty());
  CHECK(s.message().find("does not fit in one transaction of 1 MiB: add elements to set segments "
                         "(") != std::string::npos);
  CHECK(s.message().find("of 40000) is past it") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

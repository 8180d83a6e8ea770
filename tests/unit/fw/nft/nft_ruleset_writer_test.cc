// NftRulesetWriter against a scripted NetlinkTransport: what it sends when, and how a kernel
// refusal is reported. The bytes themselves are checked in ruleset_golden_test.cc.
#include <doctest/doctest.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Counts the batches; refuses the `refuse_at`-th message that asked for an answer (0: none), or
// fails outright when `broken`.
class ScriptedTransport : public NetlinkTransport {
 public:
  struct Script {
    size_t batches = 0;
    size_t refuse_at = 0;
    int error = EOPNOTSUPP;
    bool broken = false;
    std::vector<size_t> acked;                 // per batch
    std::vector<std::vector<uint16_t>> types;  // per batch, each message's nf_tables type
  };
  explicit ScriptedTransport(Script* script) : script_(script) {}
  Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch,
                                                 size_t acked) override {
    ++script_->batches;
    script_->acked.push_back(acked);
    std::vector<uint16_t>& types = script_->types.emplace_back();
    for (size_t at = 0; at + sizeof(nlmsghdr) <= batch.size();) {
      const auto* m = reinterpret_cast<const nlmsghdr*>(batch.data() + at);
      if (m->nlmsg_len < sizeof(nlmsghdr)) break;
      types.push_back(NFNL_MSG_TYPE(m->nlmsg_type));
      at += NLMSG_ALIGN(m->nlmsg_len);
    }
    if (script_->broken) return Status::error("nftables: cannot open netlink socket: denied");
    if (script_->refuse_at == 0) return std::optional<NetlinkRefusal>();
    // The first message is the batch-begin: its sequence number + n is the n-th message.
    const auto* begin = reinterpret_cast<const nlmsghdr*>(batch.data());
    return std::optional<NetlinkRefusal>(NetlinkRefusal{
        static_cast<uint32_t>(begin->nlmsg_seq + script_->refuse_at), script_->error});
  }
  Result<std::vector<char>> dump(std::span<const char>, size_t) override {
    return Status::error("ScriptedTransport: no dumps in this test");
  }

 private:
  Script* script_;
};

RulesetSpec spec() {
  RulesetSpec s;
  s.generation = 3;
  s.segment_ifnames = {"br-cam"};
  return s;
}

TEST_CASE("a refused message is named in the error: which rule of which chain, and why") {
  ScriptedTransport::Script script;
  auto writer = makeNftRulesetWriter(std::make_unique<ScriptedTransport>(&script));
  // Messages: 3 table messages, @segments and its element, 14 chains, then the rules: deny 2 is
  // the 21st.
  script.refuse_at = 21;
  const Status s = writer->install(spec());
  CHECK(s.message() ==
        "installing table inet muzzle: nftables rejected the ruleset at deny rule 2 (TCP reset): " +
            std::string(std::strerror(EOPNOTSUPP)));
}

TEST_CASE("a policy change rewrites in place only after a whole table went in") {
  ScriptedTransport::Script script;
  auto writer = makeNftRulesetWriter(std::make_unique<ScriptedTransport>(&script));
  script.refuse_at = 1;
  CHECK(!writer->install(spec()).ok());
  script.refuse_at = 0;
  RulesetSpec next = spec();
  next.generation = 4;
  REQUIRE(writer->install(next).ok());  // the failed table is not taken as installed
  next.generation = 5;
  REQUIRE(writer->install(next).ok());
  REQUIRE(script.acked.size() == 3);
  CHECK(script.acked[1] == script.acked[0]);  // both replaced the whole table
  CHECK(script.acked[2] < script.acked[1]);   // the update rewrites only what names the policy
  // ... and creates or deletes no chain: a base chain deleted and created again unregisters its
  // hook, and the kernel drops the packets waiting in the queues. Its rules (the conntrack mark's
  // map names the generation) are flushed and added again in the same transaction instead.
  const std::vector<uint16_t>& update = script.types[2];
  CHECK(std::count(update.begin(), update.end(), NFT_MSG_NEWCHAIN) == 0);
  CHECK(std::count(update.begin(), update.end(), NFT_MSG_DELCHAIN) == 0);
  CHECK(std::count(update.begin(), update.end(), NFT_MSG_DELRULE) > 0);  // the flushes
  // No set is flushed or refilled (the DoH list is decide()'s): the only sets made are the
  // anonymous verdict maps of the rules rewritten, `forward`'s, `input`'s and `judge`'s.
  CHECK(std::count(update.begin(), update.end(), NFT_MSG_DELSETELEM) == 0);
  CHECK(std::count(update.begin(), update.end(), NFT_MSG_NEWSET) == 3);
  const RulesetSpec out_of_range = [&] {
    RulesetSpec s = next;
    s.generation = 0;
    return s;
  }();
  CHECK(writer->install(out_of_range).message().find("out of range") != std::string::npos);
  CHECK(script.batches == 3);  // refused before anything is sent
}

TEST_CASE(
    "the probe: native when the kernel takes the queue expression, compat when it refuses it") {
  ScriptedTransport::Script script;
  auto writer = makeNftRulesetWriter(std::make_unique<ScriptedTransport>(&script));
  auto mode = writer->probeQueueMode();
  REQUIRE(mode.ok());
  CHECK(*mode == QueueMode::kNative);
  script.refuse_at = 3;  // table, chain, rule
  mode = writer->probeQueueMode();
  REQUIRE(mode.ok());
  CHECK(*mode == QueueMode::kCompat);
  script.broken = true;
  mode = writer->probeQueueMode();
  CHECK(!mode.ok());
  CHECK(mode.status().message().find("cannot open netlink socket") != std::string::npos);
}

TEST_CASE("the label probe: yes when the kernel takes `ct label set`, no when it refuses it") {
  ScriptedTransport::Script script;
  auto writer = makeNftRulesetWriter(std::make_unique<ScriptedTransport>(&script));
  auto labels = writer->probeConnectionLabels();
  REQUIRE(labels.ok());
  CHECK(*labels);
  script.refuse_at = 3;  // table, chain, rule: a kernel without CONFIG_NF_CONNTRACK_LABELS
  labels = writer->probeConnectionLabels();
  REQUIRE(labels.ok());
  CHECK_FALSE(*labels);
  script.refuse_at = 1;  // the table itself refused: not about labels, an error
  labels = writer->probeConnectionLabels();
  CHECK(!labels.ok());
  script.refuse_at = 0;
  script.broken = true;
  labels = writer->probeConnectionLabels();
  CHECK(!labels.ok());
  CHECK(labels.status().message().find("cannot open netlink socket") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

// NftRulesetWriter: installs the layout of table `inet muzzle` (ruleset_layout.h) as one
// nftables transaction (nft_batch.h) through a NetlinkTransport (netlink_transport.h). It keeps
// what it installed last, so that a policy change rewrites only the chains that depend on the
// policy, and so that it knows whether there is a flood guard (or connection limit) whose
// counts to read (flood_dump.h). It also holds the conntrack counter that accounting reads
// (conntrack_counts.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fw/nft/flood_dump.h"
#include "fw/nft/marks.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/nft_batch.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {
namespace {

constexpr const char* kProbeTable = "muzzle-probe";
// Sequence numbers advance by this much per batch (or past a longer batch's last message), so no
// answer of one batch is mistaken for one of the next.
constexpr uint32_t kSeqPerBatch = 1000;

class NftRulesetWriter : public RulesetWriter {
 public:
  explicit NftRulesetWriter(std::unique_ptr<NetlinkTransport> transport)
      : transport_(std::move(transport)) {}

  Result<QueueMode> probeQueueMode() override {
    // Build a throw-away table holding one native queue rule and delete it in the same
    // transaction: the kernel validates the expression, and nothing is left behind.
    NftBatch b(nextSeq());
    b.addTable(kProbeTable);
    b.addChain(kProbeTable, {"probe", std::nullopt, false});
    const RulesetSpec defaults;
    b.addRule(kProbeTable, {"probe",
                            "probe rule (native queue expression)",
                            {nftx::Queue{defaults.queue_first, 1, false, QueueMode::kNative}}});
    b.deleteTable(kProbeTable);
    Status s = commit(b);
    if (s.ok()) return QueueMode::kNative;
    if (s.message().find("queue expression") != std::string::npos) return QueueMode::kCompat;
    return s;  // not about the queue at all: no netfilter, no permission
  }

  Result<bool> probeConnectionLabels() override {
    // As probeQueueMode(): a throw-away table with the label's rule, deleted in the same
    // transaction. A kernel built without conntrack labels refuses the expression (EOPNOTSUPP).
    NftBatch b(nextSeq());
    b.addTable(kProbeTable);
    b.addChain(kProbeTable, {"probe", std::nullopt, false});
    b.addRule(kProbeTable, {"probe", "probe rule (conntrack label)", {nftx::CtLabelSourceMac{}}});
    b.deleteTable(kProbeTable);
    Status s = commit(b);
    if (s.ok()) return true;
    if (s.message().find("conntrack label") != std::string::npos) return false;
    return s;  // not about the label at all: no netfilter, no permission
  }

  Status install(const RulesetSpec& spec) override {
    if (spec.generation == 0 || spec.generation > kMaxGeneration) {
      return Status::error("nftables: policy generation " + std::to_string(spec.generation) +
                           " is out of range");
    }
    const RulesetLayout layout = rulesetLayout(spec);
    Status s =
        installed_ && keepsTable(*installed_, spec) ? updatePolicy(layout) : replaceTable(layout);
    if (s.ok()) installed_ = spec;
    return s;
  }

  Status startAccounting() override {
    if (counter_) return Status();
    auto counter = openConntrackCounter();
    if (!counter.ok()) return counter.status().withContext("accounting: ");
    counter_ = std::move(*counter);
    return Status();
  }

  // Before startAccounting() worked: starts it now (what failed at start may have been passing),
  // and while it fails, says why on every read, so the status keeps showing it.
  Result<std::vector<FlowGroupCount>> readAccounting() override {
    if (!counter_) {
      if (Status s = startAccounting(); !s.ok()) return s;
      return std::vector<FlowGroupCount>{};  // the start's baseline: nothing counted yet
    }
    return counter_->read();
  }

  LiveConnections takeLiveConnections() override {
    return counter_ ? counter_->takeLive() : LiveConnections{};
  }

  ConntrackCounter::Stats accountingStats() const override {
    return counter_ ? counter_->stats() : ConntrackCounter::Stats{};
  }
  bool udpTimeoutsOutlive(uint32_t interval_seconds) const override {
    return counter_ != nullptr && muzzle::udpTimeoutsOutlive(interval_seconds);
  }

  // One dump of @flood-dropped or @conn-limit-dropped. Asks nothing of the kernel when this
  // writer installed no guard (or limit): the set is not there, and the answer would only say so.
  Result<std::vector<FloodDropCount>> readFloodDrops(DeviceDropCause cause) override {
    std::vector<FloodDropCount> drops;
    const bool guard = cause == DeviceDropCause::kFloodGuard;
    if (!installed_ || (guard ? installed_->flood_rate : installed_->conn_limit) == 0) return drops;
    const std::string set = guard ? kFloodDroppedSet : kConnLimitDroppedSet;
    if (Status s = dumpDrops(set, kFloodSetSize, parseFloodDump, &drops); !s.ok()) return s;
    return drops;
  }

  // One dump of @segment-dropped, likewise only while this writer installed the segment guard.
  Result<std::vector<SegmentDropCount>> readSegmentDrops() override {
    std::vector<SegmentDropCount> drops;
    if (!installed_ || installed_->segment_rate == 0) return drops;
    if (Status s = dumpDrops(kSegmentDroppedSet, kSegmentSetSize, parseSegmentDump, &drops);
        !s.ok()) {
      return s;
    }
    return drops;
  }

  // One dump of a guard's counting set (`max_elements` at most), its elements parsed by `parse`
  // (flood_dump.h) into `*drops`.
  template <typename Count>
  Status dumpDrops(const std::string& set, uint32_t max_elements,
                   Status (*parse)(std::span<const char>, const std::string&, size_t,
                                   std::vector<Count>*),
                   std::vector<Count>* drops) {
    const std::vector<char> request = floodDumpRequest(kRulesetTable, set, nextSeq());
    auto answer = transport_->dump(request, floodDumpBytes(max_elements));
    if (!answer.ok()) return answer.status().withContext("reading set " + set + ": ");
    return parse(*answer, set, max_elements, drops);
  }

  Status remove() override {
    installed_.reset();
    NftBatch b(nextSeq());
    b.addTable(kRulesetTable);  // so that deleting it succeeds whether or not it exists
    b.deleteTable(kRulesetTable);
    return commit(b).withContext("removing table inet muzzle: ");
  }

 private:
  // Whether `next` keeps every base chain of `current` as it is, and the sets that only a new
  // table changes. The segments no longer change a rule, only the elements of @segments; a change
  // of them still replaces the whole table, set and all, as install() promises. A running muzzled never changes its segments (a new
  // setup is a new enforcing phase, whose writer installs from scratch), so refilling @segments
  // in place would serve no one today.
  static bool keepsTable(const RulesetSpec& current, const RulesetSpec& next) {
    return current.segment_ifnames == next.segment_ifnames &&
           current.queue_first == next.queue_first && current.queue_count == next.queue_count &&
           current.fail_open == next.fail_open && current.queue_mode == next.queue_mode &&
           current.flood_rate == next.flood_rate && current.flood_burst == next.flood_burst &&
           current.conn_limit == next.conn_limit && current.segment_rate == next.segment_rate &&
           current.segment_burst == next.segment_burst;
  }

  // A new generation on a table this writer installed: rewrite the per-policy chains' rules in one
  // transaction, leaving the base chains registered. Re-creating a base chain unregisters its
  // hook, and the kernel then drops every packet waiting in our queues. No set is touched:
  // @segments is the same on this path (keepsTable), and the device meters keep what they hold.
  // A policy change that changes nothing but the DoH list (decide()'s, in user space) is this same
  // transaction, for the generation.
  Status updatePolicy(const RulesetLayout& layout) {
    NftBatch b(nextSeq());
    auto per_policy = [&](const std::string& chain) {
      for (const ChainLayout& c : layout.chains) {
        if (c.name == chain) return c.per_policy;
      }
      return false;
    };
    for (const ChainLayout& c : layout.chains) {
      if (c.per_policy) b.flushChain(layout.table, c.name);
    }
    for (const RuleLayout& r : layout.rules) {
      if (per_policy(r.chain)) b.addRule(layout.table, r);
    }
    return commit(b).withContext("updating table inet muzzle: ");
  }

  Status replaceTable(const RulesetLayout& layout) {
    NftBatch b(nextSeq());
    // add + delete + add: replaces the table whether or not it existed, in one transaction.
    b.addTable(layout.table);
    b.deleteTable(layout.table);
    b.addTable(layout.table);
    // Sets before the rules that look them up, chains before the rules that jump to them.
    for (const SetLayout& s : layout.sets) {
      switch (s.kind) {
        case SetKind::kInterfaceNames:
          b.addInterfaceNameSet(layout.table, s);
          break;
        case SetKind::kDeviceMeter:
        case SetKind::kInterfaceMeter:
          b.addMeterSet(layout.table, s);
          break;
      }
    }
    for (const ChainLayout& c : layout.chains) b.addChain(layout.table, c);
    for (const RuleLayout& r : layout.rules) b.addRule(layout.table, r);
    return commit(b).withContext("installing table inet muzzle: ");
  }

  Status commit(NftBatch& b) {
    Status s = b.commit(*transport_);
    seq_ = std::max(seq_, b.endSeq());
    return s;
  }

  uint32_t nextSeq() {
    const uint32_t seq = seq_;
    seq_ += kSeqPerBatch;
    return seq;
  }

  std::unique_ptr<NetlinkTransport> transport_;
  uint32_t seq_ = 1;
  std::optional<RulesetSpec> installed_;  // what this writer last put in the kernel
  std::unique_ptr<ConntrackCounter> counter_;  // from startAccounting() on
};

}  // namespace

std::unique_ptr<RulesetWriter> makeNftRulesetWriter(std::unique_ptr<NetlinkTransport> transport) {
  return std::make_unique<NftRulesetWriter>(std::move(transport));
}

std::unique_ptr<RulesetWriter> makeNftRulesetWriter() {
  return makeNftRulesetWriter(makeMnlTransport());
}

}  // namespace muzzle

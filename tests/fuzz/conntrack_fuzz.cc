// libFuzzer target for conntrack's answers: a receive buffer of netlink messages (a datagram of a
// dump, or DESTROY events) -> parseConntrackMessages -> FlowCountTotals, as
// openConntrackCounter's read() and event thread run them. The same bytes are parsed again cut
// short (the last byte says where), as a datagram cut by its receive slot leaves them.
// Oracle: the sanitizers on our code (libmnl is not instrumented), and: a refusal names the
// conntrack answer; parsed as a dump's with live devices (the connection limit's recount), no more
// devices than entries, no more counts than without them, and every device counted once; every
// count kept is of an address pair of one family and counted something;
// no more counts and uncounted entries than entries; FlowCountTotals (bound 8: 6 pairs, 2 ends)
// gives exactly the groups, sums and lost bytes of a plain model of its contract. The counts
// then drive ConnectionGrowth (bound 2) as dump entries and events, in dumps begun, ended and
// aborted as the ids say: a growth is of the same connection, never more than the counts fed in
// any counter, never all zero, and no more connections are tracked than the bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "fw/nft/conntrack_wire.h"
#include "tests/fuzz/netlink_input.h"

namespace {

constexpr size_t kMaxGroups = 8;   // small, so the bound is met
constexpr size_t kMaxTracked = 2;  // ConnectionGrowth's, small too

void checkGrowth(const muzzle::FlowCount& fed, const std::optional<muzzle::FlowCount>& g) {
  if (!g) return;
  if (g->id != fed.id || g->mark != fed.mark || !(g->source == fed.source) ||
      !(g->destination == fed.destination)) {
    std::abort();
  }
  if (g->orig_bytes > fed.orig_bytes || g->orig_packets > fed.orig_packets ||
      g->reply_bytes > fed.reply_bytes || g->reply_packets > fed.reply_packets) {
    std::abort();
  }
  if (g->orig_bytes == 0 && g->orig_packets == 0 && g->reply_bytes == 0 && g->reply_packets == 0) {
    std::abort();
  }
}

// Each count as a dump entry or an event; dumps begun, ended or aborted between them.
void driveGrowth(const std::vector<muzzle::FlowCount>& counts) {
  muzzle::ConnectionGrowth growth(kMaxTracked);
  bool dumping = false;
  for (size_t i = 0; i < counts.size(); ++i) {
    const muzzle::FlowCount& c = counts[i];
    switch ((c.id ^ static_cast<uint32_t>(i)) % 5) {
      case 0:
      case 1:
        if (!dumping) growth.beginDump();
        dumping = true;
        checkGrowth(c, growth.dumped(c));
        break;
      case 2:
        checkGrowth(c, growth.ended(c));
        break;
      case 3:
        if (dumping) growth.endDump();
        dumping = false;
        checkGrowth(c, growth.ended(c));
        break;
      default:
        if (dumping) growth.abortDump();
        dumping = false;
        break;
    }
    if (growth.tracked() > kMaxTracked) std::abort();
  }
  if (dumping) growth.endDump();
}

// FlowCountTotals as its contract says it, in the plainest way: the oracle for the real one.
// Three quarters of the bound are pairs, a quarter ends (kMaxGroups 8: 6 and 2).
struct ModelKey {
  muzzle::IpAddress source;
  muzzle::IpAddress destination;
  uint32_t traffic_class;
  bool judged;
  muzzle::FlowGroupCount::Ends ends;
  auto operator<=>(const ModelKey&) const = default;
};
struct ModelSums {
  uint64_t orig_bytes = 0, orig_packets = 0, reply_bytes = 0, reply_packets = 0;
};

void check(const std::vector<char>& buf) {
  std::vector<muzzle::FlowCount> counts;
  muzzle::ConntrackParseStats stats;
  const muzzle::Status status = muzzle::parseConntrackMessages(buf, &counts, &stats);
  if (!status.ok() && status.message().rfind("conntrack answer: ", 0) != 0) std::abort();
  if (counts.size() + stats.uncounted > stats.entries) std::abort();
  // The same bytes as a dump's, with the connection limit's live devices: at most one a
  // connection entry, counted by device into as many connections; the counts read alike unless
  // an entry's TCP state or labels are garbled, which refuses it (and the rest) only there.
  {
    std::vector<muzzle::FlowCount> dumped;
    std::vector<muzzle::MacAddress> live;
    muzzle::ConntrackParseStats dump_stats;
    const muzzle::Status s =
        muzzle::parseConntrackMessages(buf, &dumped, &dump_stats, nullptr, &live);
    if (!s.ok() && s.message().rfind("conntrack answer: ", 0) != 0) std::abort();
    if (live.size() > dump_stats.entries || dumped.size() > counts.size()) std::abort();
    if (s.ok() && status.ok() && dumped.size() != counts.size()) std::abort();
    const muzzle::LiveConnections by = muzzle::countByDevice(live, true);
    size_t sum = 0;
    for (const muzzle::DeviceConnections& c : by.by_device) sum += c.connections;
    if (sum != live.size()) std::abort();
  }
  driveGrowth(counts);

  using Ends = muzzle::FlowGroupCount::Ends;
  muzzle::FlowCountTotals totals(kMaxGroups);
  std::map<ModelKey, ModelSums> model;
  size_t model_pairs = 0;
  uint64_t model_lost = 0;
  // The sums of `key`, made when its kind has room; null when not.
  auto sumsFor = [&](const ModelKey& key) -> ModelSums* {
    auto it = model.find(key);
    if (it != model.end()) return &it->second;
    const bool pair = key.ends == Ends::kBoth;
    if (pair ? model_pairs >= kMaxGroups - kMaxGroups / 4
             : model.size() - model_pairs >= kMaxGroups / 4) {
      return nullptr;
    }
    if (pair) ++model_pairs;
    return &model.emplace(key, ModelSums{}).first->second;
  };
  for (const muzzle::FlowCount& c : counts) {
    if (c.source.v6 != c.destination.v6) std::abort();
    if (c.orig_bytes == 0 && c.orig_packets == 0 && c.reply_bytes == 0 && c.reply_packets == 0) {
      std::abort();
    }
    totals.add(c);
    if (totals.groups() > kMaxGroups) std::abort();
    if ((c.mark & 0x3) >= 2) continue;  // a refused connection's
    const uint32_t traffic_class = (c.mark >> 2) & 63;
    const bool judged = (c.mark >> 8) != 0;
    std::vector<ModelSums*> into;
    if (ModelSums* pair = sumsFor({c.source, c.destination, traffic_class, judged, Ends::kBoth})) {
      into.push_back(pair);
    } else {
      ModelSums* from = sumsFor({c.source, {}, traffic_class, judged, Ends::kSource});
      ModelSums* to = sumsFor({{}, c.destination, traffic_class, judged, Ends::kDestination});
      if (from != nullptr) into.push_back(from);
      if (to != nullptr) into.push_back(to);
      if (from == nullptr || to == nullptr) model_lost += c.orig_bytes + c.reply_bytes;
    }
    for (ModelSums* m : into) {
      m->orig_bytes += c.orig_bytes;
      m->orig_packets += c.orig_packets;
      m->reply_bytes += c.reply_bytes;
      m->reply_packets += c.reply_packets;
    }
  }
  if (totals.lostBytes() != model_lost) std::abort();
  const std::vector<muzzle::FlowGroupCount> groups = totals.take();
  if (groups.size() != model.size() || totals.groups() != 0) std::abort();
  for (const muzzle::FlowGroupCount& g : groups) {
    auto it = model.find({g.source, g.destination, g.traffic_class, g.judged, g.ends});
    if (it == model.end() || it->second.orig_bytes != g.orig_bytes ||
        it->second.orig_packets != g.orig_packets || it->second.reply_bytes != g.reply_bytes ||
        it->second.reply_packets != g.reply_packets) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  muzzle::fuzz::checkWholeAndCut(data, size, check);
  return 0;
}

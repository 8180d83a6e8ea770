// What each connection counted, and the sums by device pair: see flow_counts.h.
#include "fw/nft/flow_counts.h"

#include <algorithm>

#include "fw/common/keyed_hash.h"
#include "fw/nft/marks.h"

namespace muzzle {

void FlowCountTotals::add(const FlowCount& count) {
  if (count.countsNothing()) return;
  const auto code = static_cast<VerdictCode>(count.mark & kVerdictCodeBits);
  if (code == VerdictCode::kReject || code == VerdictCode::kDrop) return;
  using Ends = FlowGroupCount::Ends;
  const auto traffic_class = static_cast<uint8_t>(trafficClassOf(count.mark));
  const bool judged = (count.mark >> 8) != 0;
  auto sum = [&](FlowGroupCount& g) {
    g.orig_bytes += count.orig_bytes;
    g.orig_packets += count.orig_packets;
    g.reply_bytes += count.reply_bytes;
    g.reply_packets += count.reply_packets;
  };
  if (FlowGroupCount* pair =
          groupFor(Key{count.source, count.destination, traffic_class, judged, Ends::kBoth})) {
    sum(*pair);
    return;
  }
  FlowGroupCount* from = groupFor(Key{count.source, {}, traffic_class, judged, Ends::kSource});
  FlowGroupCount* to =
      groupFor(Key{{}, count.destination, traffic_class, judged, Ends::kDestination});
  if (from != nullptr) sum(*from);
  if (to != nullptr) sum(*to);
  if (from == nullptr || to == nullptr) lost_bytes_ += count.orig_bytes + count.reply_bytes;
}

FlowGroupCount* FlowCountTotals::groupFor(const Key& key) {
  const uint32_t tag = tagOf(key);
  const uint32_t found = index_.find(tag, [&](uint32_t i) {
    const FlowGroupCount& g = groups_[i];
    return g.source == key.source && g.destination == key.destination &&
           g.traffic_class == key.traffic_class && g.judged == key.judged && g.ends == key.ends;
  });
  if (found != FlatIndex::kNone) return &groups_[found];
  const bool pair = key.ends == FlowGroupCount::Ends::kBoth;
  if (pair ? pairs_ >= max_pairs_ : groups_.size() - pairs_ >= max_ends_) return nullptr;
  if (pair) ++pairs_;
  FlowGroupCount& group = groups_.emplace_back();
  group.source = key.source;
  group.destination = key.destination;
  group.traffic_class = key.traffic_class;
  group.judged = key.judged;
  group.ends = key.ends;
  index_.insert(tag, static_cast<uint32_t>(groups_.size() - 1));
  return &group;
}

namespace {
namespace flows {

// `now` minus the last counts seen; `now` whole when a counter went down (the id was reused by a
// new connection). nullopt when nothing grew.
template <typename Last>
std::optional<FlowCount> grownSince(const Last& last, const FlowCount& now) {
  FlowCount growth = now;
  if (now.orig_bytes >= last.orig_bytes && now.orig_packets >= last.orig_packets &&
      now.reply_bytes >= last.reply_bytes && now.reply_packets >= last.reply_packets) {
    growth.orig_bytes -= last.orig_bytes;
    growth.orig_packets -= last.orig_packets;
    growth.reply_bytes -= last.reply_bytes;
    growth.reply_packets -= last.reply_packets;
  }
  if (growth.countsNothing()) return std::nullopt;
  return growth;
}

std::optional<FlowCount> whole(const FlowCount& c) {
  if (c.countsNothing()) return std::nullopt;
  return c;
}

}  // namespace flows
}  // namespace

void ConnectionGrowth::beginDump() {
  ++dump_number_;
  dumping_ = true;
}

uint32_t ConnectionGrowth::tagOf(uint32_t id) {
  return static_cast<uint32_t>(keyedHash(uint64_t{id}));
}

uint32_t ConnectionGrowth::find(uint32_t id, uint32_t tag) const {
  return index_.find(tag, [&](uint32_t i) { return tracked_[i].id == id; });
}

void ConnectionGrowth::untrack(uint32_t i) {
  index_.erase(tracked_[i].tag, i);
  const auto last = static_cast<uint32_t>(tracked_.size() - 1);
  if (i != last) {
    tracked_[i] = tracked_[last];
    index_.renumber(tracked_[i].tag, last, i);
  }
  tracked_.pop_back();
}

std::optional<FlowCount> ConnectionGrowth::dumped(const FlowCount& cumulative) {
  if (ended_.contains(cumulative.id)) return std::nullopt;  // its event counted it this dump
  const Last seen{cumulative.orig_bytes,  cumulative.orig_packets,
                  cumulative.reply_bytes, cumulative.reply_packets,
                  dump_number_,           cumulative.id,
                  tagOf(cumulative.id)};
  const uint32_t i = find(seen.id, seen.tag);
  if (i == FlatIndex::kNone) {
    if (tracked_.size() >= max_tracked_) {
      ++untracked_;  // counted whole by its event
      return std::nullopt;
    }
    tracked_.push_back(seen);
    index_.insert(seen.tag, static_cast<uint32_t>(tracked_.size() - 1));
    return flows::whole(cumulative);  // never counted before
  }
  std::optional<FlowCount> growth = flows::grownSince(tracked_[i], cumulative);
  tracked_[i] = seen;
  return growth;
}

std::optional<FlowCount> ConnectionGrowth::ended(const FlowCount& final_counts) {
  if (ended_.contains(final_counts.id)) return std::nullopt;  // a second event of the id
  // During a dump, the entry of this connection may be in a datagram not parsed yet: its counts
  // are in `final_counts`, and the dump must not count them again.
  if (dumping_) ended_.insert(final_counts.id);
  const uint32_t i = find(final_counts.id, tagOf(final_counts.id));
  if (i == FlatIndex::kNone) return flows::whole(final_counts);
  std::optional<FlowCount> growth = flows::grownSince(tracked_[i], final_counts);
  untrack(i);
  return growth;
}

void ConnectionGrowth::endDump() {
  dumping_ = false;
  ended_.clear();
  // Forgotten: the ids seen by neither of the last two complete dumps (this one and the one
  // before). Not after one: a connection that ended just before this dump may have its event
  // still queued, and must stay tracked until it is read, or it would be counted whole again.
  const uint64_t keep_from = last_complete_;
  last_complete_ = dump_number_;
  const size_t swept =
      std::erase_if(tracked_, [&](const Last& last) { return last.seen_dump < keep_from; });
  if (swept == 0) return;
  swept_ += swept;
  // The survivors moved: the index is made again, once a dump (every 10 s), in one pass.
  index_.clear();
  for (uint32_t i = 0; i < tracked_.size(); ++i) index_.insert(tracked_[i].tag, i);
}

void ConnectionGrowth::abortDump() {
  // No sweep: a failed dump did not reach every entry, and a connection it missed is still
  // alive; and it does not count as one of the two dumps a connection must be missing from
  // (endDump looks at complete dumps only), so an event still queued keeps its tracking.
  dumping_ = false;
  ended_.clear();
}

std::vector<FlowGroupCount> FlowCountTotals::take() {
  std::vector<FlowGroupCount> out;
  out.swap(groups_);
  index_.clear();
  pairs_ = 0;
  return out;
}

uint32_t FlowCountTotals::tagOf(const Key& k) {
  const uint64_t extra =
      uint64_t{k.traffic_class} << 3 | static_cast<uint64_t>(k.ends) << 1 | (k.judged ? 1 : 0);
  const uint64_t a = keyedHash(k.source, extra);
  const uint64_t b = keyedHash(k.destination, extra);
  // Not symmetric: (a, b) and (b, a) are different groups and should land apart.
  return static_cast<uint32_t>(a ^ (b * 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2)));
}

LiveConnections countByDevice(std::vector<MacAddress> devices, bool complete) {
  std::sort(devices.begin(), devices.end());
  LiveConnections live;
  live.complete = complete;
  for (const MacAddress device : devices) {
    if (live.by_device.empty() || !(live.by_device.back().device == device)) {
      live.by_device.push_back({device, 0});
    }
    ++live.by_device.back().connections;
  }
  return live;
}

bool udpEndsByDumpNext(bool by_dump_now, bool timeouts_outlive, bool dump_skipped, size_t tracked,
                       size_t max_tracked) {
  if (!timeouts_outlive || dump_skipped) return false;
  return by_dump_now || tracked < max_tracked / 2;
}

}  // namespace muzzle

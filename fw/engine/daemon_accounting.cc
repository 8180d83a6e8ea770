// Per-device accounting, the engine's half: conntrack counts each allowed connection (fw/nft:
// conntrack_counts.h); here, every accounting interval, what the connections counted since the
// last read is read on the engine thread (a netlink dump, never under the judge's lock) and added
// to the devices at either end of each, then to the volume limits' windows
// (fw/engine/volume_limits.h). The same read recounts the connection limit: the dump's live
// connections, by the device each one's label names, become the Judge's counts
// (fw/device/connection_counts.h), swapped in under the lock, the old ones freed after it.
//
// A read holds up to 65,536 groups (a source, a destination, a class), and the queue threads
// judge under the same lock as the inventory this needs: so the lock is never held for a pass
// over the groups. The distinct addresses at their ends are found outside it; who owns each is
// asked under it, kOwnersPerLock addresses at a time; the groups are summed per device and class
// outside it; and only those sums (one a device and class that grew) are credited under it.
#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "fw/common/keyed_hash.h"
#include "fw/engine/daemon.h"

namespace muzzle {

void Daemon::startAccounting() {
  if (Status s = ruleset_.startAccounting(); !s.ok()) noteAccountingError(s);
}

// Once per outage, not every interval: the status shows the count and the last error.
void Daemon::noteAccountingError(const Status& s) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    first = accounting_counters_.last_error.empty();
    ++accounting_counters_.read_errors;
    accounting_counters_.last_error = s.message();
  }
  if (first) {
    log_.write(LogLine("accounting-error")
                   .add("error", s.message())
                   .add("what_to_do",
                        "device traffic totals stop growing until the read "
                        "works again; see `muzzlectl status`"));
  }
}

namespace {

// Addresses whose owner is asked under one hold of the judge's lock: a hold of ~0.07 ms however
// many addresses a read has (1,024 took 0.21-0.41 ms on the bench's machine; the single pass
// over the bench site's 65,536 groups this replaced held the lock ~8 ms every read).
constexpr size_t kOwnersPerLock = 256;
constexpr uint64_t kNoOwner = ~uint64_t{0};

// What a device grew by in one class since the last read.
struct DeviceGrowth {
  uint64_t up_bytes = 0, up_packets = 0, down_bytes = 0, down_packets = 0;
  void add(uint64_t up_b, uint64_t up_p, uint64_t down_b, uint64_t down_p) {
    up_bytes += up_b;
    up_packets += up_p;
    down_bytes += down_b;
    down_packets += down_p;
  }
};

// The distinct addresses at the groups' ends, sorted: flat arrays, so that a read of 65,536
// groups to as many addresses passes through memory that goes back at once.
std::vector<IpAddress> endsOf(const std::vector<FlowGroupCount>& groups) {
  using Ends = FlowGroupCount::Ends;
  std::vector<IpAddress> addresses;
  addresses.reserve(2 * groups.size());
  for (const FlowGroupCount& g : groups) {
    if (g.ends != Ends::kDestination) addresses.push_back(g.source);
    if (g.ends != Ends::kSource) addresses.push_back(g.destination);
  }
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

// Each group to the devices at its ends (`owners[i]` owns `addresses[i]`: a MAC's value, or
// kNoOwner), summed by device and class: the one that opened the connections uploads what went
// in their original direction and downloads the replies, the one they went to the other way
// round; a connection between two devices counts for both, one between two addresses of the
// same device once. A group of one end (the counter's room for pairs was full) goes to that
// end's device alone. Judged bytes no device owns an end of are added to `*unattributed`.
MacMap<DeviceGrowth> sumByDevice(const std::vector<FlowGroupCount>& groups,
                                 const std::vector<IpAddress>& addresses,
                                 const std::vector<uint64_t>& owners, uint64_t* unattributed) {
  using Ends = FlowGroupCount::Ends;
  auto ownerOf = [&](const IpAddress& ip) {
    return owners[std::lower_bound(addresses.begin(), addresses.end(), ip) - addresses.begin()];
  };
  // The key of a device and class: the MAC's 48 bits, then the class.
  auto at = [](uint64_t mac, uint8_t traffic_class) { return mac << 8 | traffic_class; };
  MacMap<DeviceGrowth> grown;
  for (const FlowGroupCount& g : groups) {
    const uint64_t from = g.ends != Ends::kDestination ? ownerOf(g.source) : kNoOwner;
    const uint64_t to = g.ends != Ends::kSource ? ownerOf(g.destination) : kNoOwner;
    if (from == kNoOwner && to == kNoOwner) {
      // Judged connections come from a device; one no device owns now left since. The box's
      // own connections (not judged) to other hosts belong to no device. (A group of one end
      // does not know its other end: its bytes are not called unattributed.)
      if (g.judged && g.ends == Ends::kBoth) *unattributed += g.orig_bytes + g.reply_bytes;
      continue;
    }
    if (from != kNoOwner) {
      grown[at(from, g.traffic_class)].add(g.orig_bytes, g.orig_packets, g.reply_bytes,
                                           g.reply_packets);
    }
    if (to != kNoOwner && to != from) {
      grown[at(to, g.traffic_class)].add(g.reply_bytes, g.reply_packets, g.orig_bytes,
                                         g.orig_packets);
    }
  }
  return grown;
}

// The connection limit's recount: each device's live connections, by the MAC address the table
// put in each connection's label as it opened (never by its source address, which a device may
// change faster than its address bindings keep up: kMaxPerDevice). Built outside the lock.
MacMap<uint32_t> connectionsByDevice(const LiveConnections& live) {
  MacMap<uint32_t> held;
  held.reserve(live.by_device.size());
  for (const DeviceConnections& d : live.by_device) held[d.device.value] = d.connections;
  return held;
}

// Under the judge's lock. Adds each device's and class's growth to its record, in total and in
// the class, and sets every device's rates (those that did not grow: 0). `*rated` holds the
// devices whose rates the read before set (no other's is above 0: rates are never saved): their
// rates are cleared, and it then holds this read's, so the hold of the lock grows with the
// devices that moved traffic, not with the inventory (10,000 records on a large site). A device
// forgotten since its addresses were looked up adds its bytes to `*unattributed`. Returns the
// growth per device and class for the volume limits (only when the policy has limits).
std::vector<VolumeLimits::Growth> creditGrowth(const MacMap<DeviceGrowth>& grown,
                                               DeviceInventory& devices,
                                               const CompiledPolicy& policy, double seconds,
                                               uint64_t* unattributed,
                                               std::vector<MacAddress>* rated) {
  for (const MacAddress mac : *rated) {
    DeviceRecord* d = devices.find(mac);
    if (d == nullptr) continue;
    d->upload.bytes_per_second = 0;
    d->download.bytes_per_second = 0;
    for (ClassTraffic& c : d->by_class) {
      c.upload.bytes_per_second = 0;
      c.download.bytes_per_second = 0;
    }
  }
  rated->clear();
  const bool limits = std::any_of(policy.profiles.begin(), policy.profiles.end(),
                                  [](const CompiledProfile& p) { return !p.limits.empty(); });
  std::unordered_map<std::string_view, int> profile_index;
  if (limits) {
    for (size_t i = 0; i < policy.profiles.size(); ++i) {
      profile_index.emplace(policy.profiles[i].name, static_cast<int>(i));
    }
  }
  std::vector<VolumeLimits::Growth> out;
  auto add = [&](TrafficTotals& t, uint64_t bytes, uint64_t packets) {
    t.bytes += bytes;
    t.packets += packets;
    t.bytes_per_second += static_cast<uint64_t>(static_cast<double>(bytes) / seconds);
  };
  for (const auto& [key, g] : grown) {
    DeviceRecord* d = devices.find(MacAddress{key >> 8});
    if (d == nullptr) {
      *unattributed += g.up_bytes + g.down_bytes;
      continue;
    }
    const auto traffic_class = static_cast<uint8_t>(key & 0xff);
    if (rated->empty() || !(rated->back() == d->mac)) rated->push_back(d->mac);
    add(d->upload, g.up_bytes, g.up_packets);
    add(d->download, g.down_bytes, g.down_packets);
    // A class the policy no longer has (its mark came before a change): named by number.
    const std::string to = traffic_class < policy.traffic_classes.size()
                               ? policy.traffic_classes[traffic_class]
                               : "class-" + std::to_string(traffic_class);
    auto c = std::find_if(d->by_class.begin(), d->by_class.end(),
                          [&](const ClassTraffic& t) { return t.to == to; });
    if (c == d->by_class.end() && d->by_class.size() < DeviceInventory::kMaxTrafficClasses) {
      c = d->by_class.insert(d->by_class.end(), ClassTraffic{to, {}, {}});
    }
    if (c != d->by_class.end()) {
      add(c->upload, g.up_bytes, g.up_packets);
      add(c->download, g.down_bytes, g.down_packets);
    }
    if (!limits) continue;
    const auto profile = profile_index.find(d->profile);
    if (profile == profile_index.end()) continue;
    out.push_back({d->mac, profile->second, traffic_class, g.up_bytes, g.down_bytes});
  }
  return out;
}

}  // namespace

// At start, once the inventory is loaded: the connections each device holds already, from the
// counter's first dump (its baseline), so that a restart does not let a device open its limit's
// worth again on top of what it holds.
void Daemon::countConnectionsAtStart() {
  if (!counts_connections_) return;
  const LiveConnections live = ruleset_.takeLiveConnections();
  if (!live.complete) return;  // accounting did not start: the first read that works counts
  MacMap<uint32_t> held = connectionsByDevice(live);
  std::lock_guard<std::mutex> lock(judge_mu_);
  judge_.connections().beginRecount();
  held = judge_.connections().finishRecount(std::move(held));
}

void Daemon::accountTraffic() {
  if (idle() || config_.accounting_interval_seconds == 0) return;
  const bool recount = counts_connections_;
  if (recount) {
    std::lock_guard<std::mutex> lock(judge_mu_);
    judge_.connections().beginRecount();
  }
  auto counts = ruleset_.readAccounting();
  const auto now = clock_.now();
  LiveConnections live;
  if (counts.ok() && recount) live = ruleset_.takeLiveConnections();
  if (!counts.ok()) {
    if (recount) {
      std::lock_guard<std::mutex> lock(judge_mu_);
      judge_.connections().abandonRecount();
    }
    noteAccountingError(counts.status());
    // While reads fail no dump counts anything: a UDP connection that ends meanwhile is counted
    // only if its destroy event is sent (its growth waits in the counter for the next read that
    // works, which then decides again).
    if (udp_ends_by_dump_) {
      setUdpEndsByDump(false, "accounting reads fail: only a destroy event counts an ended UDP "
                              "connection until one works",
                       ruleset_.accountingStats().tracked);
      rejudgeAll("accounting's UDP events turned on or off");
    }
    return;
  }
  const ConntrackCounter::Stats stats = ruleset_.accountingStats();
  // Rates over the time since the last read (the first read: over one interval).
  const auto since = accounted_at_ == std::chrono::steady_clock::time_point{}
                         ? std::chrono::seconds(config_.accounting_interval_seconds)
                         : now - accounted_at_;
  accounted_at_ = now;
  const double seconds = std::max(1e-3, std::chrono::duration<double>(since).count());

  const std::vector<IpAddress> addresses = endsOf(*counts);
  // Who owns each now, a chunk under each hold of the lock.
  std::vector<uint64_t> owners(addresses.size(), kNoOwner);
  for (size_t first = 0; first < addresses.size(); first += kOwnersPerLock) {
    const size_t last = std::min(addresses.size(), first + kOwnersPerLock);
    std::lock_guard<std::mutex> lock(judge_mu_);
    DeviceInventory& devices = judge_.devices();
    for (size_t i = first; i < last; ++i) {
      if (const DeviceRecord* d = devices.ownerOf(addresses[i])) owners[i] = d->mac.value;
    }
  }
  uint64_t unattributed = 0;
  const MacMap<DeviceGrowth> grown = sumByDevice(*counts, addresses, owners, &unattributed);
  MacMap<uint32_t> held = connectionsByDevice(live);

  std::vector<VolumeLimits::Event> limit_events;
  bool dump_skipped = false;  // the tracker was full: see udpEndsByDumpNext
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    dump_skipped = stats.untracked > accounting_counters_.untracked;
    if (recount) {
      // The replaced counts are freed after the lock is let go (held's destructor).
      if (live.complete) {
        held = judge_.connections().finishRecount(std::move(held));
      } else {
        judge_.connections().abandonRecount();
      }
    }
    const std::shared_ptr<const CompiledPolicy> policy = judge_.policy();
    const std::vector<VolumeLimits::Growth> by_device =
        creditGrowth(grown, judge_.devices(), *policy, seconds, &unattributed, &rated_devices_);
    limit_events = volume_limits_.update(*policy, by_device, now, judge_.activeSchedules());
    if (volume_limits_.blocksChanged()) installVolumeBlocks();
    ++accounting_counters_.reads;
    accounting_counters_.last_error.clear();
    accounting_counters_.groups = counts->size();
    accounting_counters_.unattributed_bytes += unattributed;
    accounting_counters_.events = stats.events;
    accounting_counters_.event_overruns = stats.event_overruns;
    accounting_counters_.event_errors = stats.event_errors;
    accounting_counters_.uncounted = stats.uncounted;
    accounting_counters_.lost_bytes = stats.lost_bytes;
    accounting_counters_.tracked = stats.tracked;
    accounting_counters_.untracked = stats.untracked;
    accounting_counters_.limit_windows = volume_limits_.windows();
  }
  // UDP's timeouts changed, or the tracker filled or emptied: the table's UDP rule must follow.
  // Until this read, what a UDP connection counted after its last dump may be lost when a timeout
  // was shortened below twice the interval, and a connection the full tracker skipped is lost
  // whole (each is counted by Stats::untracked).
  const bool outlive = ruleset_.udpTimeoutsOutlive(config_.accounting_interval_seconds);
  const bool by_dump = udpEndsByDumpNext(udp_ends_by_dump_, outlive, dump_skipped, stats.tracked);
  bool rejudge = reportVolumeLimits(limit_events);
  if (by_dump != udp_ends_by_dump_) {
    setUdpEndsByDump(by_dump,
                     by_dump    ? "UDP's conntrack timeouts outlive twice the interval, and the "
                                  "tracker has room"
                     : !outlive ? "a UDP conntrack timeout is under twice the interval"
                                : "the tracker was full: a connection it skips is counted only "
                                  "by its destroy event",
                     stats.tracked);
    if (!rejudge) rejudgeAll("accounting's UDP events turned on or off");
  }
  if (rejudge) rejudgeAll("a volume limit blocked or released a device");
}

// The next table's UDP rule, and the log line that says why it changed. The caller re-judges
// every connection, so that each gets the new rule's event mask on its next packet.
void Daemon::setUdpEndsByDump(bool by_dump, const char* why, size_t tracked) {
  udp_ends_by_dump_ = by_dump;
  log_.write(LogLine("accounting-udp-events")
                 .add("destroy_events", by_dump ? "off" : "on")
                 .add("why", why)
                 .add("tracked", tracked));
}

// Under judge_mu_: the volume limits' blocks to the Judge, and their count to the status.
void Daemon::installVolumeBlocks() {
  auto blocks = volume_limits_.blocks();
  accounting_counters_.blocked_devices = blocks.size();
  judge_.setVolumeBlocks(std::move(blocks));
}

// Outside the lock: the events; true when blocks changed, so the caller makes a new generation
// (open flows of a blocked device and class are refused on their next packet, released ones pass).
bool Daemon::reportVolumeLimits(const std::vector<VolumeLimits::Event>& events) {
  bool changed = false;
  for (const VolumeLimits::Event& e : events) {
    if (e.kind == VolumeLimits::Event::kExceeded) {
      log_.write(LogLine("volume-exceeded")
                     .add("device", e.device.toString())
                     .add("limit", e.limit)
                     .add("rule", e.source)
                     .add("direction", e.upload ? "upload" : "download")
                     .add("observed", e.observed)
                     .add("action", e.block ? "block" : "alert"));
      changed = changed || e.block;
    } else {
      log_.write(LogLine("volume-released")
                     .add("device", e.device.toString())
                     .add("limit", e.limit)
                     .add("rule", e.source)
                     .add("why", e.why));
      changed = true;
    }
  }
  return changed;
}

Status Daemon::releaseVolumeLimits(MacAddress device) {
  std::vector<VolumeLimits::Event> events;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    events = volume_limits_.release(device);
    if (volume_limits_.blocksChanged()) installVolumeBlocks();
  }
  if (events.empty()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "device " + device.toString() + " is not blocked by a volume limit");
  }
  // Called from a management thread: the new generation is the engine thread's to make.
  if (reportVolumeLimits(events)) post([this] { rejudgeAll("an admin released a device's volume limits"); });
  return Status();
}

}  // namespace muzzle

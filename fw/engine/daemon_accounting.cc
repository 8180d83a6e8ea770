// Per-device accounting, the engine's half: the kernel counts allowed traffic per device address
// and traffic class (fw/nft: the accounting sets); here, every accounting interval, the counts
// are read on the engine thread (a netlink dump, never under the judge's lock), and their growth
// is added to the devices that own the addresses (under the lock, briefly: one pass over the
// grown elements and one over the inventory for the rates), then to the volume limits' windows
// (fw/engine/volume_limits.h).
#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "fw/common/keyed_hash.h"
#include "fw/engine/daemon.h"

namespace muzzle {

void Daemon::accountTraffic() {
  if (idle() || config_.accounting_interval_seconds == 0) return;
  auto counts = ruleset_.readAccounting();
  const auto now = clock_.now();
  if (!counts.ok()) {
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(judge_mu_);
      first = accounting_counters_.last_error.empty();
      ++accounting_counters_.read_errors;
      accounting_counters_.last_error = counts.status().message();
    }
    // Once per outage, not every interval: the status shows the count and the last error.
    if (first) {
      log_.write(LogLine("accounting-error")
                     .add("error", counts.status().message())
                     .add("what_to_do",
                          "device traffic totals stop growing until the read "
                          "works again; see `muzzlectl status`"));
    }
    return;
  }
  const std::vector<TrafficAccounting::Growth> grown = accounting_.update(*counts, now);
  // Rates over the time since the last read (the first read: over one interval).
  const auto since = accounted_at_ == std::chrono::steady_clock::time_point{}
                         ? std::chrono::seconds(config_.accounting_interval_seconds)
                         : now - accounted_at_;
  accounted_at_ = now;
  const double seconds = std::max(1e-3, std::chrono::duration<double>(since).count());
  const std::vector<AccountingCount> idle = accounting_.idle(now, kAccountingIdle);
  std::vector<VolumeLimits::Event> limit_events;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    const std::shared_ptr<const CompiledPolicy> policy = judge_.policy();
    const std::vector<VolumeLimits::Growth> by_device = attributeGrowth(grown, *policy, seconds);
    limit_events = volume_limits_.update(*policy, by_device, now, judge_.activeSchedules());
    if (volume_limits_.blocksChanged()) installVolumeBlocks();
    ++accounting_counters_.reads;
    accounting_counters_.last_error.clear();
    accounting_counters_.elements = accounting_.size();
    accounting_counters_.limit_windows = volume_limits_.windows();
  }
  if (reportVolumeLimits(limit_events)) rejudgeAll("a volume limit blocked or released a device");
  if (idle.empty()) return;
  // Idle for kAccountingIdle: what a packet adds between the read above and this is not counted.
  Status s = ruleset_.forgetAccounting(idle);
  if (s.ok()) accounting_.forget(idle);  // else still in the kernel, and known here: nothing lost
  std::lock_guard<std::mutex> lock(judge_mu_);
  if (s.ok()) {
    accounting_counters_.forgotten += idle.size();
    accounting_counters_.elements = accounting_.size();
  } else {
    ++accounting_counters_.read_errors;
    accounting_counters_.last_error = s.message();
  }
}

// Under judge_mu_. Adds each element's growth to the device owning its address, in total and in
// its traffic class, and returns the growth per device and class for the volume limits (only
// when the policy has limits).
std::vector<VolumeLimits::Growth> Daemon::attributeGrowth(
    const std::vector<TrafficAccounting::Growth>& grown, const CompiledPolicy& policy,
    double seconds) {
  DeviceInventory& devices = judge_.devices();
  devices.forEachMutable([](DeviceRecord& d) {
    d.upload.bytes_per_second = 0;
    d.download.bytes_per_second = 0;
    for (ClassTraffic& c : d.by_class) {
      c.upload.bytes_per_second = 0;
      c.download.bytes_per_second = 0;
    }
  });
  const bool limits = std::any_of(policy.profiles.begin(), policy.profiles.end(),
                                  [](const CompiledProfile& p) { return !p.limits.empty(); });
  std::unordered_map<std::string_view, int> profile_index;
  if (limits) {
    for (size_t i = 0; i < policy.profiles.size(); ++i) {
      profile_index.emplace(policy.profiles[i].name, static_cast<int>(i));
    }
  }
  std::vector<VolumeLimits::Growth> out;
  MacMap<size_t> out_index;  // MAC (48 bits) and class -> index in `out`
  auto add = [&](TrafficTotals& t, const TrafficAccounting::Growth& g) {
    t.bytes += g.bytes;
    t.packets += g.packets;
    t.bytes_per_second += static_cast<uint64_t>(static_cast<double>(g.bytes) / seconds);
  };
  for (const TrafficAccounting::Growth& g : grown) {
    DeviceRecord* d = devices.ownerOf(g.address);
    if (d == nullptr) {
      accounting_counters_.unattributed_bytes += g.bytes;
      continue;
    }
    add(g.upload ? d->upload : d->download, g);
    // A class the policy no longer has (its mark came before a change): named by number.
    const std::string to = g.traffic_class < policy.traffic_classes.size()
                               ? policy.traffic_classes[g.traffic_class]
                               : "class-" + std::to_string(g.traffic_class);
    auto c = std::find_if(d->by_class.begin(), d->by_class.end(),
                          [&](const ClassTraffic& t) { return t.to == to; });
    if (c == d->by_class.end() && d->by_class.size() < DeviceInventory::kMaxTrafficClasses) {
      c = d->by_class.insert(d->by_class.end(), ClassTraffic{to, {}, {}});
    }
    if (c != d->by_class.end()) add(g.upload ? c->upload : c->download, g);
    if (!limits) continue;
    const auto profile = profile_index.find(d->profile);
    if (profile == profile_index.end()) continue;
    const auto [at, added] = out_index.try_emplace(d->mac.value << 8 | g.traffic_class, out.size());
    if (added) out.push_back({d->mac, profile->second, g.traffic_class, 0, 0});
    VolumeLimits::Growth& v = out[at->second];
    (g.upload ? v.upload_bytes : v.download_bytes) += g.bytes;
  }
  return out;
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

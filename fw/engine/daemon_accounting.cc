// Per-device accounting, the engine's half: the kernel counts allowed traffic per device address
// (fw/nft: the accounting sets); here, every accounting interval, the counts are read on the
// engine thread (a netlink dump, never under the judge's lock), and their growth is added to the
// devices that own the addresses (under the lock, briefly: one pass over the grown elements and
// one over the inventory for the rates).
#include <algorithm>

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
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    DeviceInventory& devices = judge_.devices();
    devices.forEachMutable([](DeviceRecord& d) {
      d.upload.bytes_per_second = 0;
      d.download.bytes_per_second = 0;
    });
    for (const TrafficAccounting::Growth& g : grown) {
      DeviceRecord* d = devices.ownerOf(g.address);
      if (d == nullptr) {
        accounting_counters_.unattributed_bytes += g.bytes;
        continue;
      }
      TrafficTotals& t = g.upload ? d->upload : d->download;
      t.bytes += g.bytes;
      t.packets += g.packets;
      t.bytes_per_second += static_cast<uint64_t>(static_cast<double>(g.bytes) / seconds);
    }
    ++accounting_counters_.reads;
    accounting_counters_.last_error.clear();
    accounting_counters_.elements = accounting_.size();
  }
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

}  // namespace muzzle

// EngineControl: what the management plane (mgmt/) may ask of the engine. The Daemon implements
// it; mgmt/ tests use a fake. It is the only way into the engine from another thread: post()
// is thread-safe, compilePolicy() reads nothing of the engine (the management plane's compile
// thread calls it), and everything else runs on the engine thread, inside a posted function, so
// a slow management client never stalls a packet (packets are judged on the queue threads, which
// share only the Judge with the engine thread, under one short lock: see fw/engine/daemon.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/device/device_admission.h"
#include "fw/device/device_record.h"
#include "fw/engine/judge_counters.h"
#include "fw/learn/flow_recorder.h"
#include "fw/nfq/kernel_queue_stats.h"
#include "fw/nfq/packet_queue.h"
#include "fw/nft/conntrack_table.h"
#include "fw/nft/ruleset.h"
#include "fw/policy/compiled_policy.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {

// New-device admission per segment (muzzled.yaml `devices: {new_per_minute, new_burst}`;
// fw/device/device_admission.h), copied out under the Judge's lock.
struct AdmissionCounters {
  uint32_t per_minute = 0;  // 0: off (then `segments` is empty)
  uint32_t burst = 0;
  uint64_t refused = 0;  // first packets of new devices refused since start, all segments
  std::vector<DeviceAdmission::SegmentStatus> segments;  // in the config's order
};

// Per-device accounting (fw/nft/conntrack_counts.h, fw/engine/daemon_accounting.cc), as the
// engine ran it.
struct AccountingCounters {
  bool on = false;
  uint32_t interval_seconds = 0;
  size_t groups = 0;  // source, destination and class groups the last read returned
  uint32_t room = 0;  // the most groups kept between two reads (kMaxFlowGroups)
  uint64_t reads = 0;
  uint64_t read_errors = 0;
  std::string last_error;           // of the last read that failed, "" after one that worked
  uint64_t unattributed_bytes = 0;  // counted for connections no device owned an end of
  // From the conntrack counter (ConntrackCounter::Stats): ended connections' events read, times
  // the kernel dropped some (its queue to muzzled was full: their counts are lost), event
  // messages refused, connections without counters, and bytes of groups beyond `room`.
  uint64_t events = 0;
  uint64_t event_overruns = 0;
  uint64_t event_errors = 0;
  uint64_t uncounted = 0;
  uint64_t lost_bytes = 0;
  // Connections tracked now between reads (kMaxTrackedConnections at most), and dump entries
  // skipped because the room was full: those connections are counted when they end.
  size_t tracked = 0;
  uint64_t untracked = 0;
  size_t limit_windows = 0;    // volume limit windows open (fw/engine/volume_limits.h)
  size_t blocked_devices = 0;  // devices a volume limit blocks now
};

// What the segment guard dropped for one input interface since muzzled started.
struct SegmentGuardTotal {
  // The segment's name in muzzled.yaml, "uplink" for an uplink's interface, "other" for any other
  // (a LAN that is no segment, whose flows to a segment were held).
  std::string segment;
  std::string interface;  // as the kernel names it, escaped (fw/common/excerpt.h)
  uint64_t dropped = 0;
};

// The flood guard, the connection limit and the segment guard (muzzled.yaml `flood_guard`;
// fw/engine/flood_drops.h), as the engine read them from the kernel last.
struct FloodGuardCounters {
  uint32_t rate = 0;  // new flows a second per device; 0: no guard
  uint32_t burst = 0;
  uint64_t dropped = 0;  // new flows dropped since muzzled started
  size_t devices = 0;    // devices the kernel holds a count for (drops in the last two minutes)
  uint32_t connections = 0;   // connections per device; 0: no limit
  uint64_t conn_dropped = 0;  // allowed new flows the limit dropped since muzzled started
  size_t conn_devices = 0;    // devices with such drops in the last two minutes
  // Who counts them: muzzled (DaemonConfig::countsConnections), else the kernel's rule.
  bool conn_counted_by_muzzled = false;
  uint32_t segment_rate = 0;  // new flows a second per segment (input interface); 0: no guard
  uint32_t segment_burst = 0;
  uint64_t segment_dropped = 0;  // new flows the segment guard dropped since muzzled started
  size_t segments = 0;           // interfaces with such drops in the last two minutes
  std::vector<SegmentGuardTotal> segment_totals;  // by interface name; at most kSegmentSetSize
  uint64_t reads = 0;
  uint64_t read_errors = 0;
  std::string last_error;  // of the last read that failed, "" after one that worked
};

struct EngineStatus {
  uint32_t generation = 0;
  QueueMode queue_mode = QueueMode::kCompat;
  FailMode fail_mode = FailMode::kClosed;
  uint16_t queue_first = 0;
  uint16_t queue_count = 0;
  JudgeCounters judge;
  QueueCounters queue;  // summed over the daemon's queues
  // The kernel's own counters for our queues, the flow queues and the inspection queue after
  // them (fw/nfq/kernel_queue_stats.h): packets waiting now, and packets it dropped before
  // muzzled saw them. Empty, with `kernel_error` saying why, when they could not be read; empty
  // and no error when the daemon is idle (no queues).
  std::vector<KernelQueueStats> kernel_queues;
  KernelQueueTotals kernel;  // summed over kernel_queues
  std::string kernel_error;
  // Queue threads seen stalled (fw/engine/queue_liveness.h): times since start, and now. While
  // one is, the watchdog is not pinged and systemd restarts muzzled.
  uint64_t queue_stalls = 0;
  size_t queue_threads_stalled = 0;
  // The kernel's connection table (fw/nft/conntrack_table.h), while the daemon enforces; when it
  // could not be read, `conntrack_error` says why.
  std::optional<ConntrackTableStats> conntrack;
  std::string conntrack_error;
  uint64_t log_suppressed = 0;  // event lines the rate limit suppressed (fw/engine/event_log.h)
  uint64_t events_dropped = 0;  // event lines lost because the delivery buffer was full
  std::string policy_digest;
  size_t devices_known = 0;       // the inventory's size (bounded: fw/device/inventory.h)
  AdmissionCounters admission;    // how fast new devices may enter it
  size_t name_cache_entries = 0;  // (address, name) bindings learned from DNS and held now
  AccountingCounters accounting;
  FloodGuardCounters flood_guard;
};

// A learning session and what it recorded (fw/learn/flow_recorder.h), copied out.
struct LearnReport {
  LearnSession session;
  std::vector<LearnedFlow> flows;  // most recently seen first
};

// What a policy is compiled against; a copy, so a compile on another thread reads nothing the
// engine changes.
struct PolicyContext {
  SiteFacts site;
  PolicyFolders folders;  // where the files a policy names may be read (and nowhere else)
  // The engine's sets of list files (list_cache.h, thread-safe), shared so a compile still
  // running at shutdown keeps it alive; null: every list is parsed.
  std::shared_ptr<ListCache> lists;
};

class EngineControl {
 public:
  virtual ~EngineControl() = default;

  // Any thread. Runs `fn` on the engine thread after the work already queued there. `fn` may
  // never run if the daemon stops first; callers that wait for it must also handle shutdown.
  virtual void post(std::function<void()> fn) = 0;

  // Engine thread. What policy text is compiled against on this box, read now: the segments'
  // facts (interfaces, addresses) and the folder that relative list paths are read from.
  virtual Result<PolicyContext> policyContext() = 0;
  // Any thread, concurrently with the engine thread: compiles `text` against `context` without
  // installing it, reading nothing of the engine (only the list files the policy names). The
  // management plane calls it on its compile thread, so a compile never holds the engine thread
  // (timers, the watchdog, other clients). Errors name `label`, the line and the field, one per
  // line, with code kInvalidArgument; the same errors come structured in diagnostics().
  virtual PolicyCompileResult compilePolicy(
      std::string_view text, std::string_view label, const PolicyContext& context) const = 0;
  // Engine thread: policyContext() and compilePolicy() in one, holding the engine thread for the
  // whole compile. Only for before the engine runs, or where nothing else may run meanwhile
  // (the management plane's boot compiles on its compile thread instead).
  Result<std::shared_ptr<const CompiledPolicy>> checkPolicyText(std::string_view text,
                                                                std::string_view label) {
    auto context = policyContext();
    if (!context.ok()) return context.status();
    return compilePolicy(text, label, *context);
  }

  // The rest: engine thread only.

  // Compiles (on the engine thread) and installs `text` (ruleset first, then the Judge). Returns
  // the policy generation. On failure the running policy stays.
  virtual Result<uint32_t> applyPolicyText(std::string_view text, std::string_view label) = 0;
  // Installs a policy compilePolicy compiled, as applyPolicyText does, without compiling the
  // text again; `compile_time` (what the compile took) goes into the log line.
  virtual Result<uint32_t> applyPolicy(std::shared_ptr<const CompiledPolicy> policy,
                                       std::chrono::steady_clock::duration compile_time) = 0;
  // The installed policy; never null after start.
  virtual std::shared_ptr<const CompiledPolicy> installedPolicy() const = 0;
  virtual EngineStatus engineStatus() const = 0;
  // The device inventory: every device seen on a managed segment, with what is known of it.
  virtual std::vector<DeviceRecord> devicesSeen() const = 0;
  virtual const DaemonConfig& config() const = 0;

  // Learning mode (fw/learn/). Starts or extends a session for `mac` (an event learn-start;
  // saved at once): kInvalidArgument for a bad duration, kResourceExhausted when too many
  // devices learn. Stop: kNotFound when `mac` is not learning. Report: kNotFound when `mac`
  // has no session (active or ended). Engines without learning mode say kUnavailable.
  virtual Status startLearning(MacAddress mac, std::chrono::seconds duration, bool observe);
  virtual Status stopLearning(MacAddress mac);
  virtual Result<LearnReport> learnReport(MacAddress mac) const;
  // Lifts the blocks the device's volume limits put on it (until their windows end, they do
  // not block again); kFailedPrecondition when none blocks it. Any thread.
  virtual Status releaseVolumeLimits(MacAddress device);

  // MUD (RFC 8520): `observer` is called on the engine thread when a device announces a MUD URL
  // (DHCP option 161) it did not have, or a changed one, while the installed policy has
  // `mud.fetch: true`. The management plane installs it (mgmt/server/mud_manager.h) and does the
  // fetching; the engine only reports. Engine thread, or before run(). Engines that do not
  // watch DHCP ignore it.
  using MudUrlObserver = std::function<void(MacAddress mac, std::string url)>;
  virtual void setMudUrlObserver(MudUrlObserver observer) { (void)observer; }
};

inline Status EngineControl::startLearning(MacAddress, std::chrono::seconds, bool) {
  return Status::error(StatusCode::kUnavailable, "this engine has no learning mode");
}
inline Status EngineControl::stopLearning(MacAddress) {
  return Status::error(StatusCode::kUnavailable, "this engine has no learning mode");
}
inline Result<LearnReport> EngineControl::learnReport(MacAddress) const {
  return Status::error(StatusCode::kUnavailable, "this engine has no learning mode");
}
inline Status EngineControl::releaseVolumeLimits(MacAddress) {
  return Status::error(StatusCode::kUnavailable, "this engine has no volume limits");
}

}  // namespace muzzle

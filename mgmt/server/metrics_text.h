// The Prometheus text exposition format (version 0.0.4) of what muzzled already counts: a plain
// snapshot (MetricsSnapshot) and a pure function that renders it (renderMetrics). No counter
// here costs the packet path anything: the snapshot is copied from EngineStatus and the device
// inventory on the engine thread (metricsSnapshotOf), like the gRPC status call does.
//
// Cardinality is bounded: one fixed set of series for the box, and per device six series
// (allowed and denied flows; bytes and packets each way), seven while muzzled counts the
// connection limit (the connections it holds), for at most kMaxDeviceSeries devices,
// the inventory's own bound;
// devices past it are left out and counted (muzzle_device_series_omitted). Label values are
// hostile (a device's name comes from DHCP or the policy): each is cut to kMaxLabelBytes, bytes
// that are not UTF-8 become '?', and backslash, double quote and line feed are escaped as the
// format requires, so a value can never end its label, its line or its series early.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/device/device_record.h"
#include "fw/engine/engine_control.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

inline constexpr size_t kMaxDeviceSeries = 4096;
inline constexpr size_t kMaxLabelBytes = 128;

// One device's series.
struct MetricsDevice {
  std::string mac;
  std::string name;  // the policy's name for it, else its DHCP host name, else ""
  std::string profile;
  std::string segment;
  uint64_t allowed_flows = 0;
  uint64_t denied_flows = 0;
  uint32_t connections = 0;  // as the connection limit counts them (DeviceRecord::connections)
  TrafficTotals upload;  // counted in the kernel (fw/nft/conntrack_counts.h)
  TrafficTotals download;
};

// What the /metrics endpoint itself counted (mgmt/server/metrics_server.h).
struct MetricsHttpCounters {
  uint64_t served = 0;        // 200 answers
  uint64_t refused_peer = 0;  // connections from outside management.metrics.allow, closed
  uint64_t busy = 0;          // connections past the concurrent limit, closed
  uint64_t bad_request = 0;   // answered 400, 404, 405 or 431
  uint64_t timed_out = 0;     // cut at the deadline (slow or silent clients)
};

struct MetricsSnapshot {
  std::string version;  // "0.1.0"
  EngineStatus engine;
  uint64_t policy_revision = 0;
  bool commit_pending = false;
  std::vector<MetricsDevice> devices;  // at most kMaxDeviceSeries
  uint64_t devices_omitted = 0;        // devices past kMaxDeviceSeries
  MetricsHttpCounters http;
};

// Engine thread (it is given what the engine thread holds): the snapshot of `status` and
// `devices`, keeping the first kMaxDeviceSeries devices in MAC order so that which devices are
// left out does not change between scrapes. A device's `name` is the one `policy` (the
// installed policy; may be null) lists it under, else the inventory's, else its DHCP host name.
MetricsSnapshot metricsSnapshotOf(std::string version, EngineStatus status,
                                  const std::vector<DeviceRecord>& devices,
                                  const CompiledPolicy* policy, uint64_t policy_revision,
                                  bool commit_pending);

// The exposition text: every family with its # HELP and # TYPE lines, in a fixed order.
std::string renderMetrics(const MetricsSnapshot& snapshot);

// A label value as the format wants it inside double quotes (see the header comment).
std::string escapeLabelValue(std::string_view raw);

}  // namespace muzzle

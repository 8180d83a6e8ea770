// FlowRecorder: learning mode's memory. For each device in a learning session (started by
// `muzzlectl learn start MAC --for 24h`), the flows it attempted, keyed by (direction, the DNS
// name the device resolved for the destination if the Judge knows one, else the address,
// protocol, port), each with a count, first and last seen (calendar time, so they survive a
// restart) and the verdict it last got. The proposal (fw/learn/proposal.h) reads them.
//
// Bounded, and every bound is named and counted:
//   - at most `sessions` devices learning at once (kLearnMaxSessions): start() beyond it fails;
//   - at most `per_device` flows per device (kLearnMaxFlowsPerDevice): a new flow pushes out the
//     device's least recently seen one, so a device that scans 100,000 addresses keeps its last
//     `per_device` and only pushes out its own;
//   - at most `total` flows in all (kLearnMaxFlows): a new flow then pushes out the least
//     recently seen flow of the device holding the most (the recording device itself when it
//     is one of them), so one noisy device cannot take a quiet one's record;
//   - a session lasts at most kLearnMaxDuration.
// Evictions are counted (evictions()), and each device's own count is kept with its session.
//
// record() is on the Judge's path for every new flow of a learning device, so its cost is
// bounded too: a flow seen again costs two hash lookups (the device, the flow); a new flow, one
// more insert. Room at either bound is found in constant time (the devices are kept grouped by
// how many flows they hold), and the flow that gives way lends its list node, index node and
// name buffer to the new one, so a recorder at its bounds (a busy device's steady state)
// allocates nothing for the flow itself (a device whose count still grows at the total bound
// may grow its index's bucket array, a few times in its life). Below the bounds a new flow
// allocates a list node, an index node and, for a long name, its text. learning() and
// observing() never allocate. Time comes from the Clock seam (calendar time: session ends and
// first/last seen survive a restart). Not thread-safe: the Judge owns it, under its lock, like
// the NameCache.
//
// Saved form (serialize()/load(), fw/learn/learn_file.cc): a line-based text file in state_dir,
// learn.state. load() refuses a damaged or hostile file as a whole, naming the line and what is
// wrong, and never crashes on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

constexpr size_t kLearnMaxSessions = 1024;
constexpr size_t kLearnMaxFlowsPerDevice = 1024;
constexpr size_t kLearnMaxFlows = 65536;
constexpr std::chrono::hours kLearnMaxDuration{24 * 30};
// A DNS name as the recorder keeps it: the longest a DNS name can be in text.
constexpr size_t kLearnMaxNameBytes = 253;
// learn.state is at most this large (the bounds above, with long names, fit well within it).
constexpr size_t kLearnMaxFileBytes = 64u << 20;

struct LearnLimits {
  size_t sessions = kLearnMaxSessions;
  size_t per_device = kLearnMaxFlowsPerDevice;
  size_t total = kLearnMaxFlows;
  std::chrono::seconds max_duration = kLearnMaxDuration;
};

// What identifies a recorded flow. `name` empty: the flow is kept by `address` (no name known).
struct LearnedFlowKey {
  Direction direction = Direction::kEgress;
  std::string name;  // lowercase DNS name, or empty
  IpAddress address;  // zero when `name` is set
  uint8_t protocol = 0;  // IP protocol number
  uint16_t port = 0;     // destination port (egress) or the device's own port (inbound); 0: none
};

struct LearnedFlow {
  LearnedFlowKey key;
  // An address the flow went to (egress by name: the latest one), for the proposal's findings.
  IpAddress last_address;
  uint64_t count = 0;
  int64_t first_seen_unix = 0;
  int64_t last_seen_unix = 0;
  Action verdict = Action::kAllow;  // the latest one the flow got
  // The latest verdict was an allow by one of the policy's rules (not observe mode's): the site
  // already decided on this flow, so the proposal neither adds it nor calls it a finding.
  bool allowed_by_rule = false;
  bool to_device = false;  // egress to another device on a managed segment (lateral)
};

struct LearnSession {
  MacAddress mac;
  int64_t start_unix = 0;
  int64_t end_unix = 0;
  bool observe = false;
  bool active = true;      // false once stopped or expired; its flows stay until forgotten
  uint64_t evictions = 0;  // this device's flows pushed out by the bounds
};

// One flow attempt, as the Judge hands it over.
struct FlowAttempt {
  Direction direction = Direction::kEgress;
  std::string_view name;  // a name the device resolved for the destination, or empty
  IpAddress address;      // the far end
  uint8_t protocol = 0;
  uint16_t port = 0;
  Action verdict = Action::kAllow;
  bool allowed_by_rule = false;
  bool to_device = false;
};

class FlowRecorder {
 public:
  // "*clock" must outlive the recorder. Limits of 0 are taken as 1.
  explicit FlowRecorder(const Clock& clock, LearnLimits limits = {});
  FlowRecorder(const FlowRecorder&) = delete;
  FlowRecorder& operator=(const FlowRecorder&) = delete;

  // Starts (or restarts, keeping what was recorded) a session for `mac`, ending `duration` from
  // now. kInvalidArgument for a duration of zero or over the limit, kResourceExhausted when
  // `sessions` devices already learn. Starting again extends the session and keeps its flows.
  Status start(MacAddress mac, std::chrono::seconds duration, bool observe);
  // Ends the session of `mac` now. Its flows are kept, for show and propose, until forget() or
  // until a start() needs the room (ended sessions go first, oldest end first). False when `mac`
  // was not learning.
  bool stop(MacAddress mac);
  // Drops the session of `mac` (ended or not) and its flows. False when there was none.
  bool forget(MacAddress mac);
  // Ends every session whose end time has passed; returns them (for the events).
  std::vector<LearnSession> expire();

  // An active session: the device's flows are being recorded.
  bool learning(MacAddress mac) const;
  // Learning with --observe: the Judge allows what the profile does not explicitly deny.
  bool observing(MacAddress mac) const;

  // Records one attempt of `mac`, if it is learning (otherwise nothing happens, at the cost of
  // one lookup: callers need not ask learning() first).
  void record(MacAddress mac, const FlowAttempt& attempt);

  std::optional<LearnSession> session(MacAddress mac) const;
  std::vector<LearnSession> sessions() const;
  // The flows of `mac`, most recently seen first (empty when not learning).
  std::vector<LearnedFlow> flows(MacAddress mac) const;

  size_t flowCount() const { return flows_; }
  size_t sessionCount() const { return devices_.size(); }
  uint64_t evictions() const { return evictions_; }
  const LearnLimits& limits() const { return limits_; }
  // Rough bytes per recorded flow (list node, index node, name), for the documented bound.
  static size_t approxBytesPerFlow();

  // The saved form (learn.state). load() replaces everything on success; on failure nothing
  // changes and the error names `file_name`, the line and what is wrong. Sessions and flows over
  // the limits are left out and counted (loadDropped()).
  std::string serialize() const;
  Status load(std::string_view text, std::string_view file_name);
  // The same text in pieces, for a caller that takes its lock once a session rather than once
  // for the whole file (the Daemon: a full recorder's text takes ~40 ms to write, one session's
  // at most ~1 ms): appendHeader(), then appendSession() for each of sessionMacs(). What changes
  // between two pieces is saved as it is at its piece; a flow that moved to another session
  // meanwhile may be written twice and take the file over `total`, which load() leaves out and
  // counts. appendSession() is false (and appends nothing) for a session gone meanwhile.
  static void appendHeader(std::string& out);
  std::vector<MacAddress> sessionMacs() const;  // sorted, as serialize() writes them
  bool appendSession(MacAddress mac, std::string& out) const;
  // serialize()'s reserve for the current content (bytes).
  size_t serializedSizeHint() const;
  uint64_t loadDropped() const { return load_dropped_; }

 private:
  struct KeyView {
    Direction direction;
    uint8_t protocol;
    uint16_t port;
    std::string_view name;
    IpAddress address;
    bool operator==(const KeyView&) const = default;
  };
  struct KeyHash {
    size_t operator()(const KeyView& k) const;
  };
  using FlowList = std::list<LearnedFlow>;  // front: most recently seen
  // The index's views point into the list nodes, which never move (not even when a node is
  // lent to another device: splice relinks it).
  using FlowIndex = std::unordered_map<KeyView, FlowList::iterator, KeyHash>;
  struct DeviceFlows {
    LearnSession session;
    FlowList lru;
    FlowIndex index;
    // The other devices holding as many flows (by_count_); null at either end of the group.
    DeviceFlows* same_count_prev = nullptr;
    DeviceFlows* same_count_next = nullptr;
  };
  static KeyView viewOf(const LearnedFlowKey& k) {
    return KeyView{k.direction, k.protocol, k.port, k.name, k.address};
  }
  // The device whose least recently seen flow gives way to a new flow of `device`: `device`
  // itself at its own bound, the device holding the most at the total bound; null when there
  // is room. Constant time.
  DeviceFlows* victimFor(DeviceFlows& device);
  // Moves `device` to the group of its flow count after it changed from `before`.
  void recount(DeviceFlows& device, size_t before);
  void joinCount(DeviceFlows& device, size_t count);
  void leaveCount(DeviceFlows& device, size_t count);
  // Every device into the group of its flow count (after load()).
  void regroup();
  // Drops a device (ended session pushed out, or forgotten) with its flows.
  void erase(std::unordered_map<uint64_t, DeviceFlows>::iterator it);

  const Clock& clock_;
  LearnLimits limits_;
  // Node-based: a DeviceFlows never moves, so by_count_ may point at it.
  std::unordered_map<uint64_t, DeviceFlows> devices_;  // MacAddress::value -> its session
  // by_count_[n]: the first of the devices holding n flows (n >= 1; devices with none are in no
  // group), linked through same_count_*. most_: the largest n with a device, 0 when none.
  // Each count moves by one per eviction, so most_ moves by at most one on the packet path.
  std::vector<DeviceFlows*> by_count_;
  size_t most_ = 0;
  size_t flows_ = 0;
  uint64_t evictions_ = 0;
  uint64_t load_dropped_ = 0;
};

// Whether `name` may be recorded as a name (and read back from learn.state): 1..253 bytes of
// lowercase letters, digits, '-', '_' and '.'. Anything else is recorded by address.
bool isRecordableName(std::string_view name);

}  // namespace muzzle

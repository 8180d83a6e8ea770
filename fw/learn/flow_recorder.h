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
// bounded too, and so are the cache lines it touches: with hundreds of devices learning nearly
// every flow is new, and a full recorder's ~9 MB of flows are far from the cache. The flows
// live in slots that never move, two cache lines each, with one open-addressing index for the
// whole recorder, filed by a hash keyed with the recorder's own secret (flow_tag.h), so no
// device can choose flows that crowd one place of it; a flow seen again costs two lookups (the
// device; then one line of the index and the one slot whose tag matches) and a move to the
// front of its device's list. Room at
// either bound is found in constant time (the devices are kept grouped by how many flows they
// hold), and the flow that gives way lends its slot, name buffer included, to the new one in
// place, so a recorder at its bounds, a busy site's steady state, allocates nothing but a name
// longer than any its slot held before. Below the total bound a new flow may also allocate a
// chunk of 1024 slots (once in 1024 flows) and, a few times in the recorder's life, a larger
// index. learning() and observing() never allocate. Time comes from the Clock seam (calendar
// time: session ends and first/last seen survive a restart). Not thread-safe: the Judge owns
// it, under its lock, like the NameCache.
//
// Saved form (serialize()/load(), fw/learn/learn_file.cc): a line-based text file in state_dir,
// learn.state. load() refuses a damaged or hostile file as a whole, naming the line and what is
// wrong, and never crashes on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/flat_index.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/learn/flow_tag.h"
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
// (The fields of this and of LearnedFlow are in the order that packs them: 56 and 104 bytes, so
// that the recorder keeps a flow in two cache lines, its key in the first.)
struct LearnedFlowKey {
  std::string name;   // lowercase DNS name, or empty
  IpAddress address;  // zero when `name` is set
  Direction direction = Direction::kEgress;
  uint8_t protocol = 0;  // IP protocol number
  uint16_t port = 0;     // destination port (egress) or the device's own port (inbound); 0: none
};

struct LearnedFlow {
  LearnedFlowKey key;
  // An address the flow went to (egress by name: the latest one), for the proposal's findings.
  IpAddress last_address;
  Action verdict = Action::kAllow;  // the latest one the flow got
  // The latest verdict was an allow by one of the policy's rules (not observe mode's): the site
  // already decided on this flow, so the proposal neither adds it nor calls it a finding.
  bool allowed_by_rule = false;
  bool to_device = false;  // egress to another device on a managed segment (lateral)
  uint64_t count = 0;
  int64_t first_seen_unix = 0;
  int64_t last_seen_unix = 0;
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
  // "*clock" must outlive the recorder. Limits of 0 are taken as 1, a total over 2^30 as 2^30
  // (flows are numbered in 32 bits).
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
  // Drops the session of `mac` (ended or not) and its flows. False when there was none. With
  // the last flow gone, the memory that held the flows is given back.
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

  size_t flowCount() const { return storage_.table.size(); }
  size_t sessionCount() const { return devices_.size(); }
  uint64_t evictions() const { return evictions_; }
  const LearnLimits& limits() const { return limits_; }
  // Rough bytes per recorded flow (its slot, its share of the index at the total bound, a
  // typical name's heap buffer), for the documented bound.
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
  static constexpr uint32_t kNoSlot = 0xFFFFFFFF;
  struct KeyView {
    Direction direction;
    uint8_t protocol;
    uint16_t port;
    std::string_view name;
    IpAddress address;
    bool operator==(const KeyView&) const = default;
  };
  struct DeviceFlows {
    LearnSession session;
    // Its flows, a list through their slots (Storage): head the most recently seen.
    uint32_t head = kNoSlot;
    uint32_t tail = kNoSlot;
    uint32_t count = 0;
    // The other devices holding as many flows (by_count_); null at either end of the group.
    DeviceFlows* same_count_prev = nullptr;
    DeviceFlows* same_count_next = nullptr;
  };
  // One flow in place, in two cache lines: the first holds what a lookup compares (the device
  // and the key), the second what a flow seen again updates and the device's list.
  struct alignas(64) Slot {
    const DeviceFlows* device = nullptr;  // null: a free slot
    LearnedFlow flow;
    uint32_t tag = 0;  // the high half of the flow's hash, as in its index entry
    // The device's list. From head, `count` slots by `next` reach the tail; what the head's
    // prev and the tail's next hold is left unspecified, so that taking a device's oldest flow
    // writes nothing into its neighbour. A free slot's next is the next free one.
    uint32_t prev = kNoSlot;
    uint32_t next = kNoSlot;
  };
  // The flows of every device: slots in chunks of kChunkSlots that never move (a flow's number
  // is its place), given back to a free list when a device is dropped, and one index of them
  // by (device, key) (flat_index.h: no tombstones build up at the bounds). load() fills one
  // aside and swaps it in.
  struct Storage {
    static constexpr uint32_t kChunkShift = 10;
    static constexpr uint32_t kChunkSlots = 1u << kChunkShift;

    Slot& at(uint32_t i) { return chunks[i >> kChunkShift][i & (kChunkSlots - 1)]; }
    const Slot& at(uint32_t i) const { return chunks[i >> kChunkShift][i & (kChunkSlots - 1)]; }
    // The slot of `device`'s flow `key` (whose hash gave `tag`), kNoSlot when it has none.
    uint32_t find(const DeviceFlows& device, uint32_t tag, const KeyView& key) const;
    // A slot to fill: a free one, else a new one (a chunk allocated once in kChunkSlots).
    uint32_t take();
    // Slot `i` into the index, by its tag, and out of it.
    void index(uint32_t i) { table.insert(at(i).tag, i); }
    void unindex(uint32_t i) { table.erase(at(i).tag, i); }
    void pushFront(DeviceFlows& device, uint32_t i);
    void pushBack(DeviceFlows& device, uint32_t i);
    uint32_t popBack(DeviceFlows& device);
    void moveToFront(DeviceFlows& device, uint32_t i);
    // Unindexes the flows of `device` and gives their slots back (names keep their buffers).
    void drop(DeviceFlows& device);
    template <typename F>
    void forEach(const DeviceFlows& device, F&& f) const {
      uint32_t i = device.head;
      for (uint32_t n = 0; n < device.count; ++n) {
        const Slot& s = at(i);
        f(s.flow);
        i = s.next;
      }
    }

    std::vector<std::unique_ptr<Slot[]>> chunks;
    uint32_t used = 0;              // slots handed out at least once; the rest are untouched
    uint32_t free = kNoSlot;        // the first slot given back
    FlatIndex table;                // the recorded flows' slots, by tag
  };
  static KeyView viewOf(const LearnedFlowKey& k) {
    return KeyView{k.direction, k.protocol, k.port, k.name, k.address};
  }
  // The index's tag for `mac`'s flow `k` (flow_tag.h: keyed, so no device can choose flows
  // that pile up in one run of the index).
  uint32_t tagOf(MacAddress mac, const KeyView& k) const {
    return tag_hash_(mac, k.direction, k.protocol, k.port, k.name, k.address);
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
  void erase(MacMap<DeviceFlows>::iterator it);

  const Clock& clock_;
  LearnLimits limits_;
  const FlowTagHash tag_hash_;  // its own random key
  // Node-based: a DeviceFlows never moves, so by_count_ and the slots may point at it.
  MacMap<DeviceFlows> devices_;  // MacAddress::value -> its session
  Storage storage_;
  // by_count_[n]: the first of the devices holding n flows (n >= 1; devices with none are in no
  // group), linked through same_count_*. most_: the largest n with a device, 0 when none.
  // Each count moves by one per eviction, so most_ moves by at most one on the packet path.
  std::vector<DeviceFlows*> by_count_;
  size_t most_ = 0;
  uint64_t evictions_ = 0;
  uint64_t load_dropped_ = 0;
};

// Whether `name` may be recorded as a name (and read back from learn.state): 1..253 bytes of
// lowercase letters, digits, '-', '_' and '.'. Anything else is recorded by address.
bool isRecordableName(std::string_view name);

}  // namespace muzzle

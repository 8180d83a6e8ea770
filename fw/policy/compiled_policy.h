// CompiledPolicy: the immutable, lookup-ready form of a policy file, and decide(), the pure
// function the data plane calls for every undecided packet.
//
// A CompiledPolicy is built off the hot path (compilePolicy in policy_loader.h), then shared as
// shared_ptr<const CompiledPolicy>; nothing in it changes afterwards, so any thread may read it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fw/common/net.h"
#include "fw/device/classifier.h"
#include "fw/packet/packet.h"
#include "fw/policy/schedule.h"

namespace muzzle {

enum class Action : uint8_t { kAllow, kReject, kDrop };
enum class Direction : uint8_t { kEgress, kInbound };
enum class ProtoMatch : uint8_t { kAny, kTcp, kUdp, kIcmp };  // kIcmp matches ICMP and ICMPv6

const char* actionName(Action a);        // "allow", "reject", "drop"
const char* directionName(Direction d);  // "egress", "inbound"

// Built-in targets, resolved per segment at decision time.
enum BuiltinTarget : uint8_t {
  kTargetGateway = 1,   // the box's own addresses on the device's segment
  kTargetLocal = 2,     // the device's segment subnets
  kTargetInternet = 4,  // anything that is neither of the above nor another box address
};

struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 0;
};

// A DNS name target. Exact: `host.example.com` matches that name only. Wildcard: `*.example.com`
// matches names strictly below example.com, at any depth (`a.example.com`, `a.b.example.com`),
// never `example.com` itself. Lowercase, no trailing dot.
struct NamePattern {
  std::string suffix;     // exact: the name; wildcard: ".example.com" (with the leading dot)
  bool wildcard = false;
  bool matches(std::string_view name) const {
    if (!wildcard) return name == suffix;
    return name.size() > suffix.size() && name.ends_with(suffix);
  }
};

// The name targets of one rule, indexed: exact names in one hash set, wildcard suffixes in
// another. A lookup costs one probe for the name and one per dot in it, however many names the
// rule lists (a site may list dozens of vendor hosts per profile). Same answers as asking every
// NamePattern in turn.
class NameSet {
 public:
  void add(const NamePattern& pattern) {
    if (pattern.wildcard) {
      below_.emplace(pattern.suffix.substr(1));  // ".example.com" -> "example.com"
    } else {
      exact_.emplace(pattern.suffix);
    }
  }
  bool empty() const { return exact_.empty() && below_.empty(); }
  size_t size() const { return exact_.size() + below_.size(); }
  // Every pattern as users write them ("*.example.com", "host.example.com"), sorted.
  std::vector<std::string> patterns() const {
    std::vector<std::string> out(exact_.begin(), exact_.end());
    for (const std::string& below : below_) out.push_back("*." + below);
    std::sort(out.begin(), out.end());
    return out;
  }
  bool matches(std::string_view name) const {
    if (exact_.find(name) != exact_.end()) return true;
    if (below_.empty()) return false;
    // "a.b.example.com" is below "b.example.com" and "example.com" and "com": the part after
    // each dot but a leading one (a name is never below the empty label).
    for (size_t dot = name.find('.', 1); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
      if (below_.find(name.substr(dot + 1)) != below_.end()) return true;
    }
    return false;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> exact_;
  std::unordered_set<std::string, Hash, std::equal_to<>> below_;
};

// Where a rule was written, for `muzzlectl policy explain`: the site's policy file or the preset
// file a profile named (policy.proto, Profile.preset).
struct RuleOrigin {
  // The file's part, shared by every rule written in it: a policy keeps thousands of rules, and
  // one copy of a path per rule was ~6 % of a large compiled policy.
  struct File {
    std::string path;    // the policy's label, or the preset file's path
    std::string preset;  // the preset's name; empty for the site's own rules
  };
  std::shared_ptr<const File> from;  // null only in a default-constructed rule
  int line = 0;                      // 1-based; 0 when not known

  const std::string& file() const { return from ? from->path : empty(); }
  const std::string& preset() const { return from ? from->preset : empty(); }

 private:
  static const std::string& empty() {
    static const std::string kEmpty;
    return kEmpty;
  }
};

struct CompiledRule {
  Action action = Action::kAllow;  // a `deny` rule takes the profile's `otherwise` action
  uint8_t builtins = 0;            // BuiltinTarget bits
  AddressSet addresses;            // literal IPs and CIDRs, merged
  // Address groups the rule names, shared with every other rule naming them: a 10,000-entry
  // list named by 100 rules is built once, not copied 100 times.
  std::vector<std::shared_ptr<const AddressSet>> groups;
  NameSet names;                   // DNS name targets (egress rules only)
  ProtoMatch proto = ProtoMatch::kAny;
  std::vector<PortRange> ports;    // empty: every port
  bool log = false;
  // Index into CompiledPolicy::schedules: the rule matches only while that schedule holds
  // (FlowView::active_schedules). -1: always.
  int16_t schedule = -1;
  // "profiles.camera.egress[0]", for logs and events: the rule's place among the profile's
  // rules as the device gets them (the site's own first, then its preset's).
  std::string label;
  RuleOrigin origin;
  std::string source;              // the rule as written: "allow nvr tcp 554,8000 log"
};

// Traffic classes: where an allowed flow goes, seen from its device. The kernel counts each
// device's traffic per class (fw/nft/marks.h carries the class in the conntrack mark), and volume
// limits name them. The first three are the built-in targets; then come the address groups the
// profiles name (in their rules or limits), at most kMaxTrafficClasses in all: a group past that
// counts as the built-in it falls under.
enum TrafficClass : uint8_t {
  kClassGateway = 0,  // the box itself (also a flow the box opened: class bits 0)
  kClassLocal = 1,
  kClassInternet = 2,
  kFirstGroupClass = 3,
};
constexpr size_t kMaxTrafficClasses = 64;  // the 6 class bits of a mark

// An address group a profile names, as a traffic class: a peer in its addresses, or one the
// device knows by a name the group lists, is in the class.
struct ClassGroup {
  std::shared_ptr<const AddressSet> addresses;  // null: the group lists only names
  std::shared_ptr<const NameSet> names;         // null: only addresses
  uint8_t traffic_class = kClassInternet;
};

// A volume limit (policy.proto, Limit): at most `upload_bytes` / `download_bytes` (0: no bound
// that way) of the device's traffic in `traffic_class` per window of `per`.
struct CompiledLimit {
  bool all_classes = false;  // `to` left out: every class counts
  uint8_t traffic_class = kClassInternet;
  uint64_t upload_bytes = 0;
  uint64_t download_bytes = 0;
  std::chrono::seconds per{0};
  bool block = false;  // else alert only
  int16_t schedule = -1;  // index into CompiledPolicy::schedules: holds only then; -1: always
  std::string label;   // "profiles.camera.limits[0]"
  std::string source;  // "internet upload 200MB per 1h block"
};

struct CompiledProfile {
  std::string name;
  std::string preset;  // the preset it is built on (Profile.preset); empty: none
  std::vector<CompiledRule> egress;
  std::vector<CompiledRule> inbound;
  Action otherwise = Action::kReject;
  // The groups its limits name, then those its rules name, each once: the first that holds a
  // flow's peer is the flow's class (trafficClassOf).
  std::vector<ClassGroup> class_groups;
  std::vector<CompiledLimit> limits;
};

struct CompiledDevice {
  std::string name;
  MacAddress mac;
  uint32_t profile = 0;  // index into CompiledPolicy::profiles
};

// What the box knows about a managed segment when the policy is compiled: its interface and the
// addresses behind `gateway` and `local`.
struct SegmentFacts {
  std::string name;
  std::string ifname;
  uint32_t ifindex = 0;
  std::vector<IpAddress> gateway_addresses;
  std::vector<Cidr> subnets;
  // A bridge whose ports are the devices: traffic between two ports is judged only when the
  // kernel hands bridged IP traffic to the inet hooks (net.bridge.bridge-nf-call-ip*tables).
  bool is_bridge = false;
  bool bridged_traffic_filtered = false;
};

struct SiteFacts {
  std::vector<SegmentFacts> segments;
  std::vector<IpAddress> box_addresses;  // every address of the box, on any interface
};

struct CompiledSegment {
  std::string name;
  uint32_t ifindex = 0;
  AddressSet gateway;
  AddressSet local;
};

// The `dns` section. With `enabled`, a managed device's DNS may only go to `resolvers`.
struct CompiledDns {
  bool enabled = false;
  uint8_t resolver_builtins = 0;  // BuiltinTarget bits
  AddressSet resolvers;
  // DoH resolver addresses (dns.doh_list): HTTPS to one is DNS bypass (decide.cc). Held here
  // alone; the kernel table has no copy, so a change of the list is a new policy, not a new set.
  AddressSet doh;
  uint32_t cache_per_device = 1024;
  uint32_t ttl_grace_seconds = 10;
};

// The `mud` section: whether devices' MUD files are fetched, the trust anchors their signatures
// must chain to (the PEM text, read at compile time like list files), and what a verified file
// becomes.
struct CompiledMud {
  bool fetch = false;
  std::string trust_pem;
  bool apply_auto = false;  // false: propose
};

struct CompiledPolicy {
  std::string digest;       // hex digest of the policy text and site facts; same input, same digest
  std::vector<CompiledProfile> profiles;
  uint32_t default_profile = 0;
  std::vector<CompiledDevice> devices;
  std::unordered_map<uint64_t, uint32_t> device_by_mac;  // MacAddress::value -> devices index
  std::vector<CompiledSegment> segments;
  AddressSet box_addresses;
  std::vector<ClassifyRule> classify;  // for devices not listed; first match wins
  CompiledDns dns;
  CompiledMud mud;
  // Traffic class names by index: "gateway", "local", "internet", then group names.
  std::vector<std::string> traffic_classes{"gateway", "local", "internet"};
  // The distinct windows of the rules' `when` (at most kMaxSchedules, so a ScheduleMask holds
  // them), first use first. Empty: no rule is scheduled, and no timer runs for this policy.
  std::vector<CompiledSchedule> schedules;

  // Index into `segments` for an ifindex, or -1.
  int segmentByIfindex(uint32_t ifindex) const;
  // Index into `devices`, or -1 for a device the policy does not list.
  int deviceByMac(MacAddress mac) const;
};

// One side of a flow as the engine resolved it.
struct Endpoint {
  int segment = -1;                 // managed segment the endpoint sits on, or -1
  std::optional<MacAddress> mac;    // known for managed endpoints when learned
  bool is_box = false;              // the address is the box itself
  // The profile an unlisted device was classified into (a `classify` rule matched what the
  // engine learned about it), or -1: a listed device gets its own, anything else the default.
  int classified_profile = -1;
};

// A flow in its original direction (the side that opened it is `src`), plus what the engine
// knows about each side.
struct FlowView {
  const PacketInfo* packet = nullptr;  // addresses/ports already in original direction
  Endpoint src;
  Endpoint dst;
  // Names the source device learned from its own DNS answers for the destination address
  // (unexpired). Empty: the device never resolved it ("no-dns").
  std::span<const std::string_view> dst_names;
  // Which of the policy's schedules hold now (schedule.h); a scheduled rule whose bit is clear
  // does not match. The engine recomputes it when a window opens or closes, not per packet.
  ScheduleMask active_schedules = 0;
};

// Why a verdict is what it is, beyond the rule: for events and log lines.
enum class Reason : uint8_t {
  kNone,
  kNoDns,      // a name rule could have matched, but the device never resolved the destination
  kDnsBypass,  // DNS to a resolver not in dns.resolvers, DoT/DoQ, or HTTPS to a DoH resolver
  kVolumeLimit,  // allowed by the rules, but the device passed a blocking volume limit
};
const char* reasonName(Reason r);  // "", "no-dns", "dns-bypass", "volume-limit"

struct Verdict {
  Action action = Action::kAllow;
  Direction direction = Direction::kEgress;  // the side whose rules decided
  int profile = -1;   // deciding profile, -1 if no managed side was involved
  int device = -1;    // deciding device (index into devices), -1 if not listed
  const CompiledRule* rule = nullptr;  // nullptr: the profile's `otherwise` (or no managed side)
  bool log = false;   // the deciding rule asked for logging (denials are always logged)
  Reason reason = Reason::kNone;
  // The name that matched the deciding rule, or for a flow no name rule allowed, a name the
  // device learned for the destination (the one that "would have" matched). Points into
  // FlowView::dst_names.
  std::string_view name;
  // An allowed flow's traffic class, seen from its managed source (a device that opened it) or
  // else its managed destination; kClassGateway for every other verdict.
  uint8_t traffic_class = kClassGateway;
};

// The traffic class of `peer` for a device of profile `profile` on `segment` that knows the peer
// by `peer_names` (its DNS names, possibly none).
uint8_t trafficClassOf(const CompiledPolicy& policy, int profile, int segment,
                       const IpAddress& peer, std::span<const std::string_view> peer_names);

// Judges a flow. A rule with a schedule counts only while its bit in flow.active_schedules is
// set. A flow the box itself opened is allowed. With dns.enabled, an egress flow that
// bypasses the allowed resolvers is refused first (reason dns-bypass), whatever the rules say. A flow from a managed device is checked against its profile's egress rules;
// a flow to a managed device against its profile's inbound rules; when both ends are managed,
// both must allow (the first denial wins). A flow with no managed end is allowed.
Verdict decide(const CompiledPolicy& policy, const FlowView& flow);

}  // namespace muzzle

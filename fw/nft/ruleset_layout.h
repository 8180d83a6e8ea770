// Table `inet muzzle` as plain values: its sets, chains and rules, in the order the writer
// creates them, each rule a list of matches and statements at the level nft(8) writes them
// ("iifname @segments", "udp dport 53", "meta mark set", "goto judge"). rulesetLayout() is the
// one place that decides what the table holds; NftRulesetWriter linearises it into libnftnl
// expressions (nft_expressions.h) and describeRuleset() renders it as nft text, so what
// operators read cannot drift from what is installed.
//
// The table:
//   `input` first queues DHCP requests from a segment to the box (muzzled reads each once and
//   accepts it, whatever the flow's verdict or conntrack state), by way of `dhcp-request` when
//   the flood guard or the segment guard is on, which first drops a request past its device's
//   bucket, then one past its segment's;
//   forward/input base chains then look the conntrack mark up in one verdict map: a flow judged
//   under the current generation (marks.h) is accepted, refused (`deny`, `discard`) or, when
//   muzzled reads some of its packets, sent to `inspected`, in that one lookup (the established
//   path; only a segment's flow ever carries such a mark). The rest of the traffic to or from a
//   managed segment goes to `judge`: a packet whose input (or output) interface is in set
//   @segments, the managed segments' interface names. Every rule about "a segment" looks its
//   interface up there, so the number of rules, and what a packet walks, do not grow with the
//   number of segments;
//   `judge` first sends a verdict fresh from user space (NF_REPEAT with a packet mark), in one
//   lookup, to the chain that saves it in the conntrack mark and acts on it (`save-allowed`,
//   `save-rejected`, `save-dropped`). Then, for flows not decided yet: IPv6 neighbour discovery
//   and MLD are accepted, conntrack-invalid packets dropped, a connection's first packet past
//   its device's bucket in @flood-guard dropped and counted in @flood-dropped (the flood guard,
//   when RulesetSpec::flood_rate asks for it), then one past its input interface's bucket in
//   @segment-guard dropped and counted in @segment-dropped (the segment guard, when
//   RulesetSpec::segment_rate asks for it); a packet of no DNS or DHCP port goes
//   straight to `ask` (the fast lane: most first packets); the others meet `dns-dhcp` (DNS
//   answers to a segment queued, DHCP requests between segments accepted) and the DNS query
//   rules (queries from a segment sent to `dns-query`), and the rest goes to `ask`;
//   `ask` queues the packet to muzzled, hinting its direction and, when muzzled counts the
//   connection limit (RulesetSpec::new_connection_hint), whether it is a connection's first (whose
//   label it then sets to the sender's MAC address, for the recount) (no
//   address lookup: whether the destination is a DoH resolver is decide()'s question, asked of the
//   compiled policy's list);
//   `save-allowed` first drops an allowed new connection from a segment whose device holds its most
//   connections in @conn-limit, counted in @conn-limit-dropped (the connection limit counted by the
//   kernel, when RulesetSpec::conn_limit asks for it: a box without accounting); then it saves an
//   allowed connection with port 53 or 67 on one side with verdict code 0, so the conntrack mark's
//   map sends it to `inspected`, sets an allowed UDP connection's conntrack events when accounting
//   wants them, and accepts; its first two rules (one per protocol, the fast lane) save a TCP or
//   UDP connection of neither port and without NAT by the packet's own ports, the rest by the
//   conntrack tuple's; `inspected`: an allowed flow with port 53 or 67 on one side (`save-allowed`
//   saves it with verdict code 0): its DNS answers and DHCP requests go to `dns-dhcp`, what a
//   device sends on it is held to its flood-guard bucket and its segment's (muzzled reads it packet
//   by packet), its DNS queries go to `dns-query`, the rest is allowed; `dns-dhcp` (reached by jump
//   from `judge`, `inspected`, `deny` and `discard`, so whatever the flow's verdict) queues DNS
//   answers going to a segment (every packet: `dns-answer`), accepts DHCP requests from a segment
//   to a segment unread (a server on the segment, or a broadcast's flooded copies: the box's own
//   copy is the one read, in `input`), and returns anything else, a packet to port 67 of the
//   internet included (judged like any flow); `dns-query` queues a query whose flow is allowed or
//   undecided, with hints saying which (and, as `ask`, whether an undecided one is a connection's
//   first); `output` sends DNS answers from a resolver on the box itself to `dns-answer`, and
//   queues the box's own DHCP replies to a segment (the leases muzzled trusts); `deny` rejects with
//   a TCP reset or an ICMP(v6) administratively-prohibited, `discard` drops; set @segments holds
//   the segments' interface names (nft type ifname); the flood guard's and the connection limit's
//   sets, the devices' buckets, lists and counts; the segment guard's, the input interfaces'
//   buckets and counts.
//
// Both verdict maps, and the rules that recognise an allowed flow by its conntrack mark
// (`dns-answer`'s third, `dns-query`'s first), compare it under kAllowMask: an allowed mark
// carries its traffic class, which accounting reads from the conntrack entry
// (conntrack_counts.h): the table itself counts no traffic. (It used to, in dynamic sets updated
// by every allowed packet: 0.4-0.65 us a packet on the bench's gateway, where conntrack's own
// counters cost ~25 ns.)
// Cost, whatever the number of segments and either way: an established allowed packet evaluates one
// rule in `forward`, the base chain's verdict map (two in `input`, behind the DHCP rule's port)
// (one conntrack-mark load, the class mask and the lookup, no counter: nothing reads one there),
// and is accepted there. A refused one also walks `dns-dhcp` (3 rules). An allowed TCP flow's first
// packet walks 13 rules before it is queued (the base chain's two, `judge`'s seven up to its fast
// lane, the flood guard's and the segment guard's included, `ask`'s four, its first-packet mark
// among them) and 4 after NF_REPEAT (the conntrack mark's map, the base chain's interface rule,
// the packet mark's map, `save-allowed`'s fast lane; a UDP flow 5); of the lookups, the dearest
// expressions here, it makes 4 before the queue (the conntrack mark's map, @segments, its device's
// bucket, its segment's bucket; the packet mark's map is skipped at a mark of 0): a rule that tests
// a port and @segments tests the port first, which fails
// for all but DNS and DHCP. (Before the fast lanes: 17 and 8, four of those 8 each loading a port
// of the conntrack tuple. Before the DoH check moved to user space, 2026-12-07: 13 rules and 4
// lookups before the queue, `ask`'s two rules looking every destination up in @doh4 or @doh6.)
// Without the flood guard, one rule and one lookup fewer before the queue; without the segment
// guard, one rule and one lookup fewer too (11 / 3 until it came, 2026-12-07); without muzzled's
// count of connections, one rule fewer before it (`ask`'s first-packet mark); with the kernel's
// count instead (no accounting), one rule and two lookups (@segments, the device's list) more
// after it. Pinned in tests/unit/fw/nft/established_path_test.cc.
//
// Pure value code: no I/O, no libnftnl. The rules do not depend on the number of segments; only
// the elements of @segments do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fw/nft/ruleset.h"

namespace muzzle {

// The matches and statements Muzzle's rules are made of. A transport field (Port, Icmpv6Type)
// implies its protocol: the linearisation adds the `meta l4proto` match once, as nft(8) does.
namespace nftx {
// iifname @segments / oifname @segments: the packet's input or output interface name (16 bytes,
// NUL-padded) looked up in a set of interface names (SetKind::kInterfaceNames). One rule for
// every segment: a rule per segment would make every packet walk them all.
struct IfNameInSet {
  bool output = false;
  std::string set;
  uint32_t set_id = 0;
};
struct L4Proto {  // meta l4proto tcp
  uint8_t proto = 0;
};
// udp sport 53 / tcp dport != 53 / th dport != 67. Protocol 0 is nft's `th`: the first bytes of
// whatever transport header the packet carries, with no protocol match. Only a rule whose every
// outcome is safe uses it: one that merely skips rules which need TCP or UDP anyway (`judge`'s
// fast lane), where another protocol's bytes that read as a port send the packet the long way,
// and a packet with no such bytes (too short, or a later fragment) fails the rule in the kernel.
struct Port {
  uint8_t proto = 0;
  bool source = false;
  uint16_t port = 0;
  bool negate = false;
};
struct Icmpv6Type {  // icmpv6 type 130-137 (one type when first == last)
  uint8_t first = 0;
  uint8_t last = 0;
};
struct CtStateInvalid {};  // ct state invalid
// ct state new: the connection's first packet (conntrack has not confirmed it yet; a retried
// first packet of a flow waiting for its verdict is one too).
struct CtStateNew {};
struct CtDirection {       // ct direction original / reply
  bool reply = false;
};
// ct original proto-dst 53 / ct original proto-src 67: a port of the connection as it was
// opened, whichever packet of it is at hand (an ICMP error related to it included). No protocol
// match: the two bytes of an ICMP tuple (type, code) never read as 53 or 67, and a port of
// another protocol that matches only costs that flow the longer path (ruleset_layout.cc). nft
// 1.0.6 lists it as "ct original proto-dst 0x35 [invalid type]": it wants a protocol to name the
// port by, which the kernel does not need.
struct CtOriginalPort {
  bool source = false;
  uint16_t port = 0;
};
// ct protocol udp: the connection's layer-4 protocol, whichever packet of it is at hand
// (an ICMP error related to it included).
struct CtProtocol {
  uint8_t proto = 0;
};
// ct event set new,related,reply,...: which conntrack events the kernel builds for this
// connection from now on (NFT_CT_EVENTMASK; bits of enum ip_conntrack_events).
struct CtEventSet {
  uint32_t events = 0;
};
// ct status & (snat | dnat) == 0: no address or port of the connection is translated, so a
// TCP or UDP packet of it carries the connection's ports (as opened, or swapped in the reply
// direction). With NAT the packet's ports may be ones the connection was not opened with.
struct CtStatusNoNat {};
struct CtMarkIs {  // ct mark 0x00000101 / ct mark & 0xffffff03 == 0x00000101
  uint32_t mark = 0;
  uint32_t mask = 0xFFFFFFFF;
};
struct SetMetaMark {  // meta mark set 0x00000020
  uint32_t mark = 0;
};
struct CtMarkFromMetaMark {  // ct mark set meta mark / ct mark set meta mark & 0xfffffffc
  uint32_t mask = 0xFFFFFFFF;
};
struct Counter {};  // counter
struct Queue {      // queue num 100-103 bypass fanout (or the xtables NFQUEUE target)
  uint16_t first = 0;
  uint16_t total = 1;  // fanned out by CPU when more than one
  bool bypass = false;
  QueueMode mode = QueueMode::kCompat;
};
struct Verdict {
  enum Code { kAccept, kDrop, kReturn, kGoto, kJump } code = kAccept;
  std::string chain;  // for kGoto and kJump
};
struct Reject {  // reject with tcp reset / reject with icmpx admin-prohibited
  bool tcp_reset = false;
};
// ct mark & 0xffffff03 vmap { 0x00000900 : goto inspected, 0x00000901 : accept, ... }, or the
// same on the packet's mark (meta mark): one lookup of the masked mark in an anonymous verdict
// map, which the kernel builds with the rule and frees with it (NftBatch::addRule). A mark not in
// the map leaves the rule unmatched, and the chain goes on.
// With `skip_zero`, a masked mark of 0 fails the rule at an inline compare ahead of the lookup
// (`meta mark & 0xffffff03 != 0`): no element's key is 0 (generation 0 is never a verdict's,
// marks.h), and a lookup that misses also walks the map's catch-all list.
struct MarkVmap {
  bool packet_mark = false;  // meta mark; the conntrack mark when false
  uint32_t mask = 0xFFFFFFFF;
  std::vector<std::pair<uint32_t, Verdict>> elements;  // mark -> verdict, in this order
  uint32_t set_id = 0;  // how the rule refers to the map within its transaction
  bool skip_zero = false;
};
// update @flood-guard { ether saddr limit rate over 500/second burst 1000 packets } /
// add @conn-limit { ether saddr ct count over 1024 } /
// update @flood-dropped { ether saddr counter }: the packet's source MAC address looked up in a
// dynamic set (SetKind::kDeviceMeter), the element added when missing and its timeout restarted
// (a set without timeouts: `add`); then the element's own statement runs: with a `rate`, a token
// bucket that fails the rule while the device stays within it (the rule goes on once it is
// past); with `connections`, conntrack's count of the device's connections (nf_conncount: the
// element keeps the packet's connection in a list, and fails the rule while the list holds at
// most that many live ones); with neither, a counter. The
// address is read from the link-layer header, so the rule first requires an Ethernet input
// interface (`meta iiftype ether`, which nft(8) adds for `ether saddr` too): a packet that came
// in without one fails there. When the set is full, a new device's element cannot be added and
// the rule fails for it too.
struct SourceMacMeter {
  std::string set;
  uint32_t set_id = 0;
  uint32_t rate = 0;  // per second; 0: a counter instead of the bucket
  uint32_t burst = 0;
  uint32_t connections = 0;  // with rate 0: the count past which the rule goes on
};
// update @segment-guard { iifname limit rate over 2000/second burst 4000 packets } /
// update @segment-dropped { iifname counter }: the packet's input interface name (16 bytes,
// NUL-padded, as IfNameInSet loads it) looked up in a dynamic set (SetKind::kInterfaceMeter), the
// element added when missing and its timeout restarted; then, with a `rate`, a token bucket that
// fails the rule while the interface stays within it, or without one, a counter. No device
// chooses the key: a device that forges source addresses still comes in through its segment's
// interface. When the set is full, a new interface's element cannot be added and the rule fails.
struct InterfaceMeter {
  std::string set;
  uint32_t set_id = 0;
  uint32_t rate = 0;  // per second; 0: a counter instead of the bucket
  uint32_t burst = 0;
};
// ct label set ether saddr: the connection's label (128 bits: conntrack's labels extension, which
// the kernel gives every connection made once a rule sets labels) set to the packet's source MAC
// address, its first 6 bytes, the rest zero. Accounting's dump reads it back (CTA_LABELS): the
// device that opened each connection, for muzzled's count of the connection limit
// (fw/device/connection_counts.h), whatever source address the device used. As SourceMacMeter,
// the rule first requires an Ethernet input interface (`meta iiftype ether`); the kernel ORs the
// bits in, so it is set once, on a connection's first packet.
struct CtLabelSourceMac {};
}  // namespace nftx

using NftExpr =
    std::variant<nftx::IfNameInSet, nftx::L4Proto, nftx::Port, nftx::Icmpv6Type,
                 nftx::CtStateInvalid, nftx::CtStateNew, nftx::CtDirection, nftx::CtOriginalPort,
                 nftx::CtProtocol, nftx::CtEventSet, nftx::CtStatusNoNat, nftx::CtMarkIs,
                 nftx::SetMetaMark, nftx::CtMarkFromMetaMark, nftx::Counter, nftx::Queue,
                 nftx::Verdict, nftx::Reject, nftx::MarkVmap, nftx::SourceMacMeter,
                 nftx::InterfaceMeter, nftx::CtLabelSourceMac>;

struct RuleLayout {
  std::string chain;
  // What the rule is for, as a kernel error names it: "judge rule 4 (drop conntrack-invalid
  // packets): Operation not supported".
  std::string what;
  std::vector<NftExpr> exprs;
};

enum class Hook { kForward, kInput, kOutput };

struct ChainLayout {
  std::string name;
  std::optional<Hook> hook;  // a base chain: type filter, priority 0, policy accept
  // Its rules are rewritten when only the policy changes (they name the generation): flushed and
  // added again in the policy's transaction. The chain itself is never re-created then:
  // re-creating a base chain unregisters its hook, and the kernel drops queued packets.
  bool per_policy = false;
};

// No set is refilled when only the policy changes (NftRulesetWriter's update path touches none).
enum class SetKind {
  // The managed segments' interface names (@segments): made with the table, which a change of
  // segments replaces, so never refilled.
  kInterfaceNames,
  // Source MAC addresses the rules add themselves (nftx::SourceMacMeter), each with a statement
  // of its own and a timeout (or none: the kernel drops an element whose connection count fell
  // to 0): made empty with the table and never refilled, so a policy change keeps what they
  // hold.
  kDeviceMeter,
  // Input interface names the rules add themselves (nftx::InterfaceMeter), each with a statement
  // and a timeout, nft type ifname: made empty with the table and never refilled, like the
  // device meters.
  kInterfaceMeter,
};

struct SetLayout {
  std::string name;
  uint32_t id = 0;  // how rules of the same transaction refer to the set
  SetKind kind = SetKind::kInterfaceNames;
  std::vector<std::string> ifnames{};  // kInterfaceNames only
  // kDeviceMeter and kInterfaceMeter only: how long an element stays after the rule last touched
  // it (0: no timeout), and how many
  // the set may hold (the kernel then refuses new ones: the memory a flood of forged source
  // addresses can take is bounded).
  uint32_t timeout_ms = 0;
  uint32_t size = 0;
};

// The flood guard's sets (RulesetSpec::flood_rate), named once: the rule and the sets made here,
// and the reader of the counts (flood_dump.h), must agree on them. @flood-guard holds each
// device's token bucket, @flood-dropped the count of what the bucket dropped.
inline constexpr const char* kFloodGuardSet = "flood-guard";
inline constexpr const char* kFloodDroppedSet = "flood-dropped";
// Room for this many devices in each.
inline constexpr uint32_t kFloodSetSize = 65536;
// How long @flood-dropped keeps a device's count after its last dropped packet: far longer than
// muzzled takes between two reads, so no drop goes unread. @conn-limit-dropped too.
inline constexpr uint32_t kFloodDroppedTimeoutMs = 120'000;
// The connection limit's sets (RulesetSpec::conn_limit): @conn-limit holds each device's list of
// connections (no timeout: an element goes when its last connection has), @conn-limit-dropped
// the count of what the limit dropped. Their size is kFloodSetSize.
inline constexpr const char* kConnLimitSet = "conn-limit";
inline constexpr const char* kConnLimitDroppedSet = "conn-limit-dropped";
// The segment guard's sets (RulesetSpec::segment_rate), keyed by input interface name:
// @segment-guard holds each interface's token bucket (its timeout the flood guard's rule: until
// the bucket would be full again), @segment-dropped the count of what the bucket dropped (kept
// kFloodDroppedTimeoutMs, like @flood-dropped).
inline constexpr const char* kSegmentGuardSet = "segment-guard";
inline constexpr const char* kSegmentDroppedSet = "segment-dropped";
// Room for this many input interfaces in each: the box's own interfaces, which no device can
// make more of (one per VLAN ID at most, 4094, and a few more). An interface past it goes
// unguarded (its element cannot be added, so the rule fails), as before the guard.
inline constexpr uint32_t kSegmentSetSize = 4096;

// The key of an interface name in a set, as `meta iifname` loads it: IFNAMSIZ (16) bytes, the
// name cut to 15 and padded with NULs (the kernel's names are at most 15 bytes and end in one).
inline constexpr size_t kInterfaceNameKeyLength = 16;
std::vector<uint8_t> interfaceNameKey(const std::string& name);

// The key of a source MAC address in a set (SetKind::kDeviceMeter), as `ether saddr` loads it.
inline constexpr uint32_t kEtherAddressLength = 6;

inline constexpr const char* kRulesetTable = "muzzle";  // in family inet

struct RulesetLayout {
  std::string table = kRulesetTable;
  std::vector<SetLayout> sets;      // created first: rules look them up
  std::vector<ChainLayout> chains;  // in creation order
  std::vector<RuleLayout> rules;    // in the order they are appended, each to its chain
  // The chains in the order describeRuleset() lists them: the hooks first, then where they lead.
  std::vector<std::string> listing;
};

// The table for `spec`. Does not check the generation's range (the writer does).
RulesetLayout rulesetLayout(const RulesetSpec& spec);

// One rule as nft(8) writes it, without its chain: "iifname @segments goto judge".
std::string nftText(const RuleLayout& rule);

}  // namespace muzzle

// What table `inet muzzle` holds: see ruleset_layout.h. The order of the rules is the contract
// with the engine (fw/nft/marks.h): every comment below says why a rule stands where it does.
#include "fw/nft/ruleset_layout.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

#include <algorithm>

#include "fw/nft/marks.h"

namespace muzzle {
namespace {

using namespace nftx;  // NOLINT: the rules read as nft text

// ICMPv6 messages IPv6 cannot live without on a link: MLD (130-132, 143) and neighbour
// discovery (133-137). They have no conntrack entry, so judging them would queue every one.
constexpr uint8_t kIcmpv6InfraFirst = 130;
constexpr uint8_t kIcmpv6InfraLast = 137;
constexpr uint8_t kIcmpv6Mld2Report = 143;
constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kDhcpServerPort = 67;
constexpr uint16_t kDhcpClientPort = 68;
// 1-2 were the DoH resolver sets, gone since decide() looks the list up (2026-12-07); 3-6 the
// accounting sets, gone since conntrack counts (conntrack_counts.h). Not reused: the golden
// batches keep their ids.
constexpr uint32_t kVerdictMapSetId = 7;
constexpr uint32_t kSegmentsSetId = 8;
constexpr uint32_t kFreshVerdictMapSetId = 9;
constexpr uint32_t kInputVerdictMapSetId = 10;
constexpr uint32_t kFloodGuardSetId = 11;
constexpr uint32_t kFloodDroppedSetId = 12;
constexpr uint32_t kConnLimitSetId = 13;
constexpr uint32_t kConnLimitDroppedSetId = 14;
constexpr uint32_t kSegmentGuardSetId = 15;
constexpr uint32_t kSegmentDroppedSetId = 16;
constexpr const char* kSegmentsSet = "segments";
constexpr uint8_t kUdp = IPPROTO_UDP;
constexpr uint8_t kTcp = IPPROTO_TCP;

const char* protoName(uint8_t proto) { return proto == kUdp ? "udp" : "tcp"; }

// The packet came from a managed segment (iifname @segments), or leaves to one (oifname).
IfNameInSet fromSegment() { return {false, kSegmentsSet, kSegmentsSetId}; }
IfNameInSet toSegment() { return {true, kSegmentsSet, kSegmentsSetId}; }

class LayoutBuilder {
 public:
  explicit LayoutBuilder(const RulesetSpec& spec) : spec_(spec) {}

  void add(const char* chain, std::string what, std::vector<NftExpr> exprs) {
    layout_.rules.push_back({chain, std::move(what), std::move(exprs)});
  }
  // To the flow queues (fanned out when there are several), or to the inspection queue.
  Queue flowQueue() const {
    return {spec_.queue_first, spec_.queue_count, spec_.fail_open, spec_.queue_mode};
  }
  Queue inspectionQueue() const {
    return {spec_.inspectionQueue(), 1, spec_.fail_open, spec_.queue_mode};
  }
  std::string queueWhat(const std::string& what) const {
    return what + queueModeName(spec_.queue_mode) + ")";
  }
  uint32_t mark(VerdictCode code) const { return verdictMark(spec_.generation, code); }

  RulesetLayout& layout() { return layout_; }
  const RulesetSpec& spec() const { return spec_; }

 private:
  const RulesetSpec& spec_;
  RulesetLayout layout_;
};

// A refused flow, reached from the conntrack mark's verdict map or a fresh verdict saved. Its DNS
// answers and DHCP requests still reach muzzled first (`dns-dhcp`): muzzled reads every one,
// whatever the flow's verdict (a late answer on a flow refused since is dropped by muzzled, not
// rejected here).
void addRefusingChains(LayoutBuilder& b) {
  b.add("deny", "deny rule 1 (DNS answers and DHCP requests: to muzzled)",
        {Verdict{Verdict::kJump, "dns-dhcp"}});
  b.add("deny", "deny rule 2 (TCP reset)", {L4Proto{kTcp}, Reject{true}});
  b.add("deny", "deny rule 3 (ICMP administratively prohibited)", {Reject{false}});
  b.add("discard", "discard rule 1 (DNS answers and DHCP requests: to muzzled)",
        {Verdict{Verdict::kJump, "dns-dhcp"}});
  b.add("discard", "discard rule 2 (drop)", {Verdict{Verdict::kDrop, ""}});
}

// Rewritten with `judge`: rule 3 names the current generation.
void addDnsAnswerChain(LayoutBuilder& b) {
  b.add("dns-answer", "dns-answer rule 1 (hint: a DNS answer)", {SetMetaMark{kHintDnsAnswer}});
  b.add("dns-answer", "dns-answer rule 2 (hint: reply direction)",
        {CtDirection{true}, SetMetaMark{kHintDnsAnswer | kHintReplyDirection}});
  // An answer on a flow this generation allowed (the device's own query's flow, through
  // `inspected`): muzzled need not judge the flow again, only read the answer.
  b.add("dns-answer", "dns-answer rule 3 (hint: its flow is allowed)",
        {CtDirection{true}, CtMarkIs{b.mark(VerdictCode::kAllowInspected), kAllowMask},
         SetMetaMark{kHintDnsAnswer | kHintReplyDirection | kHintFlowAllowed}});
  b.add("dns-answer", b.queueWhat("dns-answer rule 4 (queue to muzzled, "),
        {Counter{}, b.inspectionQueue()});
}

// Rewritten with `judge`: its rules name the current generation. Reached from `inspected` (an
// allowed flow muzzled reads) or from `judge` (an undecided flow); never by a refused flow, which
// the verdict map refuses first.
void addDnsQueryChain(LayoutBuilder& b) {
  b.add("dns-query", "dns-query rule (an allowed flow: queue to muzzled)",
        {CtMarkIs{b.mark(VerdictCode::kAllowInspected), kAllowMask},
         SetMetaMark{kHintDnsQuery | kHintFlowAllowed}, Counter{}, b.inspectionQueue()});
  if (b.spec().new_connection_hint) {
    b.add("dns-query",
          b.queueWhat("dns-query rule (undecided, a new connection: queue to muzzled, "),
          {CtStateNew{}, CtLabelSourceMac{}, SetMetaMark{kHintDnsQuery | kHintNewConnection},
           Counter{}, b.inspectionQueue()});
  }
  b.add("dns-query", b.queueWhat("dns-query rule (undecided: queue to muzzled, "),
        {SetMetaMark{kHintDnsQuery}, Counter{}, b.inspectionQueue()});
}

// `udp/tcp sport 53 oifname @segments goto dns-answer`, in `chain`. In every rule that looks an
// interface up in @segments beside a port, the port comes first: a rule stops at its first
// failing match, and the lookup (a hash of the 16-byte name) costs several times the protocol's
// and the port's comparisons. A new flow from a device walks five such rules before it is
// queued, and their ports fail for all but DNS and DHCP, so it makes no lookup in them, where
// it used to make five (established_path_test pins it).
void addDnsAnswerRules(LayoutBuilder& b, const char* chain) {
  for (const uint8_t proto : {kUdp, kTcp}) {
    b.add(chain,
          std::string(chain) + " rule (DNS answers over " + protoName(proto) + " to a segment)",
          {Port{proto, true, kDnsPort}, toSegment(), Verdict{Verdict::kGoto, "dns-answer"}});
  }
}

// `dns-query` from a segment, for both protocols, in `chain`: the query direction only (a
// device's own DNS server answering is not a query).
void addDnsQueryRules(LayoutBuilder& b, const char* chain) {
  for (const uint8_t proto : {kUdp, kTcp}) {
    b.add(chain,
          std::string(chain) + " rule (DNS queries over " + protoName(proto) + " from a segment)",
          {Port{proto, false, kDnsPort}, CtDirection{false}, fromSegment(),
           Verdict{Verdict::kJump, "dns-query"}});
  }
}

// The flood guard (RulesetSpec::flood_rate), in `judge` behind the invalid check: every new flow
// reaches muzzled's queue, and muzzled judges one after another, so a device that opens new flows
// faster than that (a scan, a flood of random ports, a worm) would delay every other device's
// first packets and fill the queue, whose overflow is dropped. Here each device has a token
// bucket in @flood-guard, keyed by its source MAC address: a new flow past its rate and burst is
// dropped in the kernel, at a fraction of what judging it costs, and counted under the device in
// @flood-dropped, which muzzled reads to say which device floods (Daemon::readFloodGuard).
// Ahead of the fast lane, so that DNS queries and DHCP requests are held to it too, and behind
// the invalid check, which it needs the conntrack entry of. Only a connection's first packets
// (ct state new): a flow judged before, met again after a policy change, is never dropped here.
// Flows from beyond the box share the MAC address of the router they came through.
// A device that forges a new source address for each flow gets a new bucket each time; the
// sets' size bounds what it can make the kernel hold, and past it a new address's flows go on
// unheld by this rule. The segment guard's rule, right behind this one, holds those: see
// addGuardRules.
// The other packets a device sends to muzzled's inspection queue, one by one, spend the same
// bucket (the rules in `input` and `inspected`): its DHCP requests, and the packets it sends on
// its allowed DNS and DHCP flows after their first (more queries on a TCP connection, a query
// retried); otherwise one device could fill the inspection queue, which every device's DNS
// answers pass, with thousands of packets on one connection.
//
// The segment guard (RulesetSpec::segment_rate): the same packets, then held to a token bucket of
// their input interface in @segment-guard, and counted in @segment-dropped when dropped. A device
// that forges a new source MAC address per packet (a hacked camera) gets a fresh bucket from the
// flood guard each time, but it cannot forge the interface it comes in through: here its flood
// spends its own segment's bucket, and muzzled's queue, which every segment shares, takes at most
// the segment's rate from it. Every other segment, and the uplink, keep their own buckets. Right
// behind the flood guard's rule: an honest device past its own rate is dropped there first, and
// its excess never spends its segment's tokens. Keyed by every input interface, not the segments'
// alone: a new flow that comes in from the uplink (or from a LAN that is no segment) toward a
// segment is held to that interface's bucket, so a flood from there costs its own side's flows.
// `what` names the rule of each guard: "judge rule (flood guard: ...)" and "(segment guard: ...)".
void addGuardRules(LayoutBuilder& b, const char* chain, const std::string& device_what,
                   const std::string& segment_what, const std::vector<NftExpr>& matches) {
  const RulesetSpec& spec = b.spec();
  if (spec.flood_rate > 0) {
    std::vector<NftExpr> exprs = matches;
    exprs.push_back(
        SourceMacMeter{kFloodGuardSet, kFloodGuardSetId, spec.flood_rate, spec.flood_burst});
    exprs.push_back(SourceMacMeter{kFloodDroppedSet, kFloodDroppedSetId});
    exprs.push_back(Counter{});
    exprs.push_back(Verdict{Verdict::kDrop, ""});
    b.add(chain, device_what, std::move(exprs));
  }
  if (spec.segment_rate > 0) {
    std::vector<NftExpr> exprs = matches;
    exprs.push_back(InterfaceMeter{kSegmentGuardSet, kSegmentGuardSetId, spec.segment_rate,
                                   spec.segment_burst});
    exprs.push_back(InterfaceMeter{kSegmentDroppedSet, kSegmentDroppedSetId});
    exprs.push_back(Counter{});
    exprs.push_back(Verdict{Verdict::kDrop, ""});
    b.add(chain, segment_what, std::move(exprs));
  }
}

// Whether either guard holds what devices send muzzled: `dhcp-request` exists then.
bool guarded(const RulesetSpec& spec) { return spec.flood_rate > 0 || spec.segment_rate > 0; }

// `udp dport 67 iifname @segments meta mark set 0x80 counter queue`: a DHCP request from a
// segment to muzzled, which reads it and accepts it (marks.h: kHintDhcpRequest). In `input` for
// the box's own requests and in `inspected` for those to a server beyond the box.
void addReadDhcpRequestRule(LayoutBuilder& b, const char* chain, const std::string& what) {
  b.add(chain, what,
        {Port{kUdp, false, kDhcpServerPort}, fromSegment(), SetMetaMark{kHintDhcpRequest},
         Counter{}, b.inspectionQueue()});
}

// DNS answers to devices and DHCP requests between devices, whatever their flow's verdict:
// reached by jump from `judge` (undecided flows), `inspected`, `deny` and `discard`; returns when
// the packet is neither. DNS answers reach muzzled on every packet, so the name is learned before
// the device sees the answer.
//
// A DHCP request from a segment to a segment (a DHCP server on the segment, or the copies of a
// broadcast request the bridge floods to its other ports) is accepted here, unread: every request
// muzzled reads is the copy the box itself receives, read in `input` (addDhcpRequestRule). Reading
// each flooded copy too made one broadcast from a device as many reads, fingerprints and log
// lines as the bridge has ports. A packet to port 67 anywhere else (the internet) is no DHCP
// request the box's segments need: it is judged like any flow, where it used to be accepted
// whatever the policy (a device could send anything to any host's port 67).
void addDnsDhcpChain(LayoutBuilder& b) {
  addDnsAnswerRules(b, "dns-dhcp");
  b.add("dns-dhcp", "dns-dhcp rule (DHCP requests from a segment to a segment)",
        {Port{kUdp, false, kDhcpServerPort}, fromSegment(), toSegment(),
         Verdict{Verdict::kAccept, ""}});
}

// DHCP requests from a segment to the box, first in `input`: muzzled reads each one (they say
// who the device is: hostname, vendor class, MUD URL) and accepts it at once, whatever its
// flow's verdict. Ahead of the conntrack mark's map, because the requests of every device
// without an address share one connection (0.0.0.0:68 to 255.255.255.255:67) and no verdict
// saved on it may keep one device's request from the box's server; and ahead of `judge`'s
// invalid check, because a broadcast the bridge passes up while it is promiscuous (a capture on
// the box) carries no conntrack entry (br_netfilter detaches it), and the box's DHCP server
// must not go deaf while someone watches the segment.
// Each one reaches muzzled, whatever its conntrack state: in a chain of their own, held to the
// device's flood-guard bucket first, then to its segment's (with either guard on; the chain is
// there whenever one is), so that every other packet to the box fails one rule here, at its port,
// as before the guards.
void addDhcpRequestRule(LayoutBuilder& b) {
  if (!guarded(b.spec())) {
    addReadDhcpRequestRule(b, "input", "input rule (DHCP requests from a segment: to muzzled)");
    return;
  }
  b.add(
      "input", "input rule (DHCP requests from a segment: to dhcp-request)",
      {Port{kUdp, false, kDhcpServerPort}, fromSegment(), Verdict{Verdict::kGoto, "dhcp-request"}});
  addGuardRules(b, "dhcp-request",
                "dhcp-request rule (flood guard: a device's requests past its rate)",
                "dhcp-request rule (segment guard: a segment's requests past its rate)", {});
  addReadDhcpRequestRule(b, "dhcp-request", "dhcp-request rule (to muzzled)");
}

// An allowed flow with port 53 or 67 on one side (marks.h: kAllowInspected): what muzzled reads
// goes to it, the rest (an ICMP error about the flow, a packet of a device's own DNS server) is
// allowed as any packet of an allowed flow.
void addInspectedChain(LayoutBuilder& b) {
  b.add("inspected", "inspected rule 1 (DNS answers to muzzled, DHCP requests to a segment)",
        {Verdict{Verdict::kJump, "dns-dhcp"}});
  // What a device sends on such a flow after its first packet (which `judge` held to the guards)
  // reaches muzzled packet by packet: held to the device's bucket and its segment's too.
  addGuardRules(b, "inspected",
                "inspected rule (flood guard: a device's queries past its rate, dropped)",
                "inspected rule (segment guard: a segment's queries past its rate, dropped)",
                {CtDirection{false}, fromSegment()});
  addDnsQueryRules(b, "inspected");
  // A DHCP request to a server elsewhere (the box relays, or a device renews with the server that
  // leased it), on a connection the policy allows: read, as the box reads the requests it
  // receives. Only here: on an undecided or refused flow a packet to port 67 outside the segments
  // is judged like any other. Behind the DNS query rules, which every query on an allowed flow
  // meets.
  addReadDhcpRequestRule(b, "inspected",
                         "inspected rule (DHCP requests on an allowed flow: to muzzled)");
  b.add("inspected", "inspected rule (the rest of an allowed flow)", {Verdict{Verdict::kAccept, ""}});
}

// The connection limit as the kernel counts it (RulesetSpec::conn_limit: a box without accounting;
// with it muzzled counts, fw/device/connection_counts.h, for the cost of the walk below), first in
// `save-allowed`: conntrack has room
// for so many connections, and a device that holds them by the thousand (a hacked camera opening
// connections to a destination its policy allows, and keeping them) would leave none for the
// other devices' new flows, whatever their policies say. Here each device on a segment has a
// list of its connections in @conn-limit, keyed by its source MAC address, and an allowed new
// flow past the limit is dropped with its verdict, before the verdict is saved, and counted in
// @conn-limit-dropped (Daemon::readFloodGuard). Refused flows are never counted: their entries
// are not kept. On the walk after the verdict, not the one that queues the flow: conntrack
// confirms the connection later on this same walk, in the same call, while a connection left
// waiting in the queue would be taken for a gone one by the count (nf_conncount forgets an
// unconfirmed entry the next time the same CPU adds one) and never counted. Only new
// connections: a flow judged before, met again after a policy change, holds its entry already.
// Only from a segment: the flows that come in from the uplink share the MAC address of the
// router they came through. The count forgets closed connections a few at a time, each time
// the device opens one and once a second besides, so a device that closed thousands at once
// gets back under the limit within seconds, not at once. Each add walks the device's whole list
// (at most once a tick), ~90 ns a connection it holds, on muzzled's queue thread.
void addConnLimitRule(LayoutBuilder& b) {
  const RulesetSpec& spec = b.spec();
  if (spec.conn_limit == 0) return;
  b.add("save-allowed", "save-allowed rule (connection limit: a device's connections past it)",
        {CtStateNew{}, fromSegment(),
         SourceMacMeter{
             .set = kConnLimitSet, .set_id = kConnLimitSetId, .connections = spec.conn_limit},
         SourceMacMeter{kConnLimitDroppedSet, kConnLimitDroppedSetId}, Counter{},
         Verdict{Verdict::kDrop, ""}});
}

// A fresh verdict from muzzled, reached from `judge`'s packet-mark map: saved in the conntrack
// mark, so that the flow's later packets meet it in `judge`'s first lookup, and acted on. An
// allowed connection with port 53 or 67 on one side, as opened, is saved with verdict code 0
// (marks.h), so that the conntrack mark's map sends its later packets to `inspected`: its DNS
// answers and queries and DHCP requests must still reach muzzled. By the connection's ports, not
// the packet's: the packet that carries the verdict may be an ICMP error about the flow.
// `save-allowed` is rewritten with `judge`: its UDP rule follows RulesetSpec::udp_ends, which
// accounting changes at run time.
void addSavingChains(LayoutBuilder& b) {
  const Verdict allow{Verdict::kAccept, ""};
  addConnLimitRule(b);
  // Which events the kernel builds for an allowed UDP connection, when accounting wants a say
  // (RulesetSpec::udp_ends says why and when the destroy event is left out).
  constexpr uint32_t kAllEvents = (1u << (IPCT_SYNPROXY + 1)) - 1;
  const bool udp_events = b.spec().udp_ends != RulesetSpec::UdpEnds::kUntouched;
  const bool dumps = b.spec().udp_ends == RulesetSpec::UdpEnds::kDumps;
  const uint32_t udp_event_mask = dumps ? kAllEvents & ~(1u << IPCT_DESTROY) : kAllEvents;
  // The fast lane, first: a TCP or UDP packet of a connection without NAT carries the
  // connection's own ports, so when none of them is 53 or 67 it is saved whole, here, in a rule
  // of inline loads, where the four rules below each load a port of the conntrack tuple (the
  // dearest expressions of this walk, ~50 ns each on the bench's gateway). Anything else (an
  // ICMP error about the flow, a translated connection, a DNS or DHCP port) goes on to them.
  for (const uint8_t proto : {kTcp, kUdp}) {
    std::vector<NftExpr> exprs = {Port{proto, true, kDnsPort, true},
                                  Port{proto, false, kDnsPort, true},
                                  Port{proto, true, kDhcpServerPort, true},
                                  Port{proto, false, kDhcpServerPort, true},
                                  CtStatusNoNat{},
                                  CtMarkFromMetaMark{}};
    if (proto == kUdp && udp_events) exprs.push_back(CtEventSet{udp_event_mask});
    exprs.push_back(Counter{});
    exprs.push_back(allow);
    b.add("save-allowed",
          std::string("save-allowed rule (") + protoName(proto) +
              ", no DNS or DHCP port, no NAT: saved whole)",
          std::move(exprs));
  }
  for (const bool source : {false, true}) {
    for (const uint16_t port : {kDnsPort, kDhcpServerPort}) {
      b.add(
          "save-allowed",
          std::string("save-allowed rule (port ") + std::to_string(port) +
              (source ? " as source)" : " as destination)"),
          {CtOriginalPort{source, port}, CtMarkFromMetaMark{~kVerdictCodeBits}, Counter{}, allow});
    }
  }
  if (udp_events) {
    b.add("save-allowed",
          std::string("save-allowed rule (UDP, ") + (dumps ? "no destroy event)" : "every event)"),
          {CtProtocol{IPPROTO_UDP}, CtMarkFromMetaMark{}, CtEventSet{udp_event_mask}, Counter{},
           allow});
  }
  b.add("save-allowed", "save-allowed rule (the rest)", {CtMarkFromMetaMark{}, Counter{}, allow});
  b.add("save-rejected", "save-rejected rule 1 (to deny)",
        {CtMarkFromMetaMark{}, Counter{}, Verdict{Verdict::kGoto, "deny"}});
  b.add("save-dropped", "save-dropped rule 1 (drop)",
        {CtMarkFromMetaMark{}, Counter{}, Verdict{Verdict::kDrop, ""}});
}

// The established path, first in the forward base chain and second in input (behind the DHCP
// requests muzzled reads whatever their flow's verdict: addDhcpRequestRule): a flow judged earlier
// under this generation is decided here, in one lookup, ahead of the interface lookups: only a
// segment's flow ever carries this generation's verdict in its conntrack mark (the save chains,
// reached from `judge` alone, put it there). Traffic of no segment meets the map too and misses it,
// unless another table or subsystem set a conntrack mark equal to this generation's verdict under
// kAllowMask: such a flow is decided as that verdict says, where behind the interface lookups only
// a segment's flow could be. The base chains are therefore rewritten with the policy (their rules
// flushed, never the chains re-created). An allowed mark carries the flow's traffic class
// (marks.h): looked up under kAllowMask (refused marks carry class 0). No counter: this runs for
// every packet of every flow, and nothing reads one here (conntrack counts each connection for
// accounting: conntrack_counts.h). A packet conntrack calls invalid has no conntrack entry (the
// kernel detaches it), so loading its mark fails and the rule does not match. And ahead of
// `judge`'s packet mark map: when two packets of a flow were queued at once, the second one's fresh
// verdict meets the first one's, saved, here, and the first verdict of a generation stands.
void addVerdictMapRule(LayoutBuilder& b, const char* chain, uint32_t set_id) {
  const Verdict allow{Verdict::kAccept, ""};
  b.add(chain, std::string(chain) + " rule (the verdict in the conntrack mark)",
        {MarkVmap{.packet_mark = false,
                  .mask = kAllowMask,
                  .elements = {{b.mark(VerdictCode::kAllowInspected),
                                Verdict{Verdict::kGoto, "inspected"}},
                               {b.mark(VerdictCode::kAllow), allow},
                               {b.mark(VerdictCode::kReject), Verdict{Verdict::kGoto, "deny"}},
                               {b.mark(VerdictCode::kDrop), Verdict{Verdict::kGoto, "discard"}}},
                  .set_id = set_id}});
}

// How long @flood-guard keeps a device's bucket after its last new flow (and @segment-guard an
// interface's): until the bucket would have filled up again (burst / rate), and a second more. A
// bucket forgotten then and made again is full, as the old one would have been.
uint32_t bucketTimeoutMs(uint32_t rate, uint32_t burst) {
  const uint64_t refill_ms = (uint64_t{burst} * 1000 + rate - 1) / rate;
  return static_cast<uint32_t>(std::min<uint64_t>(refill_ms + 1000, kFloodDroppedTimeoutMs));
}

void addJudgeChain(LayoutBuilder& b) {
  // A fresh verdict from muzzled (NF_REPEAT with a packet mark): to the chain that saves it in
  // the conntrack mark and acts on it, in one lookup. First in `judge` (the conntrack mark's map
  // is the base chain's), ahead of the next four rules, because the packet passed each of them
  // unmatched on the walk that queued it (NF_REPEAT runs the same hook again, on the same
  // conntrack state): neighbour discovery and MLD are accepted there, invalid packets dropped,
  // DNS answers queued to muzzled, which answers those NF_ACCEPT or NF_DROP, never NF_REPEAT,
  // and DHCP requests between segments accepted. An undecided packet fails here once, where it
  // used to fail seven rules that each compared the packet mark: its mark is 0 (generation 0 is
  // never a verdict's), which fails the compare ahead of the lookup (skip_zero: every new flow's
  // first walk passes here, and a lookup that misses costs its hash, its probe and the map's
  // catch-all list), or one another table or subsystem set before `judge`, which only a mark
  // equal to this generation's verdict would match, as it would have matched those seven rules.
  b.add("judge", "judge rule 1 (a fresh verdict in the packet mark)",
        {MarkVmap{
            .packet_mark = true,
            .mask = kAllowMask,
            .elements = {{b.mark(VerdictCode::kAllow), Verdict{Verdict::kGoto, "save-allowed"}},
                         {b.mark(VerdictCode::kReject), Verdict{Verdict::kGoto, "save-rejected"}},
                         {b.mark(VerdictCode::kDrop), Verdict{Verdict::kGoto, "save-dropped"}}},
            .set_id = kFreshVerdictMapSetId,
            .skip_zero = true}});
  // Before the invalid check: conntrack tracks no neighbour discovery and MLD, and calls them
  // invalid.
  b.add("judge", "judge rule 2 (IPv6 neighbour discovery and MLD)",
        {Icmpv6Type{kIcmpv6InfraFirst, kIcmpv6InfraLast}, Verdict{}});
  b.add("judge", "judge rule 3 (MLDv2 reports)",
        {Icmpv6Type{kIcmpv6Mld2Report, kIcmpv6Mld2Report}, Verdict{}});
  b.add("judge", "judge rule 4 (drop conntrack-invalid packets)",
        {CtStateInvalid{}, Counter{}, Verdict{Verdict::kDrop, ""}});
  addGuardRules(b, "judge", "judge rule (flood guard: a device's new flows past its rate, dropped)",
                "judge rule (segment guard: a segment's new flows past its rate, dropped)",
                {CtStateNew{}});
  // Undecided from here on (no mark of this generation in the conntrack, no verdict yet).
  // The fast lane: what `dns-dhcp` and the DNS query rules below look for is a TCP or UDP packet
  // from port 53 (an answer), to port 53 (a query) or to port 67 (a DHCP request); a packet with
  // none of those ports goes straight to `ask`, past the six rules and the jump it would fail.
  // Most first packets are such. `th`, not one rule per protocol: every rule it skips wants TCP
  // or UDP, so another protocol's bytes compared here only decide which way it takes to the
  // same end, and one whose transport bytes the kernel cannot read fails this rule.
  // Installed as three compares (libnftnl). nft 1.0.6 reading this rule as text (`th sport !=
  // 53 th dport != 53 ...`, as `nft list` or --print-ruleset write it) sorts and merges adjacent
  // compares into one 32-bit `!=`, "not both" where the rule says "neither": a table loaded back
  // from such text would pass DNS answers by `dns-dhcp` until muzzled replaces it at start.
  b.add("judge", "judge rule 5 (no DNS or DHCP port: straight to ask)",
        {Port{0, true, kDnsPort, true}, Port{0, false, kDnsPort, true},
         Port{0, false, kDhcpServerPort, true}, Verdict{Verdict::kGoto, "ask"}});
  b.add("judge", "judge rule 6 (DNS answers to muzzled, DHCP requests to a segment)",
        {Verdict{Verdict::kJump, "dns-dhcp"}});
  // DNS queries from devices reach muzzled on every packet, so it knows which questions an
  // answer may answer. After the packet mark's map, so the NF_REPEAT that judges an undecided
  // query is acted on there and never queued again.
  addDnsQueryRules(b, "judge");
  b.add("judge", "judge rule (the rest: ask)", {Verdict{Verdict::kGoto, "ask"}});
}

// Undecided, reached from `judge` alone: clear our hint bits, say which direction the packet
// travels, ask muzzled. Not rewritten with the policy: nothing here names the generation.
// No address lookup: whether the destination is a DoH resolver is decide()'s question, asked of
// the compiled policy's list for a flow to port 443 alone, where two rules here looked every
// first packet's destination up in @doh4 or @doh6 (until 2026-12-07).
void addAskChain(LayoutBuilder& b) {
  b.add("ask", "ask rule (clear the packet mark)", {SetMetaMark{0}});
  // A connection's first packet: its sender's MAC address in the connection's label (the device
  // muzzled's recount finds it by), and the hint muzzled counts it by. A reply-direction packet
  // is never a connection's first: the two marks never meet. A packet that came in without an
  // Ethernet header (a tunnel uplink) fails the rule: from no segment, it counts for no device.
  if (b.spec().new_connection_hint) {
    b.add("ask", "ask rule (a connection's first packet: label and mark it)",
          {CtStateNew{}, CtLabelSourceMac{}, SetMetaMark{kHintNewConnection}});
  }
  b.add("ask", "ask rule (mark reply-direction packets)",
        {CtDirection{true}, SetMetaMark{kHintReplyDirection}});
  b.add("ask", b.queueWhat("ask rule (queue to muzzled, "), {Counter{}, b.flowQueue()});
}

void addOutputChain(LayoutBuilder& b) {
  // Answers from a resolver on the box (dnsmasq on the gateway) leave through output.
  addDnsAnswerRules(b, "output");
  // Leases from a DHCP server on the box. Only these: a DHCP reply forwarded from a device on
  // a segment would let any device forge leases (a server using raw sockets is not seen).
  b.add("output", "output rule (DHCP replies from the box to a segment)",
        {Port{kUdp, true, kDhcpServerPort}, Port{kUdp, false, kDhcpClientPort}, toSegment(),
         SetMetaMark{kHintDhcpReply}, Counter{}, b.inspectionQueue()});
}

}  // namespace

std::vector<uint8_t> interfaceNameKey(const std::string& name) {
  std::vector<uint8_t> key(kInterfaceNameKeyLength, 0);
  std::copy_n(name.begin(), std::min(name.size(), kInterfaceNameKeyLength - 1), key.begin());
  return key;
}

RulesetLayout rulesetLayout(const RulesetSpec& spec) {
  LayoutBuilder b(spec);
  RulesetLayout& layout = b.layout();
  layout.sets.push_back({.name = kSegmentsSet,
                         .id = kSegmentsSetId,
                         .kind = SetKind::kInterfaceNames,
                         .ifnames = spec.segment_ifnames});
  // The device meters: made empty, with room for kFloodSetSize devices each; the interface
  // meters with room for kSegmentSetSize interfaces.
  const auto add_meter = [&layout](const char* name, uint32_t id, uint32_t timeout_ms,
                                   SetKind kind = SetKind::kDeviceMeter) {
    layout.sets.push_back(
        {.name = name,
         .id = id,
         .kind = kind,
         .timeout_ms = timeout_ms,
         .size = kind == SetKind::kDeviceMeter ? kFloodSetSize : kSegmentSetSize});
  };
  if (spec.flood_rate > 0) {
    add_meter(kFloodGuardSet, kFloodGuardSetId, bucketTimeoutMs(spec.flood_rate, spec.flood_burst));
    add_meter(kFloodDroppedSet, kFloodDroppedSetId, kFloodDroppedTimeoutMs);
  }
  if (spec.conn_limit > 0) {
    add_meter(kConnLimitSet, kConnLimitSetId, 0);  // an element goes with its last connection
    add_meter(kConnLimitDroppedSet, kConnLimitDroppedSetId, kFloodDroppedTimeoutMs);
  }
  if (spec.segment_rate > 0) {
    add_meter(kSegmentGuardSet, kSegmentGuardSetId,
              bucketTimeoutMs(spec.segment_rate, spec.segment_burst), SetKind::kInterfaceMeter);
    add_meter(kSegmentDroppedSet, kSegmentDroppedSetId, kFloodDroppedTimeoutMs,
              SetKind::kInterfaceMeter);
  }
  layout.chains = {{"judge", std::nullopt, true},          {"inspected", std::nullopt, false},
                   {"dns-dhcp", std::nullopt, false},      {"deny", std::nullopt, false},
                   {"discard", std::nullopt, false},       {"save-allowed", std::nullopt, true},
                   {"save-rejected", std::nullopt, false}, {"save-dropped", std::nullopt, false},
                   {"dns-answer", std::nullopt, true},     {"dns-query", std::nullopt, true},
                   {"ask", std::nullopt, false},           {"forward", Hook::kForward, true},
                   {"input", Hook::kInput, true},          {"output", Hook::kOutput, false}};
  layout.listing = {"forward",      "input",         "output",       "judge",     "ask",
                    "save-allowed", "save-rejected", "save-dropped", "inspected", "dns-dhcp",
                    "dns-answer",   "dns-query",     "deny",         "discard"};
  if (guarded(spec)) {
    // Made before `input`, whose rule goes to it; listed after `ask`.
    layout.chains.insert(layout.chains.begin(), {"dhcp-request", std::nullopt, false});
    layout.listing.insert(std::find(layout.listing.begin(), layout.listing.end(), "ask") + 1,
                          "dhcp-request");
  }
  addRefusingChains(b);
  addDnsDhcpChain(b);
  addInspectedChain(b);
  addDnsAnswerChain(b);
  addDnsQueryChain(b);
  addSavingChains(b);
  addAskChain(b);
  addJudgeChain(b);
  addOutputChain(b);
  const Verdict to_judge{Verdict::kGoto, "judge"};
  addVerdictMapRule(b, "forward", kVerdictMapSetId);
  addDhcpRequestRule(b);
  addVerdictMapRule(b, "input", kInputVerdictMapSetId);
  b.add("forward", "forward rule (from a segment)", {fromSegment(), to_judge});
  b.add("forward", "forward rule (to a segment)", {toSegment(), to_judge});
  b.add("input", "input rule (from a segment)", {fromSegment(), to_judge});
  return std::move(layout);
}

}  // namespace muzzle

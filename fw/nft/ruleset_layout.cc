// What table `inet muzzle` holds: see ruleset_layout.h. The order of the rules is the contract
// with the engine (fw/nft/marks.h): every comment below says why a rule stands where it does.
#include "fw/nft/ruleset_layout.h"

#include <netinet/in.h>

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
constexpr uint32_t kDoh4SetId = 1;
constexpr uint32_t kDoh6SetId = 2;
constexpr uint8_t kUdp = IPPROTO_UDP;
constexpr uint8_t kTcp = IPPROTO_TCP;

const char* protoName(uint8_t proto) { return proto == kUdp ? "udp" : "tcp"; }

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

void addDenyChain(LayoutBuilder& b) {
  b.add("deny", "deny rule 1 (TCP reset)", {L4Proto{kTcp}, Reject{true}});
  b.add("deny", "deny rule 2 (ICMP administratively prohibited)", {Reject{false}});
}

void addDnsAnswerChain(LayoutBuilder& b) {
  b.add("dns-answer", "dns-answer rule 1 (hint: a DNS answer)", {SetMetaMark{kHintDnsAnswer}});
  b.add("dns-answer", "dns-answer rule 2 (hint: reply direction)",
        {CtDirection{true}, SetMetaMark{kHintDnsAnswer | kHintReplyDirection}});
  b.add("dns-answer", b.queueWhat("dns-answer rule 3 (queue to muzzled, "),
        {Counter{}, b.inspectionQueue()});
}

// Rewritten with `judge`: its rules name the current generation.
void addDnsQueryChain(LayoutBuilder& b) {
  b.add("dns-query", "dns-query rule 1 (an allowed flow: queue to muzzled)",
        {CtMarkIs{b.mark(VerdictCode::kAllow), kAllowMask},
         SetMetaMark{kHintDnsQuery | kHintFlowAllowed},
         Counter{}, b.inspectionQueue()});
  // A flow already refused: back to `judge`, whose conntrack-mark rules refuse it in the kernel.
  for (const VerdictCode code : {VerdictCode::kReject, VerdictCode::kDrop}) {
    b.add("dns-query", "dns-query rule (a refused flow: decided in the kernel)",
          {CtMarkIs{b.mark(code)}, Verdict{Verdict::kReturn, ""}});
  }
  b.add("dns-query", b.queueWhat("dns-query rule 4 (undecided: queue to muzzled, "),
        {SetMetaMark{kHintDnsQuery}, Counter{}, b.inspectionQueue()});
}

// `oifname SEG udp/tcp sport 53 goto dns-answer`, for every segment, in `chain`.
void addDnsAnswerRules(LayoutBuilder& b, const char* chain) {
  for (const std::string& ifname : b.spec().segment_ifnames) {
    for (const uint8_t proto : {kUdp, kTcp}) {
      b.add(chain,
            std::string(chain) + " rule (DNS answers over " + protoName(proto) + " to segment " +
                ifname + ")",
            {IfName{true, ifname}, Port{proto, true, kDnsPort},
             Verdict{Verdict::kGoto, "dns-answer"}});
    }
  }
}

void addJudgeChain(LayoutBuilder& b) {
  b.add("judge", "judge rule 1 (IPv6 neighbour discovery and MLD)",
        {Icmpv6Type{kIcmpv6InfraFirst, kIcmpv6InfraLast}, Verdict{}});
  b.add("judge", "judge rule 2 (MLDv2 reports)",
        {Icmpv6Type{kIcmpv6Mld2Report, kIcmpv6Mld2Report}, Verdict{}});
  b.add("judge", "judge rule 3 (drop conntrack-invalid packets)",
        {CtStateInvalid{}, Counter{}, Verdict{Verdict::kDrop, ""}});
  // DNS answers to devices reach muzzled on every packet, ahead of the conntrack-mark rules
  // that would otherwise pass them in the kernel: the name must be learned before the device
  // sees the answer.
  addDnsAnswerRules(b, "judge");
  // DHCP requests from devices, every one of them: they say who the device is (hostname,
  // vendor class, MUD URL). muzzled reads them and accepts them at once.
  for (const std::string& ifname : b.spec().segment_ifnames) {
    b.add("judge", "judge rule (DHCP requests from segment " + ifname + ")",
          {IfName{false, ifname}, Port{kUdp, false, kDhcpServerPort}, SetMetaMark{kHintDhcpRequest},
           Counter{}, b.inspectionQueue()});
  }
  // With accounting, an allowed packet is counted on its way out (`account` accepts it); refused
  // ones never are.
  const Verdict allow = b.spec().accounting_addresses > 0 ? Verdict{Verdict::kGoto, "account"}
                                                          : Verdict{Verdict::kAccept, ""};
  const std::pair<VerdictCode, Verdict> acts[] = {
      {VerdictCode::kAllow, allow},
      {VerdictCode::kReject, Verdict{Verdict::kGoto, "deny"}},
      {VerdictCode::kDrop, Verdict{Verdict::kDrop, ""}}};
  // An allowed mark carries the flow's traffic class (marks.h): compared under kAllowMask. A
  // refused one carries none, and is compared whole.
  auto mask = [](VerdictCode code) { return code == VerdictCode::kAllow ? kAllowMask : 0xFFFFFFFF; };
  // A fresh verdict from muzzled (NF_REPEAT with a packet mark): remember it in the conntrack.
  for (const auto& [code, verdict] : acts) {
    b.add("judge", "judge rule (verdict mark from muzzled)",
          {MetaMarkIs{b.mark(code), mask(code)}, CtMarkFromMetaMark{}, Counter{}, verdict});
  }
  // DNS queries from devices reach muzzled on every packet, so it knows which questions an
  // answer may answer. After the verdict-mark rules, so the NF_REPEAT that judges an undecided
  // query is acted on there and never queued again.
  for (const std::string& ifname : b.spec().segment_ifnames) {
    for (const uint8_t proto : {kUdp, kTcp}) {
      b.add("judge",
            std::string("judge rule (DNS queries over ") + protoName(proto) + " from segment " +
                ifname + ")",
            {IfName{false, ifname}, Port{proto, false, kDnsPort}, CtDirection{false},
             Verdict{Verdict::kJump, "dns-query"}});
    }
  }
  // A flow judged earlier under this generation: decided in the kernel.
  for (const auto& [code, verdict] : acts) {
    b.add("judge", "judge rule (conntrack mark)",
          {CtMarkIs{b.mark(code), mask(code)}, Counter{}, verdict});
  }
  // Undecided: clear our hint bits, say which direction the packet travels, ask muzzled.
  b.add("judge", "judge rule (clear the packet mark)", {SetMetaMark{0}});
  b.add("judge", "judge rule (hint IPv4 DoH destinations)",
        {DaddrInSet{false, "doh4", kDoh4SetId}, SetMetaMark{kHintDohDestination}});
  b.add("judge", "judge rule (hint IPv6 DoH destinations)",
        {DaddrInSet{true, "doh6", kDoh6SetId}, SetMetaMark{kHintDohDestination}});
  // In the reply direction the destination is the device, so the DoH hint cannot apply.
  b.add("judge", "judge rule (mark reply-direction packets)",
        {CtDirection{true}, SetMetaMark{kHintReplyDirection}});
  b.add("judge", b.queueWhat("judge rule (queue to muzzled, "), {Counter{}, b.flowQueue()});
}

// `account` (IPv4, after sending IPv6 to `account6`) and `account6`: see ruleset_layout.h. Every
// rule here runs for every packet of every allowed flow, so the family is matched once, and each
// segment costs two rules: a packet between two segments must reach both its upload and its
// download rule, so none of them may end the chain early.
void addAccountChains(LayoutBuilder& b) {
  b.add("account", "account rule 1 (IPv6 to account6)",
        {NfProto{true}, Verdict{Verdict::kGoto, "account6"}});
  for (const bool v6 : {false, true}) {
    const char* chain = v6 ? "account6" : "account";
    const std::string family = v6 ? "IPv6" : "IPv4";
    for (const std::string& ifname : b.spec().segment_ifnames) {
      for (const AccountingSet& set : kAccountingSets) {
        if (set.v6 != v6) continue;
        b.add(chain,
              std::string(chain) + " rule (" + family +
                  (set.upload ? " upload from segment " : " download to segment ") + ifname + ")",
              {IfName{!set.upload, ifname}, UpdateSet{v6, set.upload, set.name, set.id}});
      }
    }
    // Explicit, though falling off the end would reach the base chain's policy accept today
    // (`judge` and `account` are reached by goto): were either ever reached by jump, falling off
    // would return to the base chain, whose next rule (to the other segment) could count the
    // packet again. One immediate expression per packet.
    b.add(chain, std::string(chain) + " rule (accept)", {Verdict{Verdict::kAccept, ""}});
  }
}

void addOutputChain(LayoutBuilder& b) {
  // Answers from a resolver on the box (dnsmasq on the gateway) leave through output.
  addDnsAnswerRules(b, "output");
  // Leases from a DHCP server on the box. Only these: a DHCP reply forwarded from a device on
  // a segment would let any device forge leases (a server using raw sockets is not seen).
  for (const std::string& ifname : b.spec().segment_ifnames) {
    b.add("output", "output rule (DHCP replies from the box to segment " + ifname + ")",
          {IfName{true, ifname}, Port{kUdp, true, kDhcpServerPort},
           Port{kUdp, false, kDhcpClientPort}, SetMetaMark{kHintDhcpReply}, Counter{},
           b.inspectionQueue()});
  }
  // The box's own packets to a device (an NTP answer, a web page) are that device's download,
  // as the device's packets to the box are its upload (`input` -> `judge` -> `account`). Last:
  // DNS answers and DHCP replies, read one by one above, are not counted, as their questions are
  // not; nor is neighbour discovery and MLD (multicast, of no device), as `judge` accepts a
  // device's before counting. `account` matches no iifname here: only the download rule counts.
  if (b.spec().accounting_addresses > 0) {
    b.add("output", "output rule (IPv6 neighbour discovery and MLD: not accounted)",
          {Icmpv6Type{kIcmpv6InfraFirst, kIcmpv6InfraLast}, Verdict{}});
    b.add("output", "output rule (MLDv2 reports: not accounted)",
          {Icmpv6Type{kIcmpv6Mld2Report, kIcmpv6Mld2Report}, Verdict{}});
    for (const std::string& ifname : b.spec().segment_ifnames) {
      b.add("output", "output rule (the box's packets to segment " + ifname + ": accounted)",
            {IfName{true, ifname}, Verdict{Verdict::kGoto, "account"}});
    }
  }
}

}  // namespace

size_t accountingKeyLength(bool v6) { return (v6 ? 16 : 4) + sizeof(uint32_t); }

std::vector<uint8_t> accountingKey(const IpAddress& address, uint32_t traffic_class) {
  std::vector<uint8_t> key(address.bytes.begin(), address.bytes.begin() + (address.v6 ? 16 : 4));
  const uint32_t bits = (traffic_class & kMaxTrafficClass) << kTrafficClassShift;
  const auto* raw = reinterpret_cast<const uint8_t*>(&bits);
  key.insert(key.end(), raw, raw + sizeof(bits));
  return key;
}

RulesetLayout rulesetLayout(const RulesetSpec& spec) {
  LayoutBuilder b(spec);
  RulesetLayout& layout = b.layout();
  layout.sets = {{"doh4", kDoh4SetId, false, mergeIntervals(spec.doh, false)},
                 {"doh6", kDoh6SetId, true, mergeIntervals(spec.doh, true)}};
  layout.chains = {{"judge", std::nullopt, true},       {"deny", std::nullopt, false},
                   {"dns-answer", std::nullopt, false}, {"dns-query", std::nullopt, true},
                   {"forward", Hook::kForward, false},  {"input", Hook::kInput, false},
                   {"output", Hook::kOutput, false}};
  layout.listing = {"forward", "input", "output", "judge", "dns-answer", "dns-query", "deny"};
  addDenyChain(b);
  addDnsAnswerChain(b);
  addDnsQueryChain(b);
  addJudgeChain(b);
  addOutputChain(b);
  if (spec.accounting_addresses > 0) {
    for (const AccountingSet& set : kAccountingSets) {
      layout.sets.push_back(
          {set.name, set.id, set.v6, {}, SetKind::kAccounting, spec.accounting_addresses});
    }
    layout.chains.push_back({"account", std::nullopt, false});
    layout.chains.push_back({"account6", std::nullopt, false});
    // After `judge`, where they are reached from.
    layout.listing.insert(layout.listing.begin() + 4, {"account", "account6"});
    addAccountChains(b);
  }
  const Verdict to_judge{Verdict::kGoto, "judge"};
  for (const std::string& ifname : spec.segment_ifnames) {
    b.add("forward", "forward rule (from segment " + ifname + ")",
          {IfName{false, ifname}, to_judge});
    b.add("forward", "forward rule (to segment " + ifname + ")", {IfName{true, ifname}, to_judge});
    b.add("input", "input rule (from segment " + ifname + ")", {IfName{false, ifname}, to_judge});
  }
  return std::move(layout);
}

}  // namespace muzzle

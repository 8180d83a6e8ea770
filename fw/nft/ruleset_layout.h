// Table `inet muzzle` as plain values: its sets, chains and rules, in the order the writer
// creates them, each rule a list of matches and statements at the level nft(8) writes them
// ("iifname", "udp dport 53", "meta mark set", "goto judge"). rulesetLayout() is the one place
// that decides what the table holds; NftRulesetWriter linearises it into libnftnl expressions
// (nft_expressions.h) and describeRuleset() renders it as nft text, so what operators read
// cannot drift from what is installed.
//
// The table:
//   forward/input base chains send traffic to or from a managed segment to `judge`;
//   `judge` queues DNS answers going out to a segment (every packet: `dns-answer`) and DHCP
//   requests from a segment, acts on a verdict mark fresh from user space, sends DNS queries from
//   a segment to `dns-query` (every packet), acts on a verdict saved in the conntrack mark, and
//   queues everything else to muzzled, hinting destinations in the DoH sets (marks only count
//   for the current generation: see marks.h);
//   `dns-query` queues a query whose flow is allowed or undecided, with hints saying which;
//   `output` sends DNS answers from a resolver on the box itself to `dns-answer`, and queues the
//   box's own DHCP replies to a segment (the leases muzzled trusts);
//   `deny` rejects with a TCP reset or an ICMP(v6) administratively-prohibited;
//   sets @doh4 and @doh6 hold the DoH resolver addresses (interval sets).
//
// Pure value code: no I/O, no libnftnl. The size is linear in the number of segments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fw/nft/interval_set.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

// The matches and statements Muzzle's rules are made of. A transport field (Port, Icmpv6Type)
// implies its protocol: the linearisation adds the `meta l4proto` match once, as nft(8) does.
namespace nftx {
struct IfName {  // iifname "br-cam" / oifname "br-cam"
  bool output = false;
  std::string name;
};
struct L4Proto {  // meta l4proto tcp
  uint8_t proto = 0;
};
struct Port {  // udp sport 53 / tcp dport 53
  uint8_t proto = 0;
  bool source = false;
  uint16_t port = 0;
};
struct Icmpv6Type {  // icmpv6 type 130-137 (one type when first == last)
  uint8_t first = 0;
  uint8_t last = 0;
};
struct CtStateInvalid {};  // ct state invalid
struct CtDirection {       // ct direction original / reply
  bool reply = false;
};
struct MetaMarkIs {  // meta mark 0x00000101
  uint32_t mark = 0;
};
struct CtMarkIs {  // ct mark 0x00000101
  uint32_t mark = 0;
};
struct DaddrInSet {  // ip daddr @doh4 / ip6 daddr @doh6
  bool v6 = false;
  std::string set;
  uint32_t set_id = 0;
};
struct SetMetaMark {  // meta mark set 0x00000020
  uint32_t mark = 0;
};
struct CtMarkFromMetaMark {};  // ct mark set meta mark
struct Counter {};             // counter
struct Queue {                 // queue num 100-103 bypass fanout (or the xtables NFQUEUE target)
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
}  // namespace nftx

using NftExpr =
    std::variant<nftx::IfName, nftx::L4Proto, nftx::Port, nftx::Icmpv6Type, nftx::CtStateInvalid,
                 nftx::CtDirection, nftx::MetaMarkIs, nftx::CtMarkIs, nftx::DaddrInSet,
                 nftx::SetMetaMark, nftx::CtMarkFromMetaMark, nftx::Counter, nftx::Queue,
                 nftx::Verdict, nftx::Reject>;

struct RuleLayout {
  std::string chain;
  // What the rule is for, as a kernel error names it: "judge rule 3 (drop conntrack-invalid
  // packets): Operation not supported".
  std::string what;
  std::vector<NftExpr> exprs;
};

enum class Hook { kForward, kInput, kOutput };

struct ChainLayout {
  std::string name;
  std::optional<Hook> hook;  // a base chain: type filter, priority 0, policy accept
  // Rewritten when only the policy changes (its rules name the generation). The base chains
  // never are: re-creating one unregisters its hook, and the kernel drops queued packets.
  bool per_policy = false;
};

struct SetLayout {
  std::string name;
  uint32_t id = 0;  // how rules of the same transaction refer to the set
  bool v6 = false;
  std::vector<AddressInterval> intervals;  // merged (interval_set.h)
};

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

// One rule as nft(8) writes it, without its chain: "iifname \"br-cam\" goto judge".
std::string nftText(const RuleLayout& rule);

}  // namespace muzzle

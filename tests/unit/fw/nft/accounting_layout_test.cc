// The accounting part of table `inet muzzle` (fw/nft/ruleset_layout.h): the sets and chains are
// there only with accounting on; only allowed packets reach `account`, which counts each in the
// right set for its family and direction; the refusing rules are what they were; and the cost on
// the established path (every packet of every allowed flow) is pinned, by walking packets
// through the layout the way the kernel walks the chains.
#include <doctest/doctest.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "fw/nft/marks.h"
#include "fw/nft/nft_expressions.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {
namespace {

RulesetSpec spec(size_t segments, uint32_t accounting) {
  RulesetSpec s;
  s.generation = 9;
  for (size_t i = 0; i < segments; ++i) s.segment_ifnames.push_back("br-" + std::to_string(i));
  s.accounting_addresses = accounting;
  return s;
}

// What the kernel knows of a packet that the layout's matches look at.
struct Packet {
  std::string iif, oif;
  bool v6 = false;
  uint8_t l4 = IPPROTO_TCP;
  uint16_t sport = 40000, dport = 443;
  bool reply = false;
  uint32_t meta_mark = 0;
  uint32_t ct_mark = 0;
};

// What a packet met on its way: rules and expressions evaluated (a rule stops at its first
// failing match, as the kernel's does), the sets it was added to, and how it ended.
struct Walk {
  size_t rules = 0;
  size_t exprs = 0;         // layout expressions (nftx::*)
  size_t kernel_exprs = 0;  // the libnftnl expressions they linearise to, up to the failing one
  std::vector<std::string> updates;
  std::string verdict;
};

// Evaluates one expression; false when a match fails.
bool evaluate(const NftExpr& expr, Packet& p, Walk& w) {
  using namespace nftx;  // NOLINT
  if (const auto* m = std::get_if<IfName>(&expr)) return (m->output ? p.oif : p.iif) == m->name;
  if (const auto* m = std::get_if<L4Proto>(&expr)) return p.l4 == m->proto;
  if (const auto* m = std::get_if<Port>(&expr)) {
    return p.l4 == m->proto && (m->source ? p.sport : p.dport) == m->port;
  }
  if (std::get_if<Icmpv6Type>(&expr)) return false;  // TCP and UDP only here
  if (std::get_if<CtStateInvalid>(&expr)) return false;
  if (const auto* m = std::get_if<CtDirection>(&expr)) return p.reply == m->reply;
  if (const auto* m = std::get_if<MetaMarkIs>(&expr)) return (p.meta_mark & m->mask) == m->mark;
  if (const auto* m = std::get_if<CtMarkIs>(&expr)) return (p.ct_mark & m->mask) == m->mark;
  if (const auto* m = std::get_if<NfProto>(&expr)) return p.v6 == m->v6;
  if (std::get_if<DaddrInSet>(&expr)) return false;  // no DoH resolvers in these specs
  if (const auto* s = std::get_if<UpdateSet>(&expr)) {
    // The linearisation loads the address without checking the family: the layout must.
    CHECK_MESSAGE(s->v6 == p.v6,
                  "an " << (p.v6 ? "IPv6" : "IPv4") << " packet reached @" << s->set);
    // Keyed by the address and the class bits of the conntrack mark.
    w.updates.push_back(s->set + (trafficClassOf(p.ct_mark) == 0
                                      ? ""
                                      : " class " + std::to_string(trafficClassOf(p.ct_mark))));
    return true;
  }
  if (const auto* s = std::get_if<SetMetaMark>(&expr)) p.meta_mark = s->mark;
  if (std::get_if<CtMarkFromMetaMark>(&expr)) p.ct_mark = p.meta_mark;
  return true;
}

size_t kernelExprs(const RuleLayout& rule, size_t count) {
  RuleLayout prefix{rule.chain, rule.what, {rule.exprs.begin(), rule.exprs.begin() + count}};
  NftnlRulePtr r = buildNftnlRule(kRulesetTable, prefix);
  size_t n = 0;
  nftnl_expr_foreach(
      r.get(), [](nftnl_expr*, void* data) { return ++*static_cast<size_t*>(data), 0; }, &n);
  return n;
}

// Walks `p` from the forward hook, the kernel's way: goto replaces the chain, jump returns to
// the next rule, the end of the base chain is its policy (accept).
Walk walkForward(const RulesetLayout& layout, Packet p) {
  Walk w;
  std::string chain = "forward";
  size_t next = 0;
  std::vector<std::pair<std::string, size_t>> stack;
  for (size_t guard = 0; guard < 1000; ++guard) {
    std::vector<const RuleLayout*> rules;
    for (const RuleLayout& r : layout.rules) {
      if (r.chain == chain) rules.push_back(&r);
    }
    if (next >= rules.size()) {
      if (stack.empty()) {
        w.verdict = "accept (policy)";
        return w;
      }
      std::tie(chain, next) = stack.back();
      stack.pop_back();
      continue;
    }
    const RuleLayout& rule = *rules[next++];
    ++w.rules;
    size_t i = 0;
    bool matched = true;
    std::optional<nftx::Verdict> verdict;
    for (; i < rule.exprs.size() && matched; ++i) {
      ++w.exprs;
      if (const auto* v = std::get_if<nftx::Verdict>(&rule.exprs[i])) verdict = *v;
      if (std::get_if<nftx::Queue>(&rule.exprs[i])) w.verdict = "queue";
      if (std::get_if<nftx::Reject>(&rule.exprs[i])) w.verdict = "reject";
      matched = evaluate(rule.exprs[i], p, w);
    }
    w.kernel_exprs += kernelExprs(rule, i);
    if (!matched) continue;
    if (!w.verdict.empty()) return w;
    if (!verdict) continue;
    switch (verdict->code) {
      case nftx::Verdict::kAccept:
        w.verdict = "accept";
        return w;
      case nftx::Verdict::kDrop:
        w.verdict = "drop";
        return w;
      case nftx::Verdict::kJump:
        stack.emplace_back(chain, next);
        [[fallthrough]];
      case nftx::Verdict::kGoto:
        chain = verdict->chain;
        next = 0;
        break;
      case nftx::Verdict::kReturn:
        if (stack.empty()) {
          w.verdict = "accept (policy)";
          return w;
        }
        std::tie(chain, next) = stack.back();
        stack.pop_back();
        break;
    }
  }
  FAIL("the walk did not end");
  return w;
}

// A packet of an established flow from the first segment to the internet ("wan"), whose
// conntrack mark holds `code` (and `traffic_class`) under the spec's generation.
Packet established(const RulesetSpec& s, VerdictCode code, bool v6, uint32_t traffic_class = 0) {
  Packet p;
  p.iif = s.segment_ifnames.front();
  p.oif = "wan";
  p.v6 = v6;
  p.ct_mark = verdictMark(s.generation, code, traffic_class);
  return p;
}

TEST_CASE("accounting off: no accounting sets, chains or rules; on: four sets of its size") {
  const RulesetLayout off = rulesetLayout(spec(2, 0));
  for (const SetLayout& s : off.sets) CHECK(s.kind == SetKind::kInterval);
  for (const ChainLayout& c : off.chains) CHECK(c.name.rfind("account", 0) != 0);
  CHECK(describeRuleset(spec(2, 0)).find("acct") == std::string::npos);
  CHECK(describeRuleset(spec(2, 0)).find("account") == std::string::npos);

  const RulesetLayout on = rulesetLayout(spec(2, 300));
  std::vector<std::string> names;
  for (const SetLayout& s : on.sets) {
    if (s.kind != SetKind::kAccounting) continue;
    names.push_back(s.name);
    CHECK(s.size == 300);
    CHECK(s.intervals.empty());
  }
  CHECK(names == std::vector<std::string>{"acct-up4", "acct-down4", "acct-up6", "acct-down6"});
  // The DoH sets keep their place and ids: the rules looking them up do not change.
  REQUIRE(on.sets.size() == 6);
  CHECK(on.sets[0].name == "doh4");
  CHECK(on.sets[1].name == "doh6");
  CHECK(on.listing == std::vector<std::string>{"forward", "input", "output", "judge", "account",
                                               "account6", "dns-answer", "dns-query", "deny"});
}

TEST_CASE(
    "only the two rules that accept an allowed flow change; refusing rules stay as they were") {
  const RulesetLayout off = rulesetLayout(spec(2, 0));
  const RulesetLayout on = rulesetLayout(spec(2, 64));
  std::vector<const RuleLayout*> on_old;  // the rules of `on` that `off` also has
  std::vector<std::string> output_added;  // output's last rules: the box's packets to a segment
  for (const RuleLayout& r : on.rules) {
    if (r.chain.rfind("account", 0) == 0) continue;
    if (r.chain == "output" && r.what.ends_with("accounted)")) {
      output_added.push_back(nftText(r));
      continue;
    }
    on_old.push_back(&r);
  }
  CHECK(output_added == std::vector<std::string>{"icmpv6 type 130-137 accept",
                                                 "icmpv6 type 143 accept",
                                                 "oifname \"br-0\" goto account",
                                                 "oifname \"br-1\" goto account"});
  size_t last_output = 0;
  for (size_t i = 0; i < on.rules.size(); ++i) {
    if (on.rules[i].chain == "output") last_output = i;
  }
  CHECK(nftText(on.rules[last_output]) == "oifname \"br-1\" goto account");
  REQUIRE(on_old.size() == off.rules.size());
  std::vector<std::string> changed;
  for (size_t i = 0; i < off.rules.size(); ++i) {
    if (nftText(off.rules[i]) == nftText(*on_old[i])) continue;
    changed.push_back(off.rules[i].what + ": " + nftText(off.rules[i]) + " -> " +
                      nftText(*on_old[i]));
  }
  CHECK(changed ==
        std::vector<std::string>{
            "judge rule (verdict mark from muzzled): meta mark & 0xffffff03 == 0x00000901 ct mark "
            "set meta mark counter accept -> meta mark & 0xffffff03 == 0x00000901 ct mark set meta "
            "mark counter goto account",
            "judge rule (conntrack mark): ct mark & 0xffffff03 == 0x00000901 counter accept -> ct "
            "mark & 0xffffff03 == 0x00000901 counter goto account"});
}

TEST_CASE("what is counted where: upload, download, both between segments, never refused flows") {
  const RulesetSpec s = spec(2, 64);
  const RulesetLayout layout = rulesetLayout(s);
  for (const bool v6 : {false, true}) {
    const std::string up = v6 ? "acct-up6" : "acct-up4", down = v6 ? "acct-down6" : "acct-down4";
    Packet p = established(s, VerdictCode::kAllow, v6);
    Walk w = walkForward(layout, p);
    CHECK(w.verdict == "accept");
    CHECK(w.updates == std::vector<std::string>{up});
    std::swap(p.iif, p.oif);  // from the internet to the device
    p.reply = true;
    w = walkForward(layout, p);
    CHECK(w.verdict == "accept");
    CHECK(w.updates == std::vector<std::string>{down});
    p.iif = "br-0";  // from one segment to the other
    p.oif = "br-1";
    w = walkForward(layout, p);
    CHECK(w.updates == std::vector<std::string>{up, down});
    // The flow's traffic class is part of each element's key; the class never stops a packet.
    w = walkForward(layout, established(s, VerdictCode::kAllow, v6, 5));
    CHECK(w.verdict == "accept");
    CHECK(w.updates == std::vector<std::string>{up + " class 5"});
    p = established(s, VerdictCode::kAllow, v6, kMaxTrafficClass);
    p.meta_mark = p.ct_mark;
    p.ct_mark = 0;
    w = walkForward(layout, p);
    CHECK(w.verdict == "accept");
    CHECK(w.updates == std::vector<std::string>{up + " class 63"});
    // A fresh verdict from muzzled counts the packet that carried it.
    p = established(s, VerdictCode::kAllow, v6);
    p.meta_mark = p.ct_mark;
    p.ct_mark = 0;
    w = walkForward(layout, p);
    CHECK(w.verdict == "accept");
    CHECK(w.updates == std::vector<std::string>{up});
    for (const VerdictCode code : {VerdictCode::kReject, VerdictCode::kDrop}) {
      w = walkForward(layout, established(s, code, v6));
      CHECK(w.verdict == (code == VerdictCode::kDrop ? "drop" : "reject"));
      CHECK(w.updates.empty());
    }
    // Undecided (no mark of this generation): queued, not counted.
    p = established(s, VerdictCode::kAllow, v6);
    p.ct_mark = verdictMark(s.generation - 1, VerdictCode::kAllow);
    w = walkForward(layout, p);
    CHECK(w.verdict == "queue");
    CHECK(w.updates.empty());
  }
}

TEST_CASE("the established allowed path: 2 + 2 x segments more rules with accounting, pinned") {
  // An established allowed TCP packet from the first segment to the internet, both families.
  struct Row {
    size_t segments;
    bool v6;
    size_t rules_off, rules_on, exprs_off, exprs_on, kernel_off, kernel_on;
  };
  // Before: forward (1 rule), then `judge` up to the conntrack-mark rule that accepts (3 + 5 per
  // segment rules before it). After: the same, then `account`: the IPv6 dispatch, a pair of
  // rules per segment (one matches and updates a set), the accept. In kernel expressions: IPv4
  // 3 + 4 x segments + 4 (dispatch 2, each rule's iifname/oifname load and compare 2, the
  // matching rule's address load, class load and mask, and dynset 4, accept 1); IPv6 one more
  // (the goto to account6). The allowed-mark rules mask the class out of the mark first: one
  // bitwise expression each (2 per packet, with accounting off too).
  const Row rows[] = {
      {1, false, 13, 17, 19, 24, 48, 59},
      {1, true, 13, 17, 19, 25, 48, 60},
      {3, false, 23, 31, 29, 38, 68, 87},
      {3, true, 23, 31, 29, 39, 68, 88},
  };
  for (const Row& row : rows) {
    CAPTURE(row.segments);
    CAPTURE(row.v6);
    const Walk off = walkForward(rulesetLayout(spec(row.segments, 0)),
                                 established(spec(row.segments, 0), VerdictCode::kAllow, row.v6));
    const Walk on = walkForward(rulesetLayout(spec(row.segments, 64)),
                                established(spec(row.segments, 64), VerdictCode::kAllow, row.v6));
    CHECK(off.verdict == "accept");
    CHECK(on.verdict == "accept");
    CHECK(on.rules - off.rules == 2 + 2 * row.segments);
    CHECK(off.rules == row.rules_off);
    CHECK(on.rules == row.rules_on);
    CHECK(off.exprs == row.exprs_off);
    CHECK(on.exprs == row.exprs_on);
    CHECK(off.kernel_exprs == row.kernel_off);
    CHECK(on.kernel_exprs == row.kernel_on);
  }
}

TEST_CASE("describeRuleset shows the accounting sets and the account chains") {
  const std::string text = describeRuleset(spec(1, 4096));
  CHECK(text.find("  set acct-up4 { type ipv4_addr . mark; size 4096; flags dynamic; counter; }\n") !=
        std::string::npos);
  CHECK(text.find("  set acct-down6 { type ipv6_addr . mark; size 4096; flags dynamic; counter; }\n") !=
        std::string::npos);
  CHECK(text.find("  chain account {\n"
                  "    meta nfproto ipv6 goto account6\n"
                  "    iifname \"br-0\" update @acct-up4 { ip saddr . ct mark & 0x000000fc }\n"
                  "    oifname \"br-0\" update @acct-down4 { ip daddr . ct mark & 0x000000fc }\n"
                  "    accept\n"
                  "  }\n"
                  "  chain account6 {\n"
                  "    iifname \"br-0\" update @acct-up6 { ip6 saddr . ct mark & 0x000000fc }\n"
                  "    oifname \"br-0\" update @acct-down6 { ip6 daddr . ct mark & 0x000000fc }\n"
                  "    accept\n"
                  "  }\n") != std::string::npos);
  CHECK(text.find("ct mark & 0xffffff03 == 0x00000901 counter goto account\n") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

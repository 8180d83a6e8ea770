// The accounting part of table `inet muzzle` (fw/nft/ruleset_layout.h): the sets and chains are
// there only with accounting on; only allowed packets reach `account`, which counts each in the
// right set for its family and direction; the refusing rules are what they were; and the cost on
// the established path (every packet of every allowed flow) is pinned, by walking packets
// through the layout the way the kernel walks the chains.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fw/nft/marks.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"
#include "tests/unit/fw/nft/layout_walker.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

RulesetSpec spec(size_t segments, uint32_t accounting) {
  RulesetSpec s;
  s.generation = 9;
  for (size_t i = 0; i < segments; ++i) s.segment_ifnames.push_back("br-" + std::to_string(i));
  s.accounting_addresses = accounting;
  return s;
}

using walker::Packet;
using walker::Walk;

Walk walkForward(const RulesetLayout& layout, const Packet& p) { return walker::walk(layout, p); }

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
  for (const SetLayout& s : off.sets) CHECK(s.kind != SetKind::kAccounting);
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
  // The DoH sets and @segments keep their place and ids: the rules looking them up do not change.
  REQUIRE(on.sets.size() == 7);
  CHECK(on.sets[0].name == "doh4");
  CHECK(on.sets[1].name == "doh6");
  CHECK(on.sets[2].name == "segments");
  CHECK(on.listing == std::vector<std::string>{"forward", "input", "output", "judge", "account",
                                               "account6", "inspected", "dns-dhcp", "dns-answer",
                                               "dns-query", "deny", "discard"});
}

TEST_CASE("only the rules that accept an allowed flow change; refusing rules stay as they were") {
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
                                                 "oifname @segments goto account"});
  size_t last_output = 0;
  for (size_t i = 0; i < on.rules.size(); ++i) {
    if (on.rules[i].chain == "output") last_output = i;
  }
  CHECK(nftText(on.rules[last_output]) == "oifname @segments goto account");
  REQUIRE(on_old.size() == off.rules.size());
  // Each changed rule accepts an allowed packet: `goto account` instead, and nothing else.
  std::vector<std::string> changed;
  for (size_t i = 0; i < off.rules.size(); ++i) {
    std::string text = nftText(off.rules[i]);
    if (text == nftText(*on_old[i])) continue;
    changed.push_back(off.rules[i].what);
    if (const size_t at = text.find("0x00000901 : accept"); at != std::string::npos) {
      text.replace(at, 19, "0x00000901 : goto account");
    } else if (text.ends_with("accept")) {
      text.replace(text.size() - 6, 6, "goto account");
    }
    CHECK(text == nftText(*on_old[i]));
  }
  CHECK(changed == std::vector<std::string>{
                       "inspected rule (the rest of an allowed flow)",
                       "judge rule 1 (the verdict in the conntrack mark)",
                       "judge rule (verdict mark from muzzled: allowed, port 53 as destination)",
                       "judge rule (verdict mark from muzzled: allowed, port 67 as destination)",
                       "judge rule (verdict mark from muzzled: allowed, port 53 as source)",
                       "judge rule (verdict mark from muzzled: allowed, port 67 as source)",
                       "judge rule (verdict mark from muzzled: allowed)"});
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
    CHECK(w.verdict == "queue 100");
    CHECK(w.updates.empty());
  }
}

TEST_CASE("the established allowed path: 4 more rules with accounting, whatever the segments") {
  // An established allowed TCP packet from the first segment to the internet, both families.
  struct Row {
    size_t segments;
    bool v6;
    size_t rules_off, rules_on, exprs_off, exprs_on, kernel_off, kernel_on;
  };
  // Without accounting: forward (1 rule), then `judge`'s verdict map (established_path_test.cc).
  // With it: the same, then `account`: the IPv6 dispatch, the upload and the download rule (one
  // matches and updates a set), the accept. In kernel expressions: IPv4 6 + 11 (dispatch 2, each
  // rule's iifname/oifname load and lookup in @segments 2, the matching rule's address load,
  // class load and mask, and dynset 4, accept 1); IPv6 one more (the goto to account6). Before
  // @segments, a pair of rules per segment: 3 segments cost 10 rules and 25 / 26 expressions.
  const Row rows[] = {
      {1, false, 2, 6, 3, 8, 6, 17},
      {1, true, 2, 6, 3, 9, 6, 18},
      {3, false, 2, 6, 3, 8, 6, 17},
      {3, true, 2, 6, 3, 9, 6, 18},
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
    CHECK(on.rules - off.rules == 4);
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
  CHECK(
      text.find("  set acct-up4 { type ipv4_addr . mark; size 4096; flags dynamic; counter; }\n") !=
      std::string::npos);
  CHECK(text.find(
            "  set acct-down6 { type ipv6_addr . mark; size 4096; flags dynamic; counter; }\n") !=
        std::string::npos);
  CHECK(text.find("  chain account {\n"
                  "    meta nfproto ipv6 goto account6\n"
                  "    iifname @segments update @acct-up4 { ip saddr . ct mark & 0x000000fc }\n"
                  "    oifname @segments update @acct-down4 { ip daddr . ct mark & 0x000000fc }\n"
                  "    accept\n"
                  "  }\n"
                  "  chain account6 {\n"
                  "    iifname @segments update @acct-up6 { ip6 saddr . ct mark & 0x000000fc }\n"
                  "    oifname @segments update @acct-down6 { ip6 daddr . ct mark & 0x000000fc }\n"
                  "    accept\n"
                  "  }\n") != std::string::npos);
  CHECK(text.find("0x00000901 : goto account, ") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

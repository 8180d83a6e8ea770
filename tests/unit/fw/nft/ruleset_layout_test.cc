// The layout of table `inet muzzle` (fw/nft/ruleset_layout.h) and the description rendered from
// it: every chain and every rule of the layout appears in describeRuleset(), in order, and
// nothing else does; the layout itself is consistent (chains jumped to exist, sets looked up
// exist). The batches built from the same layout are checked in ruleset_golden_test.cc.
#include "fw/nft/ruleset_layout.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

std::vector<RulesetSpec> specs() {
  std::vector<RulesetSpec> out;
  for (const size_t segments : {0, 1, 3}) {
    for (const bool fail_open : {false, true}) {
      RulesetSpec s;
      s.generation = 42;
      for (size_t i = 0; i < segments; ++i) s.segment_ifnames.push_back("br-" + std::to_string(i));
      s.fail_open = fail_open;
      s.queue_count = fail_open ? 4 : 1;
      s.queue_mode = fail_open ? QueueMode::kNative : QueueMode::kCompat;
      out.push_back(s);
    }
  }
  // With the guards (after the others: tests below pick specs by index): all three, as
  // muzzled.yaml's default has them, and the segment guard alone.
  RulesetSpec guarded;
  guarded.generation = 42;
  guarded.segment_ifnames = {"br-0", "br-1"};
  guarded.flood_rate = 500;
  guarded.flood_burst = 1000;
  guarded.conn_limit = 1024;
  guarded.segment_rate = 2000;
  guarded.segment_burst = 4000;
  out.push_back(guarded);
  guarded.flood_rate = 0;
  guarded.conn_limit = 0;
  out.push_back(guarded);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_CASE("the description lists every chain and rule of the layout, in order, and nothing else") {
  for (const RulesetSpec& spec : specs()) {
    const RulesetLayout layout = rulesetLayout(spec);
    const std::vector<std::string> text = lines(describeRuleset(spec));
    // What the description must say after the sets, built from the layout alone.
    std::vector<std::string> expected;
    for (const std::string& name : layout.listing) {
      expected.push_back("  chain " + name + " {");
      for (const RuleLayout& rule : layout.rules) {
        if (rule.chain == name) expected.push_back("    " + nftText(rule));
      }
      expected.push_back("  }");
    }
    std::vector<std::string> actual;
    bool in_chains = false;
    for (const std::string& line : text) {
      in_chains = in_chains || line.rfind("  chain ", 0) == 0;
      if (in_chains && line.find(" type filter hook ") == std::string::npos && line != "}") {
        actual.push_back(line);
      }
    }
    CHECK(actual == expected);
    size_t rules = 0;
    for (const std::string& line : actual) rules += line.rfind("    ", 0) == 0;
    CHECK(rules == layout.rules.size());
  }
}

TEST_CASE("the layout is consistent: listed chains, jump targets and looked-up sets all exist") {
  for (const RulesetSpec& spec : specs()) {
    const RulesetLayout layout = rulesetLayout(spec);
    std::set<std::string> chains, sets;
    for (const ChainLayout& c : layout.chains) CHECK(chains.insert(c.name).second);
    for (const SetLayout& s : layout.sets) CHECK(sets.insert(s.name).second);
    CHECK(std::set<std::string>(layout.listing.begin(), layout.listing.end()) == chains);
    CHECK(layout.listing.size() == chains.size());
    for (const RuleLayout& rule : layout.rules) {
      CHECK(chains.count(rule.chain) == 1);
      CHECK(!rule.what.empty());
      for (const NftExpr& expr : rule.exprs) {
        if (const auto* v = std::get_if<nftx::Verdict>(&expr)) {
          if (v->code == nftx::Verdict::kGoto || v->code == nftx::Verdict::kJump) {
            CHECK(chains.count(v->chain) == 1);
          }
        }
        if (const auto* lookup = std::get_if<nftx::IfNameInSet>(&expr)) {
          CHECK(sets.count(lookup->set) == 1);
        }
        if (const auto* meter = std::get_if<nftx::SourceMacMeter>(&expr)) {
          CHECK(sets.count(meter->set) == 1);
        }
        if (const auto* meter = std::get_if<nftx::InterfaceMeter>(&expr)) {
          CHECK(sets.count(meter->set) == 1);
        }
      }
    }
  }
}

TEST_CASE(
    "only the chains that name the generation or follow accounting's UDP events are rewritten on a "
    "policy change") {
  // Chain -> its rules as nft text.
  auto texts = [](const RulesetSpec& spec) {
    std::map<std::string, std::vector<std::string>> chains;
    for (const RuleLayout& r : rulesetLayout(spec).rules) chains[r.chain].push_back(nftText(r));
    return chains;
  };
  for (const size_t which : {size_t{1}, size_t{3}}) {  // one segment and three
    RulesetSpec spec = specs()[which];
    std::set<std::string> changed;
    // A new generation, then accounting's UDP events on, then the destroy events off (the
    // daemon installs each through the per-policy path: NftRulesetWriter::updatePolicy).
    auto change = [&](auto&& edit) {
      const auto before = texts(spec);
      edit(spec);
      const auto after = texts(spec);
      for (const auto& [chain, rules] : after) {
        if (before.count(chain) == 0 || before.at(chain) != rules) changed.insert(chain);
      }
    };
    change([](RulesetSpec& s) { s.generation = 43; });
    change([](RulesetSpec& s) { s.udp_ends = RulesetSpec::UdpEnds::kEvents; });
    change([](RulesetSpec& s) { s.udp_ends = RulesetSpec::UdpEnds::kDumps; });
    std::set<std::string> per_policy;
    for (const ChainLayout& c : rulesetLayout(spec).chains) {
      if (c.per_policy) per_policy.insert(c.name);
    }
    CHECK(changed == per_policy);
    // The base chains that lead to `judge` are among them (the conntrack mark's map comes first
    // there); the policy update flushes their rules, and never re-creates a chain
    // (nft_ruleset_writer_test.cc).
    CHECK(per_policy.count("forward") == 1);
    CHECK(per_policy.count("input") == 1);
  }
}

}  // namespace
}  // namespace muzzle

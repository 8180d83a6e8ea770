// Linearisation of a rule of the layout (ruleset_layout.h) into libnftnl expressions: the
// registers, payload offsets and comparisons the kernel runs. Everything Muzzle writes lives in
// family inet, register 1 carries every loaded value.
#pragma once

#include <libnftnl/rule.h>

#include <memory>

#include "fw/nft/ruleset_layout.h"

namespace muzzle {

// NFPROTO_INET, without <linux/netfilter.h>, whose <linux/in.h> clashes with <netinet/in.h>
// when it comes first.
inline constexpr int kNftFamily = 1;

// An anonymous set's name as the rule and the set messages give it: the kernel replaces "%d"
// with a free number and the rule finds the set by its id (nftx::MarkVmap::set_id).
inline constexpr const char* kAnonymousMapName = "__map%d";

struct NftnlRuleFree {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
using NftnlRulePtr = std::unique_ptr<nftnl_rule, NftnlRuleFree>;

// `rule` as a libnftnl rule to append to its chain of `table`. Never fails: every expression
// the layout can hold has one linearisation.
NftnlRulePtr buildNftnlRule(const char* table, const RuleLayout& rule);

}  // namespace muzzle

// Walks a packet through table `inet muzzle` as the layout describes it (ruleset_layout.h), the
// way the kernel walks chains: a rule stops at its first failing match, goto replaces the chain,
// jump returns to the next rule, a verdict map goes where the conntrack (or packet) mark says, the
// end of a base chain is its policy (accept). Counts what the packet evaluated: rules, layout
// expressions and the libnftnl expressions the writer linearises them to (nft_expressions.h), so
// tests can pin the kernel's cost per packet. For the unit tests of fw/nft only.
#pragma once

#include <doctest/doctest.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fw/nft/marks.h"
#include "fw/nft/nft_expressions.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle::walker {

// What the kernel knows of a packet that the layout's matches look at. The connection's ports as
// opened are the packet's own in the original direction, swapped in the reply direction.
struct Packet {
  std::string iif, oif;
  bool v6 = false;
  uint8_t l4 = IPPROTO_TCP;
  uint16_t sport = 40000, dport = 443;
  uint8_t icmpv6_type = 0;  // when l4 is ICMPv6
  bool reply = false;
  // The connection's ports as opened, when the packet's own do not say them (an ICMP error
  // about a UDP flow, whose conntrack entry is the flow's).
  std::optional<std::pair<uint16_t, uint16_t>> ct_original_ports;
  uint8_t ct_l4 = 0;  // the connection's protocol when it is not the packet's (such an ICMP error)
  // NAT on the connection (ct status snat or dnat): the packet's ports need not be the ones of
  // ct_original_ports, which then says them.
  bool nat = false;
  bool invalid = false;  // conntrack calls it invalid (and keeps no mark for it)
  // The connection's first packet (ct state new): what the walks here mostly follow. False for
  // a packet of a connection conntrack has confirmed, such as one judged again after a policy
  // change.
  bool ct_new = true;
  bool over_rate = false;  // its device is past the flood guard's rate (nftx::SourceMacMeter)
  // Its input interface is past the segment guard's rate (nftx::InterfaceMeter).
  bool segment_over_rate = false;
  // Its device holds more connections than the connection limit (nftx::SourceMacMeter).
  bool over_connections = false;
  bool ether = true;  // its input interface is an Ethernet one (meta iiftype ether)
  uint32_t meta_mark = 0;
  uint32_t ct_mark = 0;
  std::optional<uint32_t> ct_events;  // set by `ct event set`; nullopt: the kernel's default
};

// What a packet met on its way, and how it ended: "accept", "accept (policy)", "drop",
// "reject", "queue N" (the first queue number).
struct Walk {
  size_t rules = 0;
  size_t exprs = 0;  // layout expressions (nftx::*)
  // The libnftnl expressions they linearise to, up to the failing one; where the kernel stops
  // inside a layout expression (a port's implied protocol match fails), up to that match only.
  size_t kernel_exprs = 0;
  // Of those, the set and map lookups (`lookup`, and `dynset`, which looks its key up and adds
  // it when missing): a hash of the key and a probe, the dearest of the expressions a packet
  // meets in this table.
  size_t lookups = 0;
  size_t counters = 0;              // `counter` statements the packet ran
  std::vector<std::string> chains;  // every chain entered, in order
  std::string verdict;
  uint32_t meta_mark = 0;  // the packet's marks when the walk ended
  uint32_t ct_mark = 0;
  bool ct_labelled = false;           // `ct label set ether saddr` ran (nftx::CtLabelSourceMac)
  std::optional<uint32_t> ct_events;  // the connection's event mask, when a rule set it
};

// Whether `ifname` is an element of the interface-name set `name` of `layout`.
inline bool inInterfaceSet(const RulesetLayout& layout, const std::string& name,
                           const std::string& ifname) {
  for (const SetLayout& s : layout.sets) {
    if (s.name != name) continue;
    CHECK_MESSAGE(s.kind == SetKind::kInterfaceNames, "@" << name << " holds no interface names");
    return std::find(s.ifnames.begin(), s.ifnames.end(), ifname) != s.ifnames.end();
  }
  FAIL_CHECK("no set @" << name);
  return false;
}

// The mark a verdict map looks up: the packet's or its connection's, under the map's mask.
inline uint32_t mapKey(const nftx::MarkVmap& m, const Packet& p) {
  return (m.packet_mark ? p.meta_mark : p.ct_mark) & m.mask;
}
// A map that skips a zero mark and meets one: it stops at its compare, before the lookup.
inline bool skipsAtZero(const nftx::MarkVmap& m, const Packet& p) {
  return m.skip_zero && mapKey(m, p) == 0;
}

// Evaluates one expression of a rule of `layout`; false when a match fails. Sets `verdict` for a
// verdict statement or a verdict map's hit.
inline bool evaluate(const RulesetLayout& layout, const NftExpr& expr, Packet& p, Walk& w,
                     std::optional<nftx::Verdict>& verdict) {
  using namespace nftx;  // NOLINT
  if (const auto* m = std::get_if<IfNameInSet>(&expr)) {
    return inInterfaceSet(layout, m->set, m->output ? p.oif : p.iif);
  }
  if (const auto* m = std::get_if<L4Proto>(&expr)) return p.l4 == m->proto;
  if (const auto* m = std::get_if<Port>(&expr)) {
    // Protocol 0 (th): the packet's first transport bytes, here its ports whatever it carries.
    return (m->proto == 0 || p.l4 == m->proto) &&
           (((m->source ? p.sport : p.dport) == m->port) != m->negate);
  }
  if (const auto* m = std::get_if<Icmpv6Type>(&expr)) {
    return p.l4 == IPPROTO_ICMPV6 && p.icmpv6_type >= m->first && p.icmpv6_type <= m->last;
  }
  if (std::get_if<CtStateInvalid>(&expr)) return p.invalid;
  if (std::get_if<CtStateNew>(&expr)) return !p.invalid && p.ct_new;
  if (std::get_if<CtLabelSourceMac>(&expr)) {
    if (!p.ether) return false;
    w.ct_labelled = true;
    return true;
  }
  if (const auto* m = std::get_if<SourceMacMeter>(&expr)) {
    if (!p.ether) return false;
    if (m->rate > 0) return p.over_rate;
    if (m->connections > 0) return p.over_connections;
    return true;  // a counter
  }
  if (const auto* m = std::get_if<InterfaceMeter>(&expr)) {
    return m->rate > 0 ? p.segment_over_rate : true;  // the bucket, or a counter
  }
  if (const auto* m = std::get_if<CtDirection>(&expr)) return !p.invalid && p.reply == m->reply;
  if (const auto* m = std::get_if<CtOriginalPort>(&expr)) {
    if (p.invalid) return false;
    if (!p.ct_original_ports && p.l4 != IPPROTO_TCP && p.l4 != IPPROTO_UDP) return false;
    const auto [original_source, original_destination] =
        p.ct_original_ports ? *p.ct_original_ports
                            : (p.reply ? std::pair(p.dport, p.sport) : std::pair(p.sport, p.dport));
    return (m->source ? original_source : original_destination) == m->port;
  }
  if (const auto* m = std::get_if<CtProtocol>(&expr)) {
    return !p.invalid && (p.ct_l4 != 0 ? p.ct_l4 : p.l4) == m->proto;
  }
  if (const auto* s = std::get_if<CtEventSet>(&expr)) p.ct_events = s->events;
  if (std::get_if<CtStatusNoNat>(&expr)) return !p.invalid && !p.nat;
  if (const auto* m = std::get_if<CtMarkIs>(&expr)) {
    return !p.invalid && (p.ct_mark & m->mask) == m->mark;
  }
  if (const auto* m = std::get_if<MarkVmap>(&expr)) {
    if (p.invalid && !m->packet_mark) return false;
    if (skipsAtZero(*m, p)) return false;
    for (const auto& [mark, v] : m->elements) {
      if (mapKey(*m, p) == mark) {
        verdict = v;
        return true;
      }
    }
    return false;
  }
  if (std::get_if<Counter>(&expr)) ++w.counters;
  if (const auto* s = std::get_if<SetMetaMark>(&expr)) p.meta_mark = s->mark;
  if (const auto* s = std::get_if<CtMarkFromMetaMark>(&expr)) p.ct_mark = p.meta_mark & s->mask;
  if (const auto* v = std::get_if<Verdict>(&expr)) verdict = *v;
  if (const auto* q = std::get_if<Queue>(&expr)) w.verdict = "queue " + std::to_string(q->first);
  if (std::get_if<Reject>(&expr)) w.verdict = "reject";
  return true;
}

// The match implied by a layout expression that failed on it, when one did: a port's or an ICMPv6
// type's protocol. The kernel stops there, before the rest of the expression.
inline std::optional<NftExpr> failedImpliedMatch(const NftExpr& expr, const Packet& p) {
  if (const auto* m = std::get_if<nftx::Port>(&expr);
      m != nullptr && m->proto != 0 && p.l4 != m->proto) {
    return nftx::L4Proto{m->proto};
  }
  if (std::holds_alternative<nftx::Icmpv6Type>(expr) && p.l4 != IPPROTO_ICMPV6) {
    return nftx::L4Proto{IPPROTO_ICMPV6};
  }
  // A map that skips a zero mark stops at its compare: a load, the mask and the compare, as the
  // conntrack mark's compare makes them (the same three kernel expressions, no lookup).
  if (const auto* m = std::get_if<nftx::MarkVmap>(&expr); m != nullptr && skipsAtZero(*m, p)) {
    return nftx::CtMarkIs{0, m->mask};
  }
  return std::nullopt;
}

// The libnftnl expressions the first `count` expressions of `rule` make, and how many of them
// are lookups. With `failed`, the last of those `count` is replaced by the implied match it failed
// on (failedImpliedMatch).
struct KernelCount {
  size_t exprs = 0;
  size_t lookups = 0;
};
inline KernelCount kernelExprs(const RuleLayout& rule, size_t count,
                               const std::optional<NftExpr>& failed = std::nullopt) {
  RuleLayout prefix{rule.chain, rule.what, {rule.exprs.begin(), rule.exprs.begin() + count}};
  if (failed) prefix.exprs.back() = *failed;
  NftnlRulePtr r = buildNftnlRule(kRulesetTable, prefix);
  KernelCount n;
  nftnl_expr_foreach(
      r.get(),
      [](nftnl_expr* e, void* data) {
        auto* n = static_cast<KernelCount*>(data);
        ++n->exprs;
        const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        if (name == "lookup" || name == "dynset") ++n->lookups;
        return 0;
      },
      &n);
  return n;
}

// Walks `p` from base chain `hook` ("forward", "input" or "output").
inline Walk walk(const RulesetLayout& layout, Packet p, const std::string& hook = "forward");

// The walk itself; walk() adds the marks the packet ended with.
inline Walk walkRules(const RulesetLayout& layout, Packet& p, const std::string& hook) {
  Walk w;
  std::string chain = hook;
  w.chains.push_back(chain);
  size_t next = 0;
  std::vector<std::pair<std::string, size_t>> stack;
  auto enter = [&](const std::string& to) {
    chain = to;
    next = 0;
    w.chains.push_back(chain);
  };
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
      matched = evaluate(layout, rule.exprs[i], p, w, verdict);
    }
    const KernelCount kernel =
        kernelExprs(rule, i, matched ? std::nullopt : failedImpliedMatch(rule.exprs[i - 1], p));
    w.kernel_exprs += kernel.exprs;
    w.lookups += kernel.lookups;
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
        enter(verdict->chain);
        break;
      case nftx::Verdict::kGoto:
        enter(verdict->chain);
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

inline Walk walk(const RulesetLayout& layout, Packet p, const std::string& hook) {
  Walk w = walkRules(layout, p, hook);
  w.meta_mark = p.meta_mark;
  w.ct_mark = p.ct_mark;
  w.ct_events = p.ct_events;
  return w;
}

}  // namespace muzzle::walker

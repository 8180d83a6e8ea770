// nft(8) text for the ruleset NftRulesetWriter installs, rendered from the same layout
// (ruleset_layout.h): what operators read in the log and what `nft list table inet muzzle`
// resembles.
#include <cstdio>
#include <iterator>
#include <string>
#include <variant>

#include "fw/nft/marks.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {

const char* queueModeName(QueueMode mode) {
  return mode == QueueMode::kNative ? "native" : "compat";
}

namespace {

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// "0x00000101", or with a mask as nft(8) writes it: "& 0xffffff03 == 0x00000101".
std::string masked(uint32_t mark, uint32_t mask) {
  return mask == 0xFFFFFFFF ? hex(mark) : "& " + hex(mask) + " == " + hex(mark);
}

std::string protoName(uint8_t proto) {
  switch (proto) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "icmpv6";
    default:
      return std::to_string(proto);
  }
}

struct ExprText {
  std::string operator()(const nftx::IfNameInSet& m) const {
    return (m.output ? "oifname @" : "iifname @") + m.set;
  }
  std::string operator()(const nftx::L4Proto& m) const {
    return "meta l4proto " + protoName(m.proto);
  }
  std::string operator()(const nftx::Port& m) const {
    return (m.proto == 0 ? "th" : protoName(m.proto)) + (m.source ? " sport " : " dport ") +
           (m.negate ? "!= " : "") + std::to_string(m.port);
  }
  std::string operator()(const nftx::Icmpv6Type& m) const {
    std::string text = "icmpv6 type " + std::to_string(m.first);
    return m.first == m.last ? text : text + "-" + std::to_string(m.last);
  }
  std::string operator()(const nftx::CtStateInvalid&) const { return "ct state invalid"; }
  std::string operator()(const nftx::CtStateNew&) const { return "ct state new"; }
  std::string operator()(const nftx::SourceMacMeter& m) const {
    if (m.rate > 0) {
      return "update @" + m.set + " { ether saddr limit rate over " + std::to_string(m.rate) +
             "/second burst " + std::to_string(m.burst) + " packets }";
    }
    if (m.connections > 0) {
      return "add @" + m.set + " { ether saddr ct count over " + std::to_string(m.connections) +
             " }";
    }
    return "update @" + m.set + " { ether saddr counter }";
  }
  std::string operator()(const nftx::CtLabelSourceMac&) const { return "ct label set ether saddr"; }
  std::string operator()(const nftx::InterfaceMeter& m) const {
    if (m.rate > 0) {
      return "update @" + m.set + " { iifname limit rate over " + std::to_string(m.rate) +
             "/second burst " + std::to_string(m.burst) + " packets }";
    }
    return "update @" + m.set + " { iifname counter }";
  }
  std::string operator()(const nftx::CtDirection& m) const {
    return m.reply ? "ct direction reply" : "ct direction original";
  }
  std::string operator()(const nftx::CtOriginalPort& m) const {
    return std::string(m.source ? "ct original proto-src " : "ct original proto-dst ") +
           std::to_string(m.port);
  }
  std::string operator()(const nftx::CtProtocol& m) const {
    // The kernel wants a direction for it (the original); nft(8) lists it without one.
    return "ct protocol " + protoName(m.proto);
  }
  std::string operator()(const nftx::CtEventSet& s) const {
    // nft(8)'s names of the event bits, in bit order (enum ip_conntrack_events).
    static constexpr const char* kNames[] = {"new",     "related",   "destroy", "reply",
                                             "assured", "protoinfo", "helper",  "mark",
                                             "seqadj",  "secmark",   "label",   "synproxy"};
    std::string names;
    for (size_t bit = 0; bit < std::size(kNames); ++bit) {
      if ((s.events >> bit & 1) == 0) continue;
      names += (names.empty() ? "" : ",") + std::string(kNames[bit]);
    }
    return "ct event set " + (names.empty() ? "0" : names);
  }
  std::string operator()(const nftx::CtStatusNoNat&) const {
    return "ct status & (snat | dnat) == 0";
  }
  std::string operator()(const nftx::CtMarkIs& m) const {
    return "ct mark " + masked(m.mark, m.mask);
  }
  std::string operator()(const nftx::SetMetaMark& s) const {
    return "meta mark set " + hex(s.mark);
  }
  std::string operator()(const nftx::CtMarkFromMetaMark& s) const {
    return "ct mark set meta mark" + (s.mask == 0xFFFFFFFF ? "" : " & " + hex(s.mask));
  }
  std::string operator()(const nftx::Counter&) const { return "counter"; }
  std::string operator()(const nftx::Queue& q) const {
    std::string text =
        q.mode == QueueMode::kNative ? "queue num " : "xt target NFQUEUE --queue-num ";
    text += std::to_string(q.first);
    if (q.total > 1) text += "-" + std::to_string(q.first + q.total - 1);
    if (q.bypass) text += " bypass";
    if (q.total > 1) text += " fanout";
    return text;
  }
  std::string operator()(const nftx::Verdict& v) const {
    switch (v.code) {
      case nftx::Verdict::kAccept:
        return "accept";
      case nftx::Verdict::kDrop:
        return "drop";
      case nftx::Verdict::kReturn:
        return "return";
      case nftx::Verdict::kGoto:
        return "goto " + v.chain;
      case nftx::Verdict::kJump:
        return "jump " + v.chain;
    }
    return "";
  }
  std::string operator()(const nftx::Reject& r) const {
    return r.tcp_reset ? "reject with tcp reset" : "reject with icmpx admin-prohibited";
  }
  std::string operator()(const nftx::MarkVmap& m) const {
    // The compare and the lookup each name the value: nft(8) reads this text back to the same
    // match (loading the mark twice, where the table loads it once).
    const std::string value = std::string(m.packet_mark ? "meta mark " : "ct mark ") +
                              (m.mask == 0xFFFFFFFF ? "" : "& " + hex(m.mask) + " ");
    std::string text = (m.skip_zero ? value + "!= " + hex(0) + " " : "") + value + "vmap {";
    for (size_t i = 0; i < m.elements.size(); ++i) {
      text +=
          (i == 0 ? " " : ", ") + hex(m.elements[i].first) + " : " + (*this)(m.elements[i].second);
    }
    return text + " }";
  }
};

const char* hookName(Hook hook) {
  switch (hook) {
    case Hook::kForward:
      return "forward";
    case Hook::kInput:
      return "input";
    case Hook::kOutput:
      return "output";
  }
  return "";
}

std::string setText(const SetLayout& set) {
  std::string text = "  set " + set.name + " {\n    type ";
  std::string elements;
  if (set.kind == SetKind::kDeviceMeter || set.kind == SetKind::kInterfaceMeter) {
    text += (set.kind == SetKind::kDeviceMeter ? "ether_addr; size " : "ifname; size ") +
            std::to_string(set.size);
    if (set.timeout_ms == 0) return text + "; flags dynamic;\n  }\n";
    return text + "; flags dynamic,timeout; timeout " + std::to_string(set.timeout_ms) +
           "ms;\n  }\n";
  }
  text += "ifname;\n";  // SetKind::kInterfaceNames
  for (const std::string& name : set.ifnames) {
    elements += (elements.empty() ? "\"" : ", \"") + name + "\"";
  }
  if (!elements.empty()) text += "    elements = { " + elements + " }\n";
  return text + "  }\n";
}

}  // namespace

std::string nftText(const RuleLayout& rule) {
  std::string text;
  for (const NftExpr& expr : rule.exprs) {
    text += (text.empty() ? "" : " ") + std::visit(ExprText{}, expr);
  }
  return text;
}

std::string describeRuleset(const RulesetSpec& spec) {
  const RulesetLayout layout = rulesetLayout(spec);
  std::string out = "table inet " + layout.table + " {\n";
  for (const SetLayout& set : layout.sets) out += setText(set);
  for (const std::string& name : layout.listing) {
    out += "  chain " + name + " {\n";
    for (const ChainLayout& chain : layout.chains) {
      if (chain.name != name || !chain.hook) continue;
      out += std::string("    type filter hook ") + hookName(*chain.hook) +
             " priority 0; policy accept;\n";
    }
    for (const RuleLayout& rule : layout.rules) {
      if (rule.chain == name) out += "    " + nftText(rule) + "\n";
    }
    out += "  }\n";
  }
  return out + "}\n";
}

}  // namespace muzzle

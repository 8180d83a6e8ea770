// nft(8) text for the ruleset NftRulesetWriter installs. Keep the two in step: this is what
// operators read in the log and what `nft list table inet muzzle` should resemble.
#include <cstdio>
#include <string>

#include "fw/nft/marks.h"
#include "fw/nft/ruleset.h"

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
}  // namespace

std::string describeRuleset(const RulesetSpec& spec) {
  const uint32_t g = spec.generation;
  std::string queue_range = std::to_string(spec.queue_first);
  if (spec.queue_count > 1) queue_range += "-" + std::to_string(spec.queue_first + spec.queue_count - 1);
  std::string queue_flags;
  if (spec.fail_open) queue_flags += " bypass";
  if (spec.queue_count > 1) queue_flags += " fanout";
  std::string queue = spec.queue_mode == QueueMode::kNative
                          ? "queue num " + queue_range + queue_flags
                          : "xt target NFQUEUE --queue-num " + queue_range + queue_flags;
  const std::string inspection_flags = spec.fail_open ? " bypass" : "";
  const std::string inspection_queue =
      (spec.queue_mode == QueueMode::kNative ? "queue num " : "xt target NFQUEUE --queue-num ") +
      std::to_string(spec.inspectionQueue()) + inspection_flags;

  std::string doh4, doh6;
  for (const Cidr& c : spec.doh) {
    std::string& list = c.base.v6 ? doh6 : doh4;
    list += (list.empty() ? "" : ", ") + c.toString();
  }
  auto set = [](const char* name, const char* type, const std::string& elements) {
    std::string text = std::string("  set ") + name + " {\n    type " + type + "; flags interval;\n";
    if (!elements.empty()) text += "    elements = { " + elements + " }\n";
    return text + "  }\n";
  };
  auto dns_answers = [&](const std::string& ifname) {
    return "    oifname \"" + ifname + "\" udp sport 53 goto dns-answer\n" + "    oifname \"" + ifname +
           "\" tcp sport 53 goto dns-answer\n";
  };

  std::string out = "table inet muzzle {\n";
  out += set("doh4", "ipv4_addr", doh4);
  out += set("doh6", "ipv6_addr", doh6);
  out += "  chain forward {\n    type filter hook forward priority 0; policy accept;\n";
  for (const auto& ifname : spec.segment_ifnames) {
    out += "    iifname \"" + ifname + "\" goto judge\n";
    out += "    oifname \"" + ifname + "\" goto judge\n";
  }
  out += "  }\n  chain input {\n    type filter hook input priority 0; policy accept;\n";
  for (const auto& ifname : spec.segment_ifnames) out += "    iifname \"" + ifname + "\" goto judge\n";
  out += "  }\n  chain output {\n    type filter hook output priority 0; policy accept;\n";
  for (const auto& ifname : spec.segment_ifnames) out += dns_answers(ifname);
  for (const auto& ifname : spec.segment_ifnames) {
    out += "    oifname \"" + ifname + "\" udp sport 67 udp dport 68 meta mark set " + hex(kHintDhcpReply) +
           " counter " + inspection_queue + "\n";
  }
  out += "  }\n  chain judge {\n";
  out += "    icmpv6 type 130-137 accept\n    icmpv6 type 143 accept\n";
  out += "    ct state invalid counter drop\n";
  for (const auto& ifname : spec.segment_ifnames) out += dns_answers(ifname);
  for (const auto& ifname : spec.segment_ifnames) {
    out += "    iifname \"" + ifname + "\" udp dport 67 meta mark set " + hex(kHintDhcpRequest) +
           " counter " + inspection_queue + "\n";
  }
  out += "    meta mark " + hex(verdictMark(g, VerdictCode::kAllow)) + " ct mark set meta mark counter accept\n";
  out += "    meta mark " + hex(verdictMark(g, VerdictCode::kReject)) + " ct mark set meta mark counter goto deny\n";
  out += "    meta mark " + hex(verdictMark(g, VerdictCode::kDrop)) + " ct mark set meta mark counter drop\n";
  for (const auto& ifname : spec.segment_ifnames) {
    out += "    iifname \"" + ifname + "\" udp dport 53 ct direction original jump dns-query\n";
    out += "    iifname \"" + ifname + "\" tcp dport 53 ct direction original jump dns-query\n";
  }
  out += "    ct mark " + hex(verdictMark(g, VerdictCode::kAllow)) + " counter accept\n";
  out += "    ct mark " + hex(verdictMark(g, VerdictCode::kReject)) + " counter goto deny\n";
  out += "    ct mark " + hex(verdictMark(g, VerdictCode::kDrop)) + " counter drop\n";
  out += "    meta mark set 0x00000000\n";
  out += "    ip daddr @doh4 meta mark set " + hex(kHintDohDestination) + "\n";
  out += "    ip6 daddr @doh6 meta mark set " + hex(kHintDohDestination) + "\n";
  out += "    ct direction reply meta mark set " + hex(kHintReplyDirection) + "\n";
  out += "    counter " + queue + "\n  }\n";
  out += "  chain dns-answer {\n    meta mark set " + hex(kHintDnsAnswer) + "\n";
  out += "    ct direction reply meta mark set " + hex(kHintDnsAnswer | kHintReplyDirection) + "\n";
  out += "    counter " + inspection_queue + "\n  }\n";
  out += "  chain dns-query {\n    ct mark " + hex(verdictMark(g, VerdictCode::kAllow)) + " meta mark set " +
         hex(kHintDnsQuery | kHintFlowAllowed) + " counter " + inspection_queue + "\n";
  out += "    ct mark " + hex(verdictMark(g, VerdictCode::kReject)) + " return\n";
  out += "    ct mark " + hex(verdictMark(g, VerdictCode::kDrop)) + " return\n";
  out += "    meta mark set " + hex(kHintDnsQuery) + " counter " + inspection_queue + "\n  }\n";
  out += "  chain deny {\n    meta l4proto tcp reject with tcp reset\n";
  out += "    reject with icmpx admin-prohibited\n  }\n}\n";
  return out;
}

}  // namespace muzzle

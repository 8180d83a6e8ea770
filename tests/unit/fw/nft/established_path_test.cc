// The kernel's cost of table `inet muzzle` per packet (fw/nft/ruleset_layout.h), walked through
// the layout as the kernel walks the chains (layout_walker.h): an established flow is decided by
// one verdict-map lookup on its conntrack mark, the first rule of its base chain, and the
// packets muzzled reads (DNS answers and queries, DHCP requests) still reach it, whatever their
// flow's verdict; a new flow's fresh verdict is met by a second map, on the packet mark, first in
// `judge`. The pinned counts are the guard: a rule put back ahead of either map, or a counter on
// the first, changes them; and a rule per segment, put back in any chain, makes the counts with
// 3 segments differ from those with 1.
#include <doctest/doctest.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

#include <map>
#include <string>
#include <vector>

#include "fw/nft/marks.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"
#include "tests/unit/fw/nft/layout_walker.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using walker::Packet;
using walker::Walk;

constexpr uint32_t kGeneration = 9;
constexpr uint8_t kClass = 5;

// The table as muzzled installs it by default: the flood guard and the segment guard on
// (muzzled.yaml flood_guard), and the connection limit counted by muzzled (accounting on), whose
// rules mark a connection's first packet as they queue it.
RulesetSpec spec(size_t segments) {
  RulesetSpec s;
  s.generation = kGeneration;
  s.flood_rate = 500;
  s.flood_burst = 1000;
  s.new_connection_hint = true;
  s.segment_rate = 2000;
  s.segment_burst = 4000;
  for (size_t i = 0; i < segments; ++i) s.segment_ifnames.push_back("br-" + std::to_string(i));
  return s;
}

// The table of a box without accounting: the kernel counts the connection limit.
RulesetSpec kernelCountSpec(size_t segments) {
  RulesetSpec s = spec(segments);
  s.new_connection_hint = false;
  s.conn_limit = 1024;
  return s;
}

uint32_t mark(VerdictCode code, uint32_t traffic_class = 0) {
  return verdictMark(kGeneration, code, traffic_class);
}

// A packet of a TCP flow from the first segment to the internet.
Packet upload(uint32_t ct_mark, bool v6 = false) {
  Packet p;
  p.iif = "br-0";
  p.oif = "wan";
  p.v6 = v6;
  p.ct_mark = ct_mark;
  return p;
}

// A DNS answer from a resolver on the internet to a device on the first segment, in the reply
// direction of the device's query flow.
Packet dnsAnswer(uint32_t ct_mark, uint8_t l4 = IPPROTO_UDP) {
  Packet p;
  p.iif = "wan";
  p.oif = "br-0";
  p.l4 = l4;
  p.sport = 53;
  p.dport = 40000;
  p.reply = true;
  p.ct_mark = ct_mark;
  return p;
}

Packet dnsQuery(uint32_t ct_mark, uint8_t l4 = IPPROTO_UDP) {
  Packet p = upload(ct_mark);
  p.l4 = l4;
  p.dport = 53;
  return p;
}

// A DHCP request from a device on the first segment (to the box's own server: input).
Packet dhcpRequest(uint32_t ct_mark) {
  Packet p = upload(ct_mark);
  p.oif = "";
  p.l4 = IPPROTO_UDP;
  p.sport = 68;
  p.dport = 67;
  return p;
}

TEST_CASE("the established path: one lookup, pinned in rules and kernel expressions") {
  // Before the verdict map (one segment, IPv4, accounting off): 13 rules and 48 kernel
  // expressions per established allowed packet, 23 and 68 with three segments. Before @segments
  // (a rule per segment and direction in forward, input, dns-dhcp, inspected, account and
  // account6), with three segments: to the last segment 7 rules / 16 kernel expressions, 15 / 35
  // with accounting; from the first with accounting 10 / 25 (IPv6 10 / 26); rejected 13 / 32;
  // dropped with accounting 13 / 30; a DNS query on an allowed flow 14 / 45; a DHCP request
  // 13 / 40. Since @segments every count is the one-segment count. Accounting added 4 rules and
  // 11 expressions to an allowed packet (`account`: the IPv6 dispatch, the upload and download
  // set updates, the accept) until conntrack's own counters replaced it (conntrack_counts.h):
  // with or without accounting, the rows below are now the whole cost. Until the ports came
  // ahead of @segments in the rules that test both (2026-12-06), a refused packet made 5 lookups
  // (in the same kernel expressions), a DNS query on an allowed flow 6, a DHCP request 6
  // (in 2 kernel expressions fewer). Until the conntrack mark's map moved from `judge` to the head
  // of the base chains (the same day), an allowed packet walked 2 rules / 6 kernel expressions /
  // 2 lookups from a segment and 3 / 8 / 3 to one (the base chain's interface rules first), a
  // refused one 7 / 18 or 16 / 2, a DNS answer on an allowed flow 9 / 31 / 4, a DNS query
  // 8 / 33 / 3.
  struct Row {
    const char* what;
    size_t segments;
    Packet packet;
    const char* hook;
    const char* verdict;
    size_t rules, kernel_exprs, lookups;
  };
  const uint32_t allowed = mark(VerdictCode::kAllow, kClass);
  const uint32_t inspected = mark(VerdictCode::kAllowInspected, kClass);
  const uint32_t rejected = mark(VerdictCode::kReject), dropped = mark(VerdictCode::kDrop);
  Packet download = upload(allowed);
  std::swap(download.iif, download.oif);
  download.oif = "br-2";
  download.reply = true;
  Packet download_first = download;
  download_first.oif = "br-0";
  // The base chain's first rule, the map: conntrack mark load, class mask, lookup (the verdict
  // comes from the map: no immediate), whichever way the packet goes. Behind it `iifname
  // @segments goto judge`, then `oifname @segments goto judge`, which an established packet of a
  // judged flow never reaches. In `input` the map is second, behind the DHCP requests' rule,
  // whose port fails first (2 expressions for TCP, 4 for UDP).
  Packet to_box = upload(allowed);
  to_box.oif = "";
  to_box.l4 = IPPROTO_UDP;
  to_box.dport = 123;
  const Row rows[] = {
      {"allowed", 1, upload(allowed), "forward", "accept", 1, 3, 1},
      {"allowed", 3, upload(allowed), "forward", "accept", 1, 3, 1},
      {"allowed, IPv6", 3, upload(allowed, true), "forward", "accept", 1, 3, 1},
      {"allowed, to the segment", 1, download_first, "forward", "accept", 1, 3, 1},
      {"allowed, to the last segment", 3, download, "forward", "accept", 1, 3, 1},
      {"allowed, to the box (UDP)", 1, to_box, "input", "accept", 2, 7, 1},
      // Refused: the map, then `dns-dhcp` (DNS answers and DHCP requests of a refused flow
      // still reach muzzled: 3 rules, whose ports fail before their lookups), then the refusal.
      {"rejected", 1, upload(rejected), "forward", "reject", 6, 15, 1},
      {"rejected", 3, upload(rejected), "forward", "reject", 6, 15, 1},
      {"dropped", 1, upload(dropped), "forward", "drop", 6, 13, 1},
      {"dropped", 3, upload(dropped), "forward", "drop", 6, 13, 1},
      // Packets muzzled reads, on an allowed flow (verdict code 0, marks.h): the map sends them
      // to `inspected`, and from there to the inspection queue.
      {"DNS answer", 1, dnsAnswer(inspected), "forward", "queue 101", 7, 26, 2},
      {"DNS answer", 3, dnsAnswer(inspected), "forward", "queue 101", 7, 26, 2},
      // A query is held to its device's flood-guard bucket in `inspected` (2026-12-07: one rule,
      // 8 kernel expressions and 2 lookups, @segments and the bucket, more than 7 / 30 / 2), then
      // to its segment's (the segment guard, the same day: one rule, 6 kernel expressions and 2
      // lookups, @segments and the segment's bucket, more than 8 / 38 / 4).
      {"DNS query", 1, dnsQuery(inspected), "forward", "queue 101", 9, 44, 6},
      {"DNS query", 3, dnsQuery(inspected), "forward", "queue 101", 9, 44, 6},
      // To the box, whatever its flow's mark: the first rule of `input`, then `dhcp-request`,
      // which holds it to its device's bucket (2026-12-07; 1 / 10 / 1 before), then to its
      // segment's (the segment guard: 2 kernel expressions, 1 lookup; 3 / 21 / 3 before it).
      // (Past the map, `judge` and `dns-dhcp` before: 10 rules / 33 kernel expressions / 4
      // lookups.)
      {"DHCP request", 1, dhcpRequest(0), "input", "queue 101", 4, 23, 4},
      {"DHCP request", 3, dhcpRequest(0), "input", "queue 101", 4, 23, 4},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.what));
    CAPTURE(row.segments);
    const Walk w = walker::walk(rulesetLayout(spec(row.segments)), row.packet, row.hook);
    CHECK(w.verdict == row.verdict);
    CHECK(w.rules == row.rules);
    CHECK(w.kernel_exprs == row.kernel_exprs);
    CHECK(w.lookups == row.lookups);
  }
}

TEST_CASE("a new flow's two walks: queued, then its fresh verdict in one more lookup") {
  // A first packet walks `judge` to the flow queue; muzzled answers NF_REPEAT with a verdict
  // mark, and the repeated walk meets the packet mark's map second in `judge`, which sends it to
  // the chain that saves the verdict. Before that map (seven rules that each compared the packet
  // mark, after the invalid check and `dns-dhcp`) the first walk took 23 rules / 73 kernel
  // expressions (24 / 76 for UDP with accounting's rule), the repeat of an allowed TCP or UDP flow
  // 14 / 55 (59 with accounting's events), of a DNS query 10 / 38, a rejection 20 / 62, a drop
  // 16 / 50: an allowed TCP first packet 37 rules / 128 expressions in all, 25 / 78 since (as the
  // walker counted then: every expression a rule reached counted whole). Counted up to the match
  // the kernel stops at, the first walk of a TCP flow was 47 expressions and 9 lookups (UDP 49 and
  // 9), a rejection's repeat 25 and 6, until the ports came ahead of @segments in the five rules
  // of `dns-dhcp` and `judge` that test both (2026-12-06): a new flow to the internet fails their
  // ports and makes none of those five lookups. Until the fast lanes (2026-12-07: `judge`'s rule
  // to `ask` for a packet of no DNS or DHCP port, `save-allowed`'s rule per protocol for a
  // connection of none and without NAT) the first walk took 17 rules / 43 kernel expressions
  // (UDP 45) through `dns-dhcp`, and an allowed flow's repeat 8 / 21 (25 with accounting's
  // events), four of its rules each loading a port of the conntrack tuple; a DNS query's repeat
  // 4 / 16, which the fast lanes' two failed rules now precede. Until the packet mark's map
  // skipped a zero mark (2026-12-07: a compare ahead of its lookup), the first walk made 4
  // lookups, the map missing on every first packet's mark of 0; each repeat walk has one kernel
  // expression more for it. The flood guard (2026-12-07, on by default) adds one rule, 7 kernel
  // expressions and one lookup (its bucket's, in @flood-guard) to the first walk: 10 / 29 / 2
  // without it. The connection limit (2026-12-07, on by default) adds one rule, 9 kernel
  // expressions and two lookups (@segments, the device's list in @conn-limit) to an allowed new
  // flow's repeat walk: 4 / 27 / 3 for TCP without it. The DoH lookups left the first walk on
  // 2026-12-07 (`ask`'s two rules that looked the destination up in @doh4 or @doh6, now decide()'s
  // question of the compiled policy's list, for a flow to port 443 alone): it was 13 / 42 / 4
  // (a foreign mark 13 / 43 / 5), 12 / 35 / 3 without the flood guard. The segment guard
  // (2026-12-07, on by default, right behind the flood guard's rule) adds one rule, 5 kernel
  // expressions and one lookup (its input interface's bucket, in @segment-guard) to the first
  // walk: 11 / 36 / 3 without it (a foreign mark 11 / 37 / 4), and nothing to the repeat walks,
  // which the packet mark's map sends on first in `judge`. Since muzzled counts the connection
  // limit (2026-12-08; the kernel's rule is a box without accounting's, below), the repeat walks
  // are one rule, 9 kernel expressions and two lookups shorter (5 / 36 / 5 for TCP with the
  // kernel's rule), and `ask` has one rule more, 10 kernel expressions, that labels a connection's
  // first packet with its sender's MAC address and marks it (12 / 41 / 4 without it).
  struct Row {
    const char* what;
    RulesetSpec::UdpEnds udp_ends;
    Packet packet;
    uint32_t verdict_mark;  // 0: the first walk
    const char* verdict;
    std::vector<std::string> chains;
    size_t rules, kernel_exprs, lookups;
  };
  const uint32_t allowed = mark(VerdictCode::kAllow, kClass);
  Packet udp = upload(0);
  udp.l4 = IPPROTO_UDP;
  using Chains = std::vector<std::string>;
  const Chains first{"forward", "judge", "ask"};
  const Chains saved{"forward", "judge", "save-allowed"};
  const auto kNone = RulesetSpec::UdpEnds::kUntouched, kEvents = RulesetSpec::UdpEnds::kEvents;
  const Row rows[] = {
      {"TCP, first walk", kNone, upload(0), 0, "queue 100", first, 13, 51, 4},
      {"UDP, first walk", kEvents, udp, 0, "queue 100", first, 13, 51, 4},
      // A mark another table set, not this generation's verdict: asked of the map, which misses.
      {"TCP, first walk, a foreign mark", kNone, upload(0), 0x00010000, "queue 100", first, 13, 52,
       5},
      {"TCP, allowed", kNone, upload(0), allowed, "accept", saved, 4, 27, 3},
      {"UDP, allowed", kNone, udp, allowed, "accept", saved, 5, 29, 3},
      {"UDP, allowed, accounting's events", kEvents, udp, allowed, "accept", saved, 5, 31, 3},
      {"DNS query, allowed", kNone, dnsQuery(0), allowed, "accept", saved, 6, 25, 3},
      {"rejected", kNone, upload(0), mark(VerdictCode::kReject), "reject",
       Chains{"forward", "judge", "save-rejected", "deny", "dns-dhcp"}, 9, 26, 3},
      {"dropped", kNone, upload(0), mark(VerdictCode::kDrop), "drop",
       Chains{"forward", "judge", "save-dropped"}, 4, 14, 3},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.what));
    RulesetSpec s = spec(1);
    s.udp_ends = row.udp_ends;
    Packet p = row.packet;
    p.meta_mark = row.verdict_mark;
    const Walk w = walker::walk(rulesetLayout(s), p);
    CHECK(w.verdict == row.verdict);
    CHECK(w.chains == row.chains);
    CHECK(w.rules == row.rules);
    CHECK(w.kernel_exprs == row.kernel_exprs);
    CHECK(w.lookups == row.lookups);
  }
}

TEST_CASE("judge's fast lane: no DNS or DHCP port goes straight to ask, the same end either way") {
  const RulesetLayout layout = rulesetLayout(spec(2));
  using Chains = std::vector<std::string>;
  // A first packet of no port 53 or 67 skips `dns-dhcp` and the DNS query rules.
  for (const uint8_t l4 : {IPPROTO_TCP, IPPROTO_UDP}) {
    Packet p = upload(0);
    p.l4 = l4;
    Walk w = walker::walk(layout, p);
    CHECK(w.verdict == "queue 100");
    CHECK(w.chains == Chains{"forward", "judge", "ask"});
    // Its reply direction too, hinted as such.
    Packet back = p;
    std::swap(back.iif, back.oif);
    std::swap(back.sport, back.dport);
    back.reply = true;
    w = walker::walk(layout, back);
    CHECK(w.verdict == "queue 100");
    CHECK(w.meta_mark == kHintReplyDirection);
    CHECK(w.chains == Chains{"forward", "judge", "ask"});
  }
  // The ports the long way looks for: each goes there, and meets what it met before.
  const Walk query = walker::walk(layout, dnsQuery(0));
  CHECK(query.verdict == "queue 101");
  CHECK(query.meta_mark == (kHintDnsQuery | kHintNewConnection));
  CHECK(query.chains == Chains{"forward", "judge", "dns-dhcp", "dns-query"});
  const Walk answer = walker::walk(layout, dnsAnswer(0, IPPROTO_TCP));
  CHECK(answer.verdict == "queue 101");
  CHECK(answer.chains == Chains{"forward", "judge", "dns-dhcp", "dns-answer"});
  Packet flooded = dhcpRequest(0);
  flooded.oif = "br-1";
  const Walk dhcp = walker::walk(layout, flooded);
  CHECK(dhcp.verdict == "accept");
  CHECK(dhcp.chains == Chains{"forward", "judge", "dns-dhcp"});
  // A packet from port 67 or to port 68 is no request: the fast lane.
  Packet offer = upload(0);
  offer.l4 = IPPROTO_UDP;
  offer.sport = 67;
  offer.dport = 68;
  CHECK(walker::walk(layout, offer).chains == Chains{"forward", "judge", "ask"});
  // Another protocol (`th` reads its first bytes as ports): the same end whichever way it goes.
  Packet icmp = upload(0);
  icmp.l4 = IPPROTO_ICMP;
  const Walk fast = walker::walk(layout, icmp);
  CHECK(fast.chains == Chains{"forward", "judge", "ask"});
  icmp.dport = 53;  // bytes that read as port 53
  const Walk slow = walker::walk(layout, icmp);
  CHECK(slow.chains == Chains{"forward", "judge", "dns-dhcp", "ask"});
  CHECK(slow.verdict == fast.verdict);
  CHECK(slow.meta_mark == fast.meta_mark);
  CHECK(fast.verdict == "queue 100");
}

TEST_CASE("save-allowed's fast lane: only a TCP or UDP packet of an untranslated connection") {
  const RulesetLayout layout = rulesetLayout(spec(1));
  const uint32_t allow = mark(VerdictCode::kAllow, kClass);
  const uint32_t inspected = mark(VerdictCode::kAllowInspected, kClass);
  auto fresh = [&](Packet p) {
    p.meta_mark = allow;
    return walker::walk(layout, p);
  };
  // Saved whole in the first rule of `save-allowed`.
  Walk w = fresh(upload(0));
  CHECK(w.ct_mark == allow);
  CHECK(w.rules == 4);
  // A connection translated ahead of the table (DNAT of a DNS query to a resolver's other
  // port): the packet's ports say nothing of the connection's, whose port 53 keeps it read.
  Packet redirected = dnsQuery(0);
  redirected.l4 = IPPROTO_UDP;
  redirected.dport = 5353;
  redirected.nat = true;
  redirected.ct_original_ports = {{40000, 53}};
  w = fresh(redirected);
  CHECK(w.verdict == "accept");
  CHECK(w.ct_mark == inspected);
  // Translated and no DNS or DHCP port anywhere: saved whole, the long way.
  Packet masqueraded = upload(0);
  masqueraded.nat = true;
  masqueraded.ct_original_ports = {{40000, 443}};
  w = fresh(masqueraded);
  CHECK(w.ct_mark == allow);
  CHECK(w.rules > 4);
  // Port 53 or 67 on either side, in either direction: inspected.
  // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
  for (const auto& ports :
       {std::pair<uint16_t, uint16_t>{53, 40000}, {40000, 53}, {67, 68}, {68, 67}}) {
    for (const uint8_t l4 : {IPPROTO_UDP, IPPROTO_TCP}) {
      CAPTURE(ports.first);
      CAPTURE(ports.second);
      Packet p = upload(0);
      p.l4 = l4;
      p.sport = ports.first;
      p.dport = ports.second;
      CHECK(fresh(p).ct_mark == inspected);
      p.reply = true;
      std::swap(p.iif, p.oif);
      std::swap(p.sport, p.dport);
      CHECK(fresh(p).ct_mark == inspected);
    }
  }
}

TEST_CASE("no rule per segment: every chain is the same with 1, 3 or 8 segments") {
  // Each chain's rules as nft text, in order.
  auto chains = [&](size_t segments) {
    std::map<std::string, std::vector<std::string>> out;
    for (const RuleLayout& r : rulesetLayout(spec(segments)).rules) {
      out[r.chain].push_back(nftText(r));
    }
    return out;
  };
  const auto one = chains(1);
  CHECK(chains(3) == one);
  CHECK(chains(8) == one);
  const std::string saved_map =
      "ct mark & 0xffffff03 vmap { 0x00000900 : goto inspected, 0x00000901 : accept, "
      "0x00000902 : goto deny, 0x00000903 : goto discard }";
  CHECK(one.at("forward") == std::vector<std::string>{saved_map, "iifname @segments goto judge",
                                                      "oifname @segments goto judge"});
  CHECK(one.at("input") ==
        std::vector<std::string>{"udp dport 67 iifname @segments goto dhcp-request", saved_map,
                                 "iifname @segments goto judge"});
  // The segments' names live in @segments alone.
  const RulesetLayout layout = rulesetLayout(spec(3));
  for (const RuleLayout& r : layout.rules) CHECK(nftText(r).find("br-") == std::string::npos);
  size_t named = 0;
  for (const SetLayout& s : layout.sets) {
    if (s.kind != SetKind::kInterfaceNames) continue;
    ++named;
    CHECK(s.name == "segments");
    CHECK(s.ifnames == std::vector<std::string>{"br-0", "br-1", "br-2"});
  }
  CHECK(named == 1);
}

TEST_CASE("the table counts no traffic: no counter on an allowed packet's way, no dynamic set") {
  // Accounting is conntrack's (conntrack_counts.h). A counter or a set update on the established
  // path would cost every packet again what moving accounting there saved. The only dynamic sets
  // are the flood guard's, the connection limit's and the segment guard's, which a connection's
  // first packets alone meet (the next tests).
  const RulesetLayout layout = rulesetLayout(kernelCountSpec(2));
  // @segments, @flood-guard, @flood-dropped, @conn-limit, @conn-limit-dropped, @segment-guard,
  // @segment-dropped
  CHECK(layout.sets.size() == 7);
  for (const SetLayout& s : layout.sets) {
    CHECK((s.kind == SetKind::kInterfaceNames ||
           (s.kind == SetKind::kDeviceMeter &&
            (s.name.rfind("flood-", 0) == 0 || s.name.rfind("conn-limit", 0) == 0)) ||
           (s.kind == SetKind::kInterfaceMeter && s.name.rfind("segment-", 0) == 0)));
  }
  for (const bool v6 : {false, true}) {
    for (const Packet& p : {upload(mark(VerdictCode::kAllow, kClass), v6),
                            [&] {
                              Packet d = upload(mark(VerdictCode::kAllow, kClass), v6);
                              std::swap(d.iif, d.oif);
                              d.oif = "br-1";
                              d.reply = true;
                              return d;
                            }()}) {
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "accept");
      CHECK(w.counters == 0);
    }
  }
}

TEST_CASE("the flood guard: a device past its rate has its new flows dropped, nothing else") {
  // In `judge` behind the invalid check, ahead of the fast lane: first packets of every kind (DNS
  // queries included) meet it; a flow judged before, met again after a policy change, a fresh
  // verdict's repeat walk, neighbour discovery and the DHCP requests the box reads never do.
  const RulesetLayout layout = rulesetLayout(spec(1));
  const std::vector<std::string> guarded{"forward", "judge"};
  auto over = [](Packet p) {
    p.over_rate = true;
    return p;
  };
  SUBCASE("past its rate: dropped at the guard, counted") {
    for (const Packet& p : {over(upload(0)), over(dnsQuery(0)), over(dnsQuery(0, IPPROTO_TCP))}) {
      CAPTURE(p.dport);
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "drop");
      CHECK(w.chains == guarded);
      CHECK(w.counters == 1);
      // The conntrack mark's map, @segments, the device's bucket and its count.
      CHECK(w.lookups == 4);
    }
    // To the box itself, from a segment: the same rule, from `input`.
    Packet to_box = over(upload(0));
    to_box.oif = "";
    to_box.dport = 22;
    CHECK(walker::walk(layout, to_box, "input").verdict == "drop");
  }
  SUBCASE("within its rate: on to muzzled, as without the guard") {
    CHECK(walker::walk(layout, upload(0)).verdict == "queue 100");
    CHECK(walker::walk(layout, dnsQuery(0)).verdict == "queue 101");
  }
  SUBCASE("not a connection's first packet: never dropped by the guard") {
    // A flow allowed under an earlier generation, met again after a policy change.
    Packet rejudged = over(upload(verdictMark(kGeneration - 1, VerdictCode::kAllow)));
    rejudged.ct_new = false;
    CHECK(walker::walk(layout, rejudged).verdict == "queue 100");
    // The repeat walk of a fresh verdict: the packet mark's map comes first in `judge`.
    Packet repeat = over(upload(0));
    repeat.meta_mark = mark(VerdictCode::kAllow, kClass);
    CHECK(walker::walk(layout, repeat).verdict == "accept");
  }
  SUBCASE("what comes ahead of it: neighbour discovery") {
    Packet nd = over(upload(0));
    nd.v6 = true;
    nd.l4 = IPPROTO_ICMPV6;
    nd.icmpv6_type = 135;
    nd.invalid = true;  // conntrack tracks none
    CHECK(walker::walk(layout, nd).verdict == "accept");
  }
  SUBCASE("the other packets a device sends muzzled one by one spend the same bucket") {
    // DHCP requests to the box, whatever their conntrack state (none, for a captured broadcast).
    for (const uint32_t ct_mark : {uint32_t{0}, mark(VerdictCode::kAllowInspected)}) {
      Packet dhcp = over(dhcpRequest(ct_mark));
      const Walk w = walker::walk(layout, dhcp, "input");
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"input", "dhcp-request"});
      CHECK(w.counters == 1);
      dhcp.over_rate = false;
      CHECK(walker::walk(layout, dhcp, "input").verdict == "queue 101");
    }
    // DNS queries on a flow muzzled allowed (more on a TCP connection, a query retried), and
    // DHCP requests on an allowed flow elsewhere: held in `inspected`.
    const uint32_t inspected = mark(VerdictCode::kAllowInspected, kClass);
    for (Packet p : {over(dnsQuery(inspected)), over(dnsQuery(inspected, IPPROTO_TCP))}) {
      p.ct_new = false;
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"forward", "inspected", "dns-dhcp"});
      p.over_rate = false;
      CHECK(walker::walk(layout, p).verdict == "queue 101");
    }
    // Not the answers: the resolver's packets, in the reply direction, are no device's to spend.
    Packet answer = over(dnsAnswer(inspected));
    answer.ct_new = false;
    CHECK(walker::walk(layout, answer).verdict == "queue 101");
  }
  SUBCASE("off (flood_rate 0): no rule, no set, the first walk as before it") {
    RulesetSpec off = spec(1);
    off.flood_rate = 0;
    off.segment_rate = 0;  // the segment guard's own rule is the next test's
    const RulesetLayout without = rulesetLayout(off);
    CHECK(without.sets.size() == 1);  // @segments
    for (const RuleLayout& r : without.rules) CHECK(r.what.find("flood") == std::string::npos);
    const Walk w = walker::walk(without, over(upload(0)));
    CHECK(w.verdict == "queue 100");
    CHECK(w.rules == 11);
    CHECK(w.kernel_exprs == 39);
    CHECK(w.lookups == 2);
  }
}

TEST_CASE(
    "the segment guard: a segment past its rate has its new flows dropped, behind the device's") {
  // Right behind the flood guard's rule at each of its three places (`judge`, `dhcp-request`,
  // `inspected`): what passes a device's own bucket spends its input interface's. A device that
  // forges a new source MAC address per packet gets a fresh device bucket each time, never a fresh
  // interface.
  const RulesetLayout layout = rulesetLayout(spec(2));
  auto over = [](Packet p) {
    p.segment_over_rate = true;
    return p;
  };
  SUBCASE("past its segment's rate: dropped at the segment guard, counted") {
    for (const Packet& p : {over(upload(0)), over(dnsQuery(0)), over(dnsQuery(0, IPPROTO_TCP))}) {
      CAPTURE(p.dport);
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"forward", "judge"});
      CHECK(w.counters == 1);
      // The conntrack mark's map, @segments, the device's bucket, the segment's and its count.
      CHECK(w.lookups == 5);
    }
    // Another segment's flows, and the uplink's, spend buckets of their own (the walker's
    // segment_over_rate is the packet's input interface's): within theirs, on to muzzled.
    Packet other = upload(0);
    other.iif = "br-1";
    CHECK(walker::walk(layout, other).verdict == "queue 100");
    // From the uplink to a segment: held to the uplink's bucket, keyed by its interface too.
    Packet inbound = over(upload(0));
    std::swap(inbound.iif, inbound.oif);
    CHECK(walker::walk(layout, inbound).verdict == "drop");
    inbound.segment_over_rate = false;
    CHECK(walker::walk(layout, inbound).verdict == "queue 100");
    // To the box itself, from a segment: the same rule, from `input`.
    Packet to_box = over(upload(0));
    to_box.oif = "";
    to_box.dport = 22;
    CHECK(walker::walk(layout, to_box, "input").verdict == "drop");
  }
  SUBCASE("a device past its own rate is dropped by its own bucket: its segment's is never met") {
    Packet both = over(upload(0));
    both.over_rate = true;
    const Walk w = walker::walk(layout, both);
    CHECK(w.verdict == "drop");
    CHECK(w.counters == 1);
    CHECK(w.lookups == 4);  // the map, @segments, the device's bucket and its count: no more
  }
  SUBCASE("not a connection's first packet, a fresh verdict's repeat: never dropped by it") {
    Packet rejudged = over(upload(verdictMark(kGeneration - 1, VerdictCode::kAllow)));
    rejudged.ct_new = false;
    CHECK(walker::walk(layout, rejudged).verdict == "queue 100");
    Packet repeat = over(upload(0));
    repeat.meta_mark = mark(VerdictCode::kAllow, kClass);
    CHECK(walker::walk(layout, repeat).verdict == "accept");
  }
  SUBCASE("the packets a device sends muzzled one by one spend their segment's bucket too") {
    for (const uint32_t ct_mark : {uint32_t{0}, mark(VerdictCode::kAllowInspected)}) {
      Packet dhcp = over(dhcpRequest(ct_mark));
      const Walk w = walker::walk(layout, dhcp, "input");
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"input", "dhcp-request"});
      CHECK(w.counters == 1);
    }
    const uint32_t inspected = mark(VerdictCode::kAllowInspected, kClass);
    for (Packet p : {over(dnsQuery(inspected)), over(dnsQuery(inspected, IPPROTO_TCP))}) {
      p.ct_new = false;
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"forward", "inspected", "dns-dhcp"});
      p.segment_over_rate = false;
      CHECK(walker::walk(layout, p).verdict == "queue 101");
    }
    // Not the answers: the resolver's packets, in the reply direction.
    Packet answer = over(dnsAnswer(inspected));
    answer.ct_new = false;
    CHECK(walker::walk(layout, answer).verdict == "queue 101");
  }
  SUBCASE("alone (flood_rate 0): its rule at the same three places, dhcp-request still made") {
    RulesetSpec alone = spec(1);
    alone.flood_rate = 0;
    const RulesetLayout only = rulesetLayout(alone);
    CHECK(walker::walk(only, over(upload(0))).verdict == "drop");
    const Walk dhcp = walker::walk(only, over(dhcpRequest(0)), "input");
    CHECK(dhcp.verdict == "drop");
    CHECK(dhcp.chains == std::vector<std::string>{"input", "dhcp-request"});
    // The first walk: one rule and one lookup more than with neither guard (11 / 39 / 2).
    const Walk w = walker::walk(only, upload(0));
    CHECK(w.verdict == "queue 100");
    CHECK(w.rules == 12);
    CHECK(w.kernel_exprs == 44);
    CHECK(w.lookups == 3);
  }
  SUBCASE("off (segment_rate 0): no rule, no set, the first walk as before it") {
    RulesetSpec off = spec(1);
    off.segment_rate = 0;
    const RulesetLayout without = rulesetLayout(off);
    CHECK(without.sets.size() == 3);  // @segments and the flood guard's stay
    for (const RuleLayout& r : without.rules) {
      CHECK(r.what.find("segment guard") == std::string::npos);
    }
    const Walk w = walker::walk(without, over(upload(0)));
    CHECK(w.verdict == "queue 100");
    CHECK(w.rules == 12);
    CHECK(w.kernel_exprs == 46);
    CHECK(w.lookups == 3);
  }
}

TEST_CASE("muzzled's count of connections: a connection's first packet queued with its hint") {
  // The connection limit counted by muzzled (the default, with accounting): nothing in the table
  // drops for it, but what muzzled judges must tell a connection's first packet from a flow
  // judged again after a policy change, which holds its connection already.
  const RulesetLayout layout = rulesetLayout(spec(1));
  CHECK(layout.sets.size() == 5);  // no @conn-limit, no @conn-limit-dropped
  for (const RuleLayout& r : layout.rules) {
    CHECK(r.what.find("connection limit") == std::string::npos);
  }
  const uint32_t stale = verdictMark(kGeneration - 1, VerdictCode::kAllow, kClass);
  Packet first = upload(0);
  Packet again = upload(stale);
  again.ct_new = false;
  Packet back = upload(stale);
  back.ct_new = false;
  back.reply = true;
  std::swap(back.iif, back.oif);
  const Walk queued = walker::walk(layout, first);
  CHECK(queued.meta_mark == kHintNewConnection);
  CHECK(queued.ct_labelled);  // its sender's MAC address, the device the recount finds it by
  const Walk rejudged = walker::walk(layout, again);
  CHECK(rejudged.meta_mark == 0);
  CHECK_FALSE(rejudged.ct_labelled);
  CHECK(walker::walk(layout, back).meta_mark == kHintReplyDirection);
  // In through an interface without Ethernet headers (a tunnel uplink): from no segment, no
  // device's; neither labelled nor counted.
  Packet tunnelled = upload(0);
  std::swap(tunnelled.iif, tunnelled.oif);
  tunnelled.ether = false;
  const Walk in = walker::walk(layout, tunnelled);
  CHECK(in.verdict == "queue 100");
  CHECK(in.meta_mark == 0);
  CHECK_FALSE(in.ct_labelled);
  Packet query = dnsQuery(0);
  Packet query_again = dnsQuery(stale);
  query_again.ct_new = false;
  CHECK(walker::walk(layout, query).meta_mark == (kHintDnsQuery | kHintNewConnection));
  CHECK(walker::walk(layout, query_again).meta_mark == kHintDnsQuery);
  // An allowed flow's query is read, never judged: no hint, whatever its state.
  CHECK(walker::walk(layout, dnsQuery(mark(VerdictCode::kAllowInspected, kClass))).meta_mark ==
        (kHintDnsQuery | kHintFlowAllowed));
  // A fresh allowed verdict's repeat meets no limit in the table.
  Packet fresh = upload(0);
  fresh.over_connections = true;
  fresh.meta_mark = mark(VerdictCode::kAllow, kClass);
  CHECK(walker::walk(layout, fresh).verdict == "accept");
  // Without the hint (the kernel counts, or no limit): no such rule, the first walk one shorter.
  RulesetSpec none = spec(1);
  none.new_connection_hint = false;
  const Walk w = walker::walk(rulesetLayout(none), first);
  CHECK(w.meta_mark == 0);
  CHECK(w.rules == 12);
  CHECK(w.kernel_exprs == 41);
}

TEST_CASE(
    "the connection limit counted by the kernel: a device at it has its allowed new flows "
    "dropped, nothing else") {
  // A box without accounting. First in `save-allowed`, on the walk after muzzled's verdict: only
  // allowed new flows from a segment meet it. A refused flow, a flow judged before and met again
  // after a policy change, a flow that comes in from the uplink, and the established path never do.
  const RulesetLayout layout = rulesetLayout(kernelCountSpec(1));
  const uint32_t allow = mark(VerdictCode::kAllow, kClass);
  auto at_limit = [](Packet p, uint32_t verdict) {
    p.over_connections = true;
    p.meta_mark = verdict;
    return p;
  };
  SUBCASE("at its limit: dropped before the verdict is saved, counted") {
    Packet udp = upload(0);
    udp.l4 = IPPROTO_UDP;
    for (const Packet& p :
         {at_limit(upload(0), allow), at_limit(udp, allow), at_limit(dnsQuery(0), allow)}) {
      CAPTURE(p.dport);
      const Walk w = walker::walk(layout, p);
      CHECK(w.verdict == "drop");
      CHECK(w.chains == std::vector<std::string>{"forward", "judge", "save-allowed"});
      CHECK(w.ct_mark == 0);  // nothing saved: the next packet is judged again
      CHECK(w.counters == 1);
      // The conntrack mark's map, @segments (the base chain's), the packet mark's map,
      // @segments again and the device's list, then its count.
      CHECK(w.lookups == 6);
    }
    // To the box itself, from a segment: the same rule, from `input`.
    Packet to_box = at_limit(upload(0), allow);
    to_box.oif = "";
    to_box.dport = 22;
    CHECK(walker::walk(layout, to_box, "input").verdict == "drop");
  }
  SUBCASE("under its limit: saved and accepted, as without the limit") {
    const Walk w = walker::walk(layout, at_limit(upload(0), allow));
    Packet under = upload(0);
    under.meta_mark = allow;
    const Walk ok = walker::walk(layout, under);
    CHECK(ok.verdict == "accept");
    CHECK(ok.ct_mark == allow);
    CHECK(w.verdict == "drop");
  }
  SUBCASE("never met: refused flows, flows judged before, flows from the uplink, the first walk") {
    CHECK(walker::walk(layout, at_limit(upload(0), mark(VerdictCode::kReject))).verdict ==
          "reject");
    CHECK(walker::walk(layout, at_limit(upload(0), mark(VerdictCode::kDrop))).verdict == "drop");
    Packet rejudged = at_limit(upload(verdictMark(kGeneration - 1, VerdictCode::kAllow)), allow);
    rejudged.ct_new = false;
    CHECK(walker::walk(layout, rejudged).verdict == "accept");
    Packet inbound = at_limit(upload(0), allow);
    std::swap(inbound.iif, inbound.oif);
    CHECK(walker::walk(layout, inbound).verdict == "accept");
    CHECK(walker::walk(layout, at_limit(upload(0), 0)).verdict == "queue 100");
    CHECK(walker::walk(layout, at_limit(upload(allow), 0)).verdict == "accept");
  }
  SUBCASE("off (conn_limit 0): no rule, no set, the repeat walk as before it") {
    RulesetSpec off = kernelCountSpec(1);
    off.conn_limit = 0;
    const RulesetLayout without = rulesetLayout(off);
    CHECK(without.sets.size() == 5);  // the flood guard's and the segment guard's stay
    for (const RuleLayout& r : without.rules)
      CHECK(r.what.find("connection limit") == std::string::npos);
    const Walk w = walker::walk(without, at_limit(upload(0), allow));
    CHECK(w.verdict == "accept");
    CHECK(w.rules == 4);
    CHECK(w.kernel_exprs == 27);
    CHECK(w.lookups == 3);
  }
}

TEST_CASE("nothing stands ahead of the verdict map, and an allowed packet meets nothing else") {
  for (const size_t segments : {1, 3}) {
    const RulesetLayout layout = rulesetLayout(spec(segments));
    for (const char* base : {"forward", "input"}) {
      CAPTURE(base);
      std::vector<const RuleLayout*> rules;
      for (const RuleLayout& r : layout.rules) {
        if (r.chain == base) rules.push_back(&r);
      }
      REQUIRE(rules.size() >= 2);
      // In `input` only the DHCP requests' rule, which a packet to any other port leaves at
      // its first match, the port.
      const RuleLayout* first = rules[0];
      if (std::string(base) == "input") {
        const auto* port = std::get_if<nftx::Port>(&rules[0]->exprs[0]);
        REQUIRE(port != nullptr);
        CHECK(port->proto == IPPROTO_UDP);
        CHECK(port->port == 67);
        CHECK_FALSE(port->source);
        first = rules[1];
      }
      REQUIRE(first->exprs.size() == 1);
      const auto* map = std::get_if<nftx::MarkVmap>(&first->exprs[0]);
      REQUIRE(map != nullptr);
      CHECK_FALSE(map->packet_mark);
      CHECK(map->mask == kAllowMask);
      CHECK(nftText(*first) ==
            "ct mark & 0xffffff03 vmap { 0x00000900 : goto inspected, 0x00000901 : accept, "
            "0x00000902 : goto deny, 0x00000903 : goto discard }");
    }
    for (const bool v6 : {false, true}) {
      const Walk w = walker::walk(layout, upload(mark(VerdictCode::kAllow, kClass), v6));
      CHECK(w.chains == std::vector<std::string>{"forward"});
    }
  }
}

TEST_CASE("a fresh verdict is saved; a connection with port 53 or 67 is saved as inspected") {
  const RulesetLayout layout = rulesetLayout(spec(1));
  const uint32_t allow = mark(VerdictCode::kAllow, kClass);
  const uint32_t inspected = mark(VerdictCode::kAllowInspected, kClass);
  auto fresh = [&](Packet p, uint32_t verdict_mark) {
    p.meta_mark = verdict_mark;
    p.ct_mark = mark(VerdictCode::kAllow) - (1 << 8);  // the previous generation's
    return walker::walk(layout, p);
  };
  Walk w = fresh(upload(0), allow);
  CHECK(w.verdict == "accept");
  CHECK(w.ct_mark == allow);
  // A DNS query flow, over UDP and TCP: its later answers and queries must reach muzzled.
  for (const uint8_t l4 : {IPPROTO_UDP, IPPROTO_TCP}) {
    w = fresh(dnsQuery(0, l4), allow);
    CHECK(w.verdict == "accept");
    CHECK(w.ct_mark == inspected);
    w = walker::walk(layout, dnsQuery(w.ct_mark, l4));
    CHECK(w.verdict == "queue 101");
    CHECK(w.meta_mark == (kHintDnsQuery | kHintFlowAllowed));
    // Its answers: the flow is allowed under this generation, so muzzled only reads them.
    w = walker::walk(layout, dnsAnswer(inspected, l4));
    CHECK(w.verdict == "queue 101");
    CHECK(w.meta_mark == (kHintDnsAnswer | kHintReplyDirection | kHintFlowAllowed));
    // An answer on a flow refused, undecided, or allowed under another generation: judged.
    const uint32_t old_generation = verdictMark(kGeneration + 1, VerdictCode::kAllowInspected);
    for (const uint32_t mark : {uint32_t{0}, verdictMark(kGeneration, VerdictCode::kReject),
                                verdictMark(kGeneration, VerdictCode::kDrop), old_generation}) {
      CAPTURE(mark);
      w = walker::walk(layout, dnsAnswer(mark, l4));
      CHECK(w.verdict == "queue 101");
      CHECK(w.meta_mark == (kHintDnsAnswer | kHintReplyDirection));
    }
  }
  // The verdict may come on an ICMP error about the flow: the connection's ports count.
  Packet icmp = upload(0);
  icmp.l4 = IPPROTO_ICMP;
  icmp.ct_original_ports = {{40000, 53}};
  w = fresh(icmp, allow);
  CHECK(w.verdict == "accept");
  CHECK(w.ct_mark == inspected);
  // The rest of an inspected flow is allowed as before: an ICMP error about it.
  icmp.reply = true;
  w = walker::walk(layout, [&] {
    Packet p = icmp;
    p.ct_mark = inspected;
    return p;
  }());
  CHECK(w.verdict == "accept");
  CHECK(w.chains == std::vector<std::string>{"forward", "inspected", "dns-dhcp"});
  // A DHCP server elsewhere: its reply opens the flow (judged, allowed); the device's next
  // request on that connection must still reach muzzled.
  Packet offer;
  offer.iif = "wan";
  offer.oif = "br-0";
  offer.l4 = IPPROTO_UDP;
  offer.sport = 67;
  offer.dport = 68;
  w = fresh(offer, allow);
  CHECK(w.ct_mark == inspected);
  Packet request = dhcpRequest(inspected);
  request.oif = "wan";
  request.reply = true;
  w = walker::walk(layout, request);
  CHECK(w.verdict == "queue 101");
  CHECK(w.meta_mark == kHintDhcpRequest);
  // A flow opened from port 53: muzzled answers its packets NF_ACCEPT or NF_DROP, but an ICMP
  // error about it is judged like any packet.
  icmp.ct_original_ports = {{53, 40000}};
  icmp.reply = false;
  w = fresh(icmp, allow);
  CHECK(w.ct_mark == inspected);
  // Refusals are saved whole.
  for (const VerdictCode code : {VerdictCode::kReject, VerdictCode::kDrop}) {
    w = fresh(dnsQuery(0), mark(code));
    CHECK(w.verdict == (code == VerdictCode::kReject ? "reject" : "drop"));
    CHECK(w.ct_mark == mark(code));
  }
}

TEST_CASE(
    "accounting's UDP rule: a fresh UDP verdict sets the connection's events, nothing else meets "
    "it") {
  constexpr uint32_t kAllEvents = (1u << (IPCT_SYNPROXY + 1)) - 1;
  const uint32_t allow = mark(VerdictCode::kAllow, kClass);
  for (const RulesetSpec::UdpEnds ends :
       {RulesetSpec::UdpEnds::kUntouched, RulesetSpec::UdpEnds::kEvents,
        RulesetSpec::UdpEnds::kDumps}) {
    CAPTURE(static_cast<int>(ends));
    RulesetSpec s = spec(1);
    s.udp_ends = ends;
    const RulesetLayout layout = rulesetLayout(s);
    const std::optional<uint32_t> want = ends == RulesetSpec::UdpEnds::kUntouched ? std::nullopt
                                         : ends == RulesetSpec::UdpEnds::kEvents
                                             ? std::optional(kAllEvents)
                                             : std::optional(kAllEvents & ~(1u << IPCT_DESTROY));
    // The established path is the map's, as without the rule.
    Packet udp = upload(allow);
    udp.l4 = IPPROTO_UDP;
    Walk w = walker::walk(layout, udp);
    CHECK(w.verdict == "accept");
    CHECK(w.rules == 1);
    CHECK(w.kernel_exprs == 3);
    CHECK_FALSE(w.ct_events.has_value());
    // The fresh verdict, on the repeated walk: UDP gets the mask, and the mark as before.
    udp.ct_mark = 0;
    udp.meta_mark = allow;
    w = walker::walk(layout, udp);
    CHECK(w.verdict == "accept");
    CHECK(w.ct_mark == allow);
    CHECK(w.ct_events == want);
    // An ICMP error that carries a UDP flow's verdict is the flow's: its connection is UDP.
    Packet icmp = udp;
    icmp.l4 = IPPROTO_ICMP;
    icmp.ct_l4 = IPPROTO_UDP;
    icmp.ct_original_ports = {{40000, 443}};
    CHECK(walker::walk(layout, icmp).ct_events == want);
    // TCP keeps its events (a short connection's whole count is in its destroy event), and so
    // do DNS flows (saved as inspected, before the rule).
    Packet tcp = upload(0);
    tcp.meta_mark = allow;
    w = walker::walk(layout, tcp);
    CHECK(w.ct_mark == allow);
    CHECK_FALSE(w.ct_events.has_value());
    Packet dns = dnsQuery(0);
    dns.meta_mark = allow;
    w = walker::walk(layout, dns);
    CHECK(w.ct_mark == mark(VerdictCode::kAllowInspected, kClass));
    CHECK_FALSE(w.ct_events.has_value());
  }
}

// Port 67 is no pass: a DHCP request is read where the box receives it, and a packet to port 67
// anywhere else is a flow like any other. (Before: every packet from a segment to port 67, to any
// address, was queued, read and accepted whatever the verdict, and each copy of a broadcast the
// bridge floods to its ports was read again.)
TEST_CASE("DHCP requests: read once at the box, flooded copies unread, port 67 elsewhere judged") {
  const RulesetLayout layout = rulesetLayout(spec(2));
  const uint32_t stale = mark(VerdictCode::kAllow) - (1 << 8);
  for (const uint32_t ct_mark :
       {uint32_t{0}, stale, mark(VerdictCode::kAllow), mark(VerdictCode::kAllowInspected),
        mark(VerdictCode::kReject), mark(VerdictCode::kDrop)}) {
    CAPTURE(ct_mark);
    // To the box: read and accepted by muzzled, ahead of any verdict (the requests of devices
    // without an address share one connection), in `input`'s first rule and `dhcp-request`
    // (the flood guard's bucket, the segment guard's, then the queue).
    Walk w = walker::walk(layout, dhcpRequest(ct_mark), "input");
    CHECK(w.verdict == "queue 101");
    CHECK(w.meta_mark == kHintDhcpRequest);
    CHECK(w.rules == 4);  // and the segment's bucket
    // A copy the bridge floods to another port (or a request to a server on a segment):
    // accepted in the kernel, unread, whatever the flow's verdict.
    Packet flooded = dhcpRequest(ct_mark);
    flooded.oif = "br-0";
    w = walker::walk(layout, flooded);
    CHECK(w.verdict == "accept");
    CHECK(w.counters == 0);
    Packet other_segment = flooded;
    other_segment.oif = "br-1";
    CHECK(walker::walk(layout, other_segment).verdict == "accept");
    // To port 67 on the internet: the flow's verdict, or the flow queue when undecided.
    Packet out = dhcpRequest(ct_mark);
    out.oif = "wan";
    w = walker::walk(layout, out);
    if (ct_mark == mark(VerdictCode::kReject)) {
      CHECK(w.verdict == "reject");
    } else if (ct_mark == mark(VerdictCode::kDrop)) {
      CHECK(w.verdict == "drop");
    } else if (ct_mark == mark(VerdictCode::kAllow)) {
      CHECK(w.verdict == "accept");
    } else if (ct_mark == mark(VerdictCode::kAllowInspected)) {
      // An allowed connection with port 67 (a server elsewhere): its requests are read.
      CHECK(w.verdict == "queue 101");
      CHECK(w.meta_mark == kHintDhcpRequest);
    } else {
      CHECK(w.verdict == "queue 100");
      CHECK(w.meta_mark == kHintNewConnection);  // the walker's packets are first ones
    }
    // From the internet to a device's port 67: no request the box reads or lets by; only a
    // flow the policy allowed passes.
    Packet in = dhcpRequest(ct_mark);
    in.iif = "wan";
    in.oif = "br-0";
    w = walker::walk(layout, in);
    CHECK(w.verdict != "queue 101");
    if (ct_mark != mark(VerdictCode::kAllow) && ct_mark != mark(VerdictCode::kAllowInspected)) {
      CHECK(w.verdict != "accept");
    }
  }
  // A broadcast the bridge passes up while promiscuous has no conntrack entry: still read.
  Packet detached = dhcpRequest(0);
  detached.invalid = true;
  Walk w = walker::walk(layout, detached, "input");
  CHECK(w.verdict == "queue 101");
  CHECK(w.meta_mark == kHintDhcpRequest);
  // From no segment: not ours to read.
  Packet foreign = dhcpRequest(0);
  foreign.iif = "wan";
  CHECK(walker::walk(layout, foreign, "input").verdict == "accept (policy)");
}

TEST_CASE("what muzzled read before the map it still reads: undecided and refused flows") {
  {
    const RulesetLayout layout = rulesetLayout(spec(2));
    const uint32_t stale = mark(VerdictCode::kAllow) - (1 << 8);  // the previous generation's
    for (const uint32_t ct_mark :
         {uint32_t{0}, stale, mark(VerdictCode::kReject), mark(VerdictCode::kDrop)}) {
      CAPTURE(ct_mark);
      Walk w = walker::walk(layout, dnsAnswer(ct_mark));
      CHECK(w.verdict == "queue 101");
      CHECK(w.meta_mark == (kHintDnsAnswer | kHintReplyDirection));
      w = walker::walk(layout, dhcpRequest(ct_mark), "input");
      CHECK(w.verdict == "queue 101");
      CHECK(w.meta_mark == kHintDhcpRequest);
      // A query: refused in the kernel when its flow is refused, else judged.
      w = walker::walk(layout, dnsQuery(ct_mark));
      if (ct_mark == mark(VerdictCode::kReject)) {
        CHECK(w.verdict == "reject");
      } else if (ct_mark == mark(VerdictCode::kDrop)) {
        CHECK(w.verdict == "drop");
      } else {
        CHECK(w.verdict == "queue 101");
        CHECK(w.meta_mark == (kHintDnsQuery | kHintNewConnection));
      }
      // Anything else undecided goes to the flow queue.
      if (ct_mark == 0 || ct_mark == stale) {
        w = walker::walk(layout, upload(ct_mark));
        CHECK(w.verdict == "queue 100");
      }
    }
    // A fresh verdict for a packet of an undecided query is acted on, never queued again.
    Packet p = dnsQuery(0);
    p.meta_mark = mark(VerdictCode::kAllow, kClass);
    CHECK(walker::walk(layout, p).verdict == "accept");
  }
}

TEST_CASE("neighbour discovery and MLD pass, other invalid packets are dropped") {
  const RulesetLayout layout = rulesetLayout(spec(1));
  Packet p = upload(0, true);
  p.l4 = IPPROTO_ICMPV6;
  p.invalid = true;  // conntrack tracks none of these
  for (const uint8_t type : {130, 133, 135, 137, 143}) {
    p.icmpv6_type = type;
    CHECK(walker::walk(layout, p).verdict == "accept");
  }
  p.icmpv6_type = 129;  // an echo reply conntrack knows nothing of
  CHECK(walker::walk(layout, p).verdict == "drop");
  Packet tcp = upload(mark(VerdictCode::kAllow));
  tcp.invalid = true;  // out of window: conntrack detaches the entry, so no mark is seen
  CHECK(walker::walk(layout, tcp).verdict == "drop");
}

}  // namespace
}  // namespace muzzle

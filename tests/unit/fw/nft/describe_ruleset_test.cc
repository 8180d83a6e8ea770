// describeRuleset(): the nft text operators read must show what the writer installs, in order.
// The order is the contract that matters here: the saved verdict is looked up first, and sends
// the flows whose DNS answers muzzled reads (and refused flows) where the answers are queued.
#include <doctest/doctest.h>

#include <string>

#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

RulesetSpec spec() {
  RulesetSpec s;
  s.generation = 1;
  s.segment_ifnames = {"br-cam"};
  return s;
}

TEST_CASE("DNS answers are queued whatever the flow's verdict, from forward and output") {
  const std::string text = describeRuleset(spec());
  const size_t judge = text.find("chain judge {\n");
  REQUIRE(judge != std::string::npos);
  // The saved verdict first, in the base chains, ahead of their interface lookups; its allowed
  // DNS flows (code 0) go where the answers are queued.
  const std::string saved_map =
      "ct mark & 0xffffff03 vmap { 0x00000100 : goto inspected, 0x00000101 : accept, "
      "0x00000102 : goto deny, 0x00000103 : goto discard }\n";
  // In `input`, behind the DHCP requests muzzled reads whatever their flow's verdict.
  const std::string dhcp_request =
      "udp dport 67 iifname @segments meta mark set 0x00000080 counter xt target NFQUEUE "
      "--queue-num 101\n    ";
  for (const char* base : {"forward", "input"}) {
    CAPTURE(base);
    CHECK(text.find("chain " + std::string(base) + " {\n    type filter hook " + base +
                    " priority 0; policy accept;\n    " +
                    (std::string(base) == "input" ? dhcp_request : std::string()) + saved_map) !=
          std::string::npos);
  }
  CHECK(text.find("ct mark & 0xffffff03 vmap", judge) == std::string::npos);
  // The port ahead of the interface lookup, in every rule that tests both (ruleset_layout.cc).
  // A DHCP request between segments is accepted unread (the box reads its own copy in `input`).
  CHECK(text.find("chain dns-dhcp {\n    udp sport 53 oifname @segments goto dns-answer\n"
                  "    tcp sport 53 oifname @segments goto dns-answer\n"
                  "    udp dport 67 iifname @segments oifname @segments accept\n  }") !=
        std::string::npos);
  for (const char* chain : {"judge", "inspected", "deny", "discard"}) {
    CAPTURE(chain);
    const size_t at = text.find("chain " + std::string(chain) + " {\n");
    REQUIRE(at != std::string::npos);
    CHECK(text.find("    jump dns-dhcp\n", at) < text.find("  }\n", at));
  }
  // A fresh verdict is looked up first in `judge`, ahead of `dns-dhcp`: muzzled answers DNS
  // answers and DHCP requests NF_ACCEPT or NF_DROP, never NF_REPEAT with a verdict mark (marks.h).
  // A mark of 0 (every first packet's) stops at the compare, before the lookup.
  const size_t fresh = text.find(
      "chain judge {\n    meta mark & 0xffffff03 != 0x00000000 meta mark & 0xffffff03 vmap { "
      "0x00000101 : goto save-allowed, 0x00000102 : goto save-rejected, 0x00000103 : goto "
      "save-dropped }\n");
  REQUIRE(fresh == judge);
  CHECK(fresh < text.find("    jump dns-dhcp\n", judge));
  const size_t output = text.find("chain output {");
  REQUIRE(output != std::string::npos);
  CHECK(text.find("tcp sport 53 oifname @segments goto dns-answer", output) != std::string::npos);
  CHECK(text.find("chain dns-answer {\n    meta mark set 0x00000040\n") != std::string::npos);
}

TEST_CASE("the box's own DHCP replies to a segment go to the inspection queue from output only") {
  const std::string text = describeRuleset(spec());
  const size_t output = text.find("chain output {");
  const size_t judge = text.find("chain judge {");
  const size_t reply =
      text.find("udp sport 67 udp dport 68 oifname @segments meta mark set 0x00000002 counter");
  REQUIRE(reply != std::string::npos);
  CHECK(output < reply);
  CHECK(reply < judge);
  CHECK(text.find("udp sport 67", judge) == std::string::npos);  // a device's "reply" is a flow like any other
}

TEST_CASE("the segments are one set of interface names, which the base chains look up") {
  RulesetSpec s = spec();
  s.segment_ifnames = {"br-cam", "br-iot", "vlan.20"};
  const std::string text = describeRuleset(s);
  CHECK(text.find("  set segments {\n    type ifname;\n"
                  "    elements = { \"br-cam\", \"br-iot\", \"vlan.20\" }\n  }\n") !=
        std::string::npos);
  CHECK(text.find("vmap { 0x00000100 : goto inspected, 0x00000101 : accept, 0x00000102 : goto "
                  "deny, 0x00000103 : goto discard }\n    iifname @segments goto judge\n    "
                  "oifname @segments goto judge\n  }\n  chain input {") != std::string::npos);
  CHECK(text.find("vmap { 0x00000100 : goto inspected, 0x00000101 : accept, 0x00000102 : goto "
                  "deny, 0x00000103 : goto discard }\n    iifname @segments goto judge\n  }\n  "
                  "chain output {") != std::string::npos);
  // The names appear in the set and nowhere else.
  CHECK(text.find("br-iot") == text.rfind("br-iot"));
}

TEST_CASE("ask hints the direction and queues: no address is looked up on the way to muzzled") {
  // The DoH resolvers are decide()'s list (fw/policy/decide.cc), not a set every first packet's
  // destination is looked up in.
  const std::string text = describeRuleset(spec());
  CHECK(text.find("  chain ask {\n    meta mark set 0x00000000\n"
                  "    ct direction reply meta mark set 0x00000010\n"
                  "    counter xt target NFQUEUE --queue-num 100\n  }") != std::string::npos);
  CHECK(text.find("daddr") == std::string::npos);
  CHECK(text.find("flags interval") == std::string::npos);
  CHECK(text.find("doh") == std::string::npos);
}

TEST_CASE("flows fan out over the flow queues; DNS answers and DHCP requests go to the inspection queue") {
  RulesetSpec s = spec();
  s.queue_first = 100;
  s.queue_count = 4;
  const std::string text = describeRuleset(s);
  // The flow queues copy only headers, so the packets read whole must never land there.
  CHECK(text.find(
            "counter xt target NFQUEUE --queue-num 100-103 fanout\n  }\n  chain save-allowed") !=
        std::string::npos);
  CHECK(text.find("udp dport 67 iifname @segments meta mark set 0x00000080 counter xt target "
                  "NFQUEUE --queue-num 104\n") !=
        std::string::npos);
  CHECK(text.find("chain dns-answer {") < text.find("counter xt target NFQUEUE --queue-num 104\n  }\n  chain deny"));
  s.queue_count = 1;
  s.fail_open = true;
  const std::string one = describeRuleset(s);
  CHECK(one.find("counter xt target NFQUEUE --queue-num 100 bypass\n  }\n  chain save-allowed") !=
        std::string::npos);
  CHECK(one.find("counter xt target NFQUEUE --queue-num 101 bypass\n  }\n  chain deny") != std::string::npos);
}

TEST_CASE(
    "DNS queries from a segment go to dns-query after the fresh verdicts' map, or from inspected") {
  const std::string text = describeRuleset(spec());
  const size_t judge = text.find("chain judge {");
  const size_t fresh = text.find("meta mark & 0xffffff03 vmap {", judge);
  const size_t queries =
      text.find("udp dport 53 ct direction original iifname @segments jump dns-query", judge);
  REQUIRE(fresh != std::string::npos);
  REQUIRE(queries != std::string::npos);
  // NF_REPEAT on an undecided query must meet its verdict mark before dns-query queues it again.
  CHECK(fresh < queries);
  // An allowed DNS connection is saved as one muzzled reads: code 0, its class kept; ahead of
  // the rule that saves any other allowed connection. Behind the fast lanes, which only a TCP or
  // UDP packet of an untranslated connection with neither port takes.
  const size_t saving = text.find(
      "chain save-allowed {\n"
      "    tcp sport != 53 tcp dport != 53 tcp sport != 67 tcp dport != 67 ct status & (snat | "
      "dnat) == 0 ct mark set meta mark counter accept\n"
      "    udp sport != 53 udp dport != 53 udp sport != 67 udp dport != 67 ct status & (snat | "
      "dnat) == 0 ct mark set meta mark counter accept\n"
      "    ct original proto-dst 53 ct mark set meta mark & 0xfffffffc counter accept\n");
  REQUIRE(saving != std::string::npos);
  CHECK(text.find("    ct mark set meta mark counter accept\n", saving) <
        text.find("  }\n", saving));
  CHECK(text.find("chain save-rejected {\n    ct mark set meta mark counter goto deny\n  }\n") !=
        std::string::npos);
  CHECK(text.find("chain save-dropped {\n    ct mark set meta mark counter drop\n  }\n") !=
        std::string::npos);
  CHECK(
      text.find("chain inspected {\n    jump dns-dhcp\n    udp dport 53 ct direction original "
                "iifname @segments jump dns-query\n    tcp dport 53 ct direction original iifname "
                "@segments jump dns-query\n    udp dport 67 iifname @segments meta mark set "
                "0x00000080 counter xt target NFQUEUE --queue-num 101\n    accept\n  }") !=
      std::string::npos);
  CHECK(text.find("chain dns-query {\n    ct mark & 0xffffff03 == 0x00000100 meta mark set 0x0000000c counter xt "
                  "target NFQUEUE --queue-num 101\n"
                  "    meta mark set 0x00000008 counter xt target NFQUEUE --queue-num 101\n  }") != std::string::npos);
}

TEST_CASE(
    "an allowed UDP connection's events: untouched without accounting, every one, or all but "
    "destroy") {
  RulesetSpec s = spec();
  const std::string generic = "    ct mark set meta mark counter accept";
  const std::string untouched = describeRuleset(s);
  CHECK(untouched.find("ct event set") == std::string::npos);

  s.udp_ends = RulesetSpec::UdpEnds::kDumps;
  const std::string dumps = describeRuleset(s);
  const size_t udp = dumps.find(
      "    ct protocol udp ct mark set meta mark ct "
      "event set "
      "new,related,reply,assured,protoinfo,helper,mark,seqadj,secmark,label,synproxy counter "
      "accept");
  REQUIRE(udp != std::string::npos);
  // Before the rule every other allowed connection meets, after the DNS and DHCP ones (which keep
  // their events: muzzled reads their packets anyway).
  CHECK(udp < dumps.find(generic));
  CHECK(dumps.find("ct original proto-dst 53") < udp);

  s.udp_ends = RulesetSpec::UdpEnds::kEvents;
  const std::string events = describeRuleset(s);
  CHECK(events.find("ct protocol udp ct mark set meta mark ct event set "
                    "new,related,destroy,reply,assured,protoinfo,helper,mark,seqadj,secmark,label,"
                    "synproxy counter accept") != std::string::npos);
}

TEST_CASE("the segment guard: right behind the flood guard at its three places, or alone") {
  RulesetSpec s = spec();
  s.flood_rate = 500;
  s.flood_burst = 1000;
  s.segment_rate = 2000;
  s.segment_burst = 4000;
  const std::string text = describeRuleset(s);
  // Its sets: keyed by interface name, dynamic, the bucket kept until it would be full again
  // (4000 / 2000 s, and a second more), the counts two minutes.
  CHECK(text.find("  set segment-guard {\n    type ifname; size 4096; flags dynamic,timeout; "
                  "timeout 3000ms;\n  }\n") != std::string::npos);
  CHECK(text.find("  set segment-dropped {\n    type ifname; size 4096; flags dynamic,timeout; "
                  "timeout 120000ms;\n  }\n") != std::string::npos);
  const std::string device =
      "update @flood-guard { ether saddr limit rate over 500/second burst 1000 packets } "
      "update @flood-dropped { ether saddr counter } counter drop\n";
  const std::string segment =
      "update @segment-guard { iifname limit rate over 2000/second burst 4000 packets } "
      "update @segment-dropped { iifname counter } counter drop\n";
  // In `judge` (a connection's first packet), `dhcp-request` (every request to the box) and
  // `inspected` (what a device sends on its allowed DNS and DHCP flows): the device's bucket, then
  // its segment's, in consecutive rules.
  for (const auto& place :
       {std::pair<std::string, std::string>{"judge", "ct state new "},
        {"dhcp-request", ""},
        {"inspected", "ct direction original iifname @segments "}}) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& chain = place.first;
    const std::string& matches = place.second;
    CAPTURE(chain);
    const size_t at = text.find("chain " + chain + " {\n");
    REQUIRE(at != std::string::npos);
    const size_t guard = text.find("    " + matches + device + "    " + matches + segment, at);
    CHECK(guard < text.find("  }\n", at));
  }
  // Alone, the per-device guard off: `dhcp-request` is still made, and holds its rule alone.
  s.flood_rate = 0;
  const std::string alone = describeRuleset(s);
  CHECK(alone.find("@flood-") == std::string::npos);
  CHECK(alone.find("udp dport 67 iifname @segments goto dhcp-request\n") != std::string::npos);
  CHECK(alone.find("chain dhcp-request {\n    " + segment) != std::string::npos);
  CHECK(alone.find("chain judge {") < alone.find("ct state new " + segment));
  // Both off: no chain, no set, no rule.
  s.segment_rate = 0;
  const std::string neither = describeRuleset(s);
  CHECK(neither.find("segment-") == std::string::npos);
  CHECK(neither.find("dhcp-request") == std::string::npos);
}

}  // namespace
}  // namespace muzzle

// importMud on files of our own: what each part of a MUD entry maps to, what is reported, and
// the errors (with the JSON path) for malformed files.
#include <doctest/doctest.h>

#include "fw/mud/mud_json.h"
#include "tests/unit/fw/mud/mud_test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using test::reportLines;
using test::ruleLines;

// A file with one from-device ACL holding `from_aces` and one to-device ACL with `to_aces`.
std::string mudWith(const std::string& from_aces, const std::string& to_aces = "",
                    const std::string& type = "ipv4-acl-type") {
  return R"({"ietf-mud:mud": {"mud-version": 1, "mud-url": "https://maker.example.com/cam",
    "cache-validity": 24, "is-supported": false, "systeminfo": "A camera",
    "from-device-policy": {"access-lists": {"access-list": [{"name": "fr"}]}},
    "to-device-policy": {"access-lists": {"access-list": [{"name": "to"}]}}},
  "ietf-access-control-list:acls": {"acl": [
    {"name": "fr", "type": ")" + type + R"(", "aces": {"ace": [)" + from_aces + R"(]}},
    {"name": "to", "type": ")" + type + R"(", "aces": {"ace": [)" + to_aces + R"(]}}]}})";
}

std::string ace(const std::string& name, const std::string& matches,
                const std::string& action = "accept") {
  return R"({"name": ")" + name + R"(", "matches": )" + matches +
         R"(, "actions": {"forwarding": ")" + action + R"("}})";
}

MudImport ok(const std::string& text) {
  auto r = importMud(text, "cam");
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

std::string error(const std::string& text) {
  auto r = importMud(text, "cam");
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("controller URNs: DNS and NTP are the gateway; other controllers are groups") {
  MudImport m = ok(mudWith(
      ace("dns", R"({"ietf-mud:mud": {"controller": "urn:ietf:params:mud:dns"},
                     "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 53}}})") +
      "," +
      ace("ntp", R"({"ietf-mud:mud": {"controller": "urn:ietf:params:mud:ntp"},
                     "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 123}}})") +
      "," + ace("hub", R"({"ietf-mud:mud": {"controller": "https://hub.example.com/x"}})") + "," +
      ace("mine", R"({"ietf-mud:mud": {"my-controller": [null]}})") + "," +
      ace("same", R"({"ietf-mud:mud": {"same-manufacturer": [null]}})")));
  CHECK(ruleLines(m.profile.egress()) ==
        "allow gateway udp 53\n"
        "allow gateway udp 123\n"
        "allow mud-controller-hub-example-com-x\n"
        "allow mud-my-controller-cam\n"
        "allow mud-mfg-maker-example-com\n");
  CHECK(m.site_groups == std::vector<std::string>{"mud-controller-hub-example-com-x",
                                                  "mud-my-controller-cam",
                                                  "mud-mfg-maker-example-com"});
  CHECK(m.metadata.cache_validity_hours == 24);
  CHECK(m.metadata.is_supported == false);
  CHECK(defaultMudProfileName(m.metadata) == "cam");
}

TEST_CASE("port operators and ranges become port lists; networks become CIDR targets") {
  MudImport m = ok(mudWith(
      ace("lte", R"({"ipv4": {"protocol": 6, "destination-ipv4-network": "203.0.113.0/24"},
                     "tcp": {"destination-port": {"operator": "lte", "port": 1023}}})") + "," +
      ace("gte", R"({"tcp": {"destination-port": {"operator": "gte", "port": 8000}}})") + "," +
      ace("neq", R"({"udp": {"destination-port": {"operator": "neq", "port": 53}}})") + "," +
      ace("range", R"({"udp": {"destination-port": {"lower-port": 5000, "upper-port": 5010}}})") +
      "," + ace("icmp", R"({"ipv4": {"protocol": 1}})") + "," +
      ace("deny", R"({"ipv4": {"destination-ipv4-network": "198.51.100.7/32"}})", "drop")));
  CHECK(ruleLines(m.profile.egress()) ==
        "allow 203.0.113.0/24 tcp 1-1023\n"
        "allow gateway,local,internet tcp 8000-65535\n"
        "allow gateway,local,internet udp 1-52,54-65535\n"
        "allow gateway,local,internet udp 5000-5010\n"
        "allow gateway,local,internet icmp\n"
        "deny 198.51.100.7/32\n");
}

TEST_CASE("a device-side port alone makes the entry a service the far end opens (inbound)") {
  MudImport m = ok(mudWith(
      ace("rtsp-reply", R"({"ietf-mud:mud": {"local-networks": [null]},
                            "tcp": {"source-port": {"operator": "eq", "port": 554}}})"),
      ace("rtsp", R"({"ietf-mud:mud": {"local-networks": [null]},
                      "tcp": {"destination-port": {"operator": "eq", "port": 554}}})")));
  CHECK(m.profile.egress_size() == 0);
  CHECK(ruleLines(m.profile.inbound()) == "allow local tcp 554\n");
  CHECK(reportLines(m).find("implied ietf-access-control-list:acls.acl[0].aces.ace[0]: replies "
                            "of connections local opens to the device (inbound[0])") !=
        std::string::npos);
}

TEST_CASE("what Muzzle cannot say is reported with its path, never dropped silently") {
  MudImport m = ok(mudWith(
      ace("gre", R"({"ipv4": {"protocol": 47}})") + "," +
      ace("flags", R"({"ipv4": {"protocol": 6, "dscp": 10},
                       "tcp": {"flags": "syn", "destination-port": {"operator": "eq", "port": 443},
                               "source-port": {"operator": "eq", "port": 5000}}})") + "," +
      ace("ping", R"({"icmp": {"type": 8}})") + "," +
      ace("mac", R"({"eth": {"destination-mac-address": "00:11:22:33:44:55"}})") + "," +
      ace("two", R"({"ipv4": {"ietf-acldns:dst-dnsname": "a.example.com"},
                     "ietf-mud:mud": {"local-networks": [null]}})") + "," +
      ace("odd", R"({"ietf-mud:mud": {"new-abstraction": "x"}})"),
      ace("orphan-reply", R"({"ipv4": {"ietf-acldns:src-dnsname": "b.example.com"},
                              "tcp": {"ietf-mud:direction-initiated": "from-device"}})")));
  CHECK(ruleLines(m.profile.egress()) ==
        "allow gateway,local,internet tcp 443\n"
        "allow gateway,local,internet icmp\n"
        "allow gateway,local,internet\n");
  const std::string p = "ietf-access-control-list:acls.acl[0].aces.ace";
  CHECK(reportLines(m) ==
        "not-imported " + p + "[0].matches.ipv4.protocol: protocol 47: Muzzle rules name tcp, "
        "udp, icmp or any; the entry is not imported\n"
        "widened " + p + "[1].matches.ipv4.dscp: \"dscp\" is not a condition Muzzle rules state: "
        "the rule matches without it\n"
        "widened " + p + "[1].matches.tcp.flags: \"flags\" is not a condition Muzzle rules "
        "state: the rule matches without it\n"
        "widened " + p + "[1].matches: the device's own (source) port is not a condition Muzzle "
        "rules state: the rule matches without it\n"
        "widened " + p + "[2].matches.icmp.type: ICMP \"type\" is not a condition Muzzle rules "
        "state: the rule matches without it\n"
        "widened " + p + "[3].matches.eth: match \"eth\" is not a condition Muzzle rules state: "
        "the rule matches without it\n"
        "not-imported " + p + "[4].matches: the entry names 2 far ends that must all match at "
        "once; a Muzzle rule names one: not imported\n"
        "not-imported " + p + "[5].matches.ietf-mud:mud.new-abstraction: unknown MUD "
        "abstraction \"new-abstraction\": the entry is not imported\n"
        "not-imported ietf-access-control-list:acls.acl[1].aces.ace[0]: replies of connections "
        "the device opens to b.example.com, but no entry of the file allows opening those "
        "connections: nothing imported\n"
        "widened ietf-access-control-list:acls: the file's ACLs are IPv4 only; Muzzle rules "
        "naming DNS names, groups or built-ins also match IPv6\n");
}

TEST_CASE("malformed files: errors name the JSON path (and the line, for JSON syntax)") {
  CHECK(error("this is not json") == "line 1: not valid JSON: syntax error while parsing value "
                                     "- invalid literal");
  const std::string trailing = error("{\"ietf-mud:mud\": {\n  \"mud-url\": \"x\",\n  }\n}");
  CHECK(trailing == "line 3: ietf-mud:mud: not valid JSON: syntax error while parsing object key "
                   "- unexpected '}'; expected string literal");
  CHECK(error("[1, 2]") == "(top level): a MUD file is a JSON object");
  CHECK(error("{\"a\": 1}") == "(top level): no ietf-mud:mud container");
  std::string deep = "{\"ietf-mud:mud\": {\"x\": ";
  for (int i = 0; i < 40; ++i) deep += "[";
  CHECK(error(deep).find("nested deeper than 32 levels") != std::string::npos);
  CHECK(error(deep).rfind("ietf-mud:mud.x[0][0]", 0) == 0);
  CHECK(error(std::string(kMaxMudBytes + 1, ' ')) ==
        "the MUD file has 262145 bytes; at most 262144 are read");
  CHECK(error(R"({"ietf-mud:mud": {"mud-url": "u", "mud-url": "v"}})") ==
        "ietf-mud:mud.mud-url: key \"mud-url\" given twice in one object");
  CHECK(error(R"({"ietf-mud:mud": {"mud-url": 7}})") == "ietf-mud:mud.mud-url: expected a string");
  CHECK(error(R"({"ietf-mud:mud": {"mud-url": "u", "cache-validity": 500}})") ==
        "ietf-mud:mud.cache-validity: 500 is not a cache validity (1-168 hours)");
  CHECK(error(mudWith("", "", "ipx-acl-type")) ==
        "ietf-access-control-list:acls.acl[0].type: \"ipx-acl-type\" is not an ACL type "
        "(ipv4-acl-type, ipv6-acl-type, mixed-eth-ipv4-ipv6-acl-type, eth-acl-type)");
  const std::string p = "ietf-access-control-list:acls.acl[0].aces.ace[0]";
  CHECK(error(mudWith(ace("x", R"({"tcp": {"destination-port": {"operator": "eq", "port": 70000}}})"))) ==
        p + ".matches.tcp.destination-port.port: 70000 is not a port");
  CHECK(error(mudWith(ace("x", R"({"tcp": {"destination-port": {"operator": "eq", "port": "80"}}})"))) ==
        p + ".matches.tcp.destination-port.port: expected a number");
  CHECK(error(mudWith(ace("x", R"({"udp": {"destination-port": {"lower-port": 9, "upper-port": 3}}})"))) ==
        p + ".matches.udp.destination-port: lower-port is above upper-port");
  CHECK(error(mudWith(ace("x", R"({"tcp": {"destination-port": {"operator": "lt", "port": 9}}})"))) ==
        p + ".matches.tcp.destination-port.operator: \"lt\" is not a port operator (eq, lte, gte, neq)");
  CHECK(error(mudWith(ace("x", R"({"ipv4": {"protocol": 300}})"))) ==
        p + ".matches.ipv4.protocol: 300 is not a protocol number (0-255)");
  CHECK(error(mudWith(ace("x", R"({"ipv4": {"protocol": 17}, "tcp": {}})"))) ==
        p + ".matches.tcp: protocol 17 is not tcp");
  CHECK(error(mudWith(ace("x", R"({"ipv4": {"destination-ipv4-network": "fd00::/8"}})"))) ==
        p + ".matches.ipv4.destination-ipv4-network: \"fd00::/8\" is not an IPv4 network "
            "(address/prefix)");
  CHECK(error(mudWith(ace("x", R"({"ipv4": {"ietf-acldns:dst-dnsname": "not a name"}})"))) ==
        p + ".matches.ipv4.ietf-acldns:dst-dnsname: \"not a name\" is not a DNS name");
  CHECK(error(mudWith(ace("x", R"({"tcp": {"ietf-mud:direction-initiated": "sideways"}})"))) ==
        p + ".matches.tcp.ietf-mud:direction-initiated: \"sideways\" is not from-device or to-device");
  CHECK(error(mudWith(ace("x", "{}", "teleport"))) ==
        p + ".actions.forwarding: \"teleport\" is not a forwarding action (accept, drop, reject)");
  CHECK(error(mudWith(R"({"name": "x"})")) == p + ": no actions");
  CHECK(error(R"({"ietf-mud:mud": {"mud-url": "u", "from-device-policy": {"access-lists":
              {"access-list": [{"name": "nope"}]}}}})") ==
        "ietf-mud:mud.from-device-policy.access-lists.access-list[0]: no ACL named \"nope\" in "
        "the file");
}

TEST_CASE("bounds: ACL and entry counts") {
  std::string many;
  for (size_t i = 0; i <= kMaxMudAces; ++i) many += (i ? "," : "") + ace("a", "{}");
  CHECK(error(mudWith(many)) == "ietf-access-control-list:acls.acl[0].aces.ace: more than 500 "
                                "access-control entries in the file");
  // An ACL named by both policies counts twice.
  std::string half;
  for (size_t i = 0; i < 300; ++i) half += (i ? "," : "") + ace("a", "{}");
  std::string twice = mudWith(half);
  twice.replace(twice.find("[{\"name\": \"to\"}]"), 16, "[{\"name\": \"fr\"}]");
  CHECK(error(twice) == "ietf-mud:mud.to-device-policy.access-lists.access-list[0]: the policies "
                        "name more than 500 access-control entries (an ACL named twice counts "
                        "twice)");
  std::string acls;
  for (size_t i = 0; i <= kMaxMudAcls; ++i)
    acls += std::string(i ? "," : "") + "{\"name\": \"a" + std::to_string(i) + "\"}";
  CHECK(error(R"({"ietf-mud:mud": {"mud-url": "u"}, "ietf-access-control-list:acls": {"acl": [)" +
              acls + "]}}") ==
        "ietf-access-control-list:acls.acl: 65 ACLs; at most 64 are imported");
}

}  // namespace
}  // namespace muzzle

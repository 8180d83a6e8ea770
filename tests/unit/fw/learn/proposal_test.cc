// The proposal: names over addresses, siblings collapsed only below a registrable domain (the
// Public Suffix List), ports grouped, every finding kind kept out of the rules, the site's rules
// kept first, and the proposal as policy text.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fw/learn/proposal.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const IpAddress kBox = *IpAddress::parse("198.18.1.1");
const IpAddress kCloud = *IpAddress::parse("203.0.113.10");

LearnedFlow flow(std::string name, const char* address, uint8_t proto, uint16_t port,
                 uint64_t count = 1) {
  LearnedFlow f;
  f.key.name = std::move(name);
  f.last_address = *IpAddress::parse(address);
  if (f.key.name.empty()) f.key.address = f.last_address;
  f.key.protocol = proto;
  f.key.port = port;
  f.count = count;
  return f;
}

struct Box {
  AddressSet box;
  ProposalContext ctx;
  Box() {
    box.add(Cidr::host(kBox));
    box.finalize();
    ctx.box_addresses = &box;
  }
};

std::vector<std::string> allows(const v1::Rule& r) { return {r.allow().begin(), r.allow().end()}; }
std::vector<std::string> ports(const v1::Rule& r) { return {r.ports().begin(), r.ports().end()}; }

TEST_CASE("registrable domains and sibling patterns follow the Public Suffix List") {
  CHECK(registrableDomain("cam.example.com") == "example.com");
  CHECK(registrableDomain("a.b.example.co.uk") == "example.co.uk");
  CHECK(registrableDomain("co.uk") == "");
  CHECK(registrableDomain("com") == "");
  CHECK(registrableDomain("Not A Name") == "");
  using V = std::vector<std::string>;
  CHECK(siblingPattern(V{"a.cam.example.com", "b.cam.example.com"}) == "*.cam.example.com");
  CHECK(siblingPattern(V{"a.example.com", "b.example.com"}) == "*.example.com");
  // Never a public suffix: these names belong to different owners.
  CHECK(siblingPattern(V{"example.co.uk", "other.co.uk"}) == "");
  CHECK(siblingPattern(V{"example.com", "other.com"}) == "");
  CHECK(siblingPattern(V{"bucket1.s3.amazonaws.com", "bucket2.s3.amazonaws.com"}) == "");
  CHECK(siblingPattern(V{"a.example.com"}) == "");                   // one name: no pattern
  CHECK(siblingPattern(V{"a.x.example.com", "b.y.example.com"}) == "");  // not siblings
}

TEST_CASE("names become rules, siblings collapse, ports are grouped per destination") {
  Box box;
  const std::vector<LearnedFlow> flows = {
      flow("a.cam.example.com", "203.0.113.10", 6, 443, 5),
      flow("b.cam.example.com", "203.0.113.11", 6, 443, 2),
      flow("b.cam.example.com", "203.0.113.11", 6, 8443),
      flow("ntp.example.net", "203.0.113.123", 17, 123),
      flow("", "198.18.1.1", 17, 53, 9),  // the box's resolver
      flow("", "198.18.1.1", 17, 123),
  };
  Proposal p = proposeProfile(flows, nullptr, box.ctx);
  CHECK(p.findings.empty());
  CHECK(p.flows_used == 6);
  REQUIRE(p.profile.egress_size() == 3);
  // Rules are ordered by (proto, ports): tcp 443+8443, udp 53+123, udp 123.
  CHECK(allows(p.profile.egress(0)) == std::vector<std::string>{"*.cam.example.com"});
  CHECK(p.profile.egress(0).proto() == "tcp");
  CHECK(ports(p.profile.egress(0)) == std::vector<std::string>{"443", "8443"});
  CHECK(allows(p.profile.egress(1)) == std::vector<std::string>{"gateway"});
  CHECK(ports(p.profile.egress(1)) == std::vector<std::string>{"53", "123"});
  CHECK(allows(p.profile.egress(2)) == std::vector<std::string>{"ntp.example.net"});
  CHECK(p.profile.egress(2).proto() == "udp");
  CHECK(p.rule_comments.size() == 3);
  CHECK(p.rule_comments[0] == "learned: 8 connections");
}

TEST_CASE("a flow the site's rules already allow is neither added nor reported") {
  Box box;
  LearnedFlow nvr = flow("", "198.18.1.10", 6, 554, 4);  // by address, but the site allows it
  nvr.allowed_by_rule = true;
  const std::vector<LearnedFlow> flows = {nvr, flow("cam.example.com", "203.0.113.10", 6, 443)};
  Proposal p = proposeProfile(flows, nullptr, box.ctx);
  CHECK(p.findings.empty());
  CHECK(p.flows_covered == 1);
  CHECK(p.flows_used == 1);
  REQUIRE(p.profile.egress_size() == 1);
  CHECK(allows(p.profile.egress(0)) == std::vector<std::string>{"cam.example.com"});
}

TEST_CASE("destinations with the same protocol and ports share a rule") {
  Box box;
  const std::vector<LearnedFlow> flows = {
      flow("api.vendor.example", "203.0.113.10", 6, 443),
      flow("fw.other.example", "203.0.113.11", 6, 443),
  };
  Proposal p = proposeProfile(flows, nullptr, box.ctx);
  REQUIRE(p.profile.egress_size() == 1);
  CHECK(allows(p.profile.egress(0)) ==
        std::vector<std::string>{"api.vendor.example", "fw.other.example"});
}

TEST_CASE("findings are listed and never become rules") {
  Box box;
  AddressSet resolvers;
  resolvers.add(*Cidr::parse("198.18.1.53"));
  resolvers.finalize();
  box.ctx.resolvers = &resolvers;
  LearnedFlow lateral = flow("", "198.18.1.20", 6, 22);
  lateral.to_device = true;
  const std::vector<LearnedFlow> flows = {
      flow("", "192.0.2.99", 6, 443),                 // hard-coded IP
      flow("dns.example", "198.51.100.53", 6, 853),   // DoT, even by name
      flow("", "198.51.100.8", 17, 53),               // DNS to another resolver
      flow("", "198.18.1.53", 17, 53),                // the policy's resolver: fine
      flow("", "239.255.255.250", 17, 1900),          // SSDP
      flow("stun.example.com", "203.0.113.5", 17, 3478),
      flow("stun.l.example.com", "203.0.113.6", 17, 19302),
      lateral,
  };
  Proposal p = proposeProfile(flows, nullptr, box.ctx);
  REQUIRE(p.findings.size() == 7);
  CHECK(p.findings[0].kind == FindingKind::kHardCodedIp);
  CHECK(p.findings[0].target == "192.0.2.99");
  CHECK(p.findings[1].kind == FindingKind::kDnsBypass);
  CHECK(p.findings[1].target == "198.51.100.8");
  CHECK(p.findings[2].kind == FindingKind::kDnsBypass);
  CHECK(p.findings[2].port == 853);
  CHECK(p.findings[3].kind == FindingKind::kUpnp);
  CHECK(p.findings[4].kind == FindingKind::kStun);
  CHECK(p.findings[5].kind == FindingKind::kStun);
  CHECK(p.findings[6].kind == FindingKind::kLateral);
  CHECK(std::string(findingKindName(p.findings[6].kind)) == "lateral");
  // The policy's resolver is the only rule; no finding became one.
  REQUIRE(p.profile.egress_size() == 1);
  CHECK(allows(p.profile.egress(0)) == std::vector<std::string>{"198.18.1.53"});
  for (const v1::Rule& r : p.profile.egress()) {
    for (const std::string& a : r.allow()) {
      CHECK(a != "192.0.2.99");
      CHECK(a != "dns.example");
      CHECK(a.find("stun") == std::string::npos);
    }
  }
}

TEST_CASE("the site's rules stay first, and an identical learned rule is not added twice") {
  Box box;
  v1::Profile current;
  current.set_otherwise("drop");
  current.set_preset("camera-nvr-only");
  v1::Rule* deny = current.add_egress();
  deny->add_deny("*.p2p.example");
  v1::Rule* dns = current.add_egress();
  dns->add_allow("gateway");
  dns->set_proto("udp");
  dns->add_ports("53");
  LearnedFlow in = flow("", "198.18.1.10", 6, 554, 3);
  in.key.direction = Direction::kInbound;
  const std::vector<LearnedFlow> flows = {
      flow("", "198.18.1.1", 17, 53),
      flow("cam.example.com", "203.0.113.10", 6, 443),
      in,
  };
  Proposal p = proposeProfile(flows, &current, box.ctx);
  CHECK(p.profile.otherwise() == "drop");
  CHECK(p.profile.preset() == "camera-nvr-only");
  REQUIRE(p.profile.egress_size() == 3);
  CHECK(p.profile.egress(0).deny(0) == "*.p2p.example");
  CHECK(allows(p.profile.egress(2)) == std::vector<std::string>{"cam.example.com"});
  REQUIRE(p.profile.inbound_size() == 1);
  CHECK(allows(p.profile.inbound(0)) == std::vector<std::string>{"198.18.1.10"});
  CHECK(ports(p.profile.inbound(0)) == std::vector<std::string>{"554"});
  // Comments line up: none for the site's two rules.
  REQUIRE(p.rule_comments.size() == 4);
  CHECK(p.rule_comments[0].empty());
  CHECK(p.rule_comments[1].empty());
  CHECK(p.rule_comments[2] == "learned: 1 connection");
}

TEST_CASE("the proposal as policy text replaces the profile and keeps the rest") {
  Box box;
  const std::string policy =
      "version: 1\n"
      "# the site's own comment\n"
      "defaults: {profile: quarantine}\n"
      "profiles:\n"
      "  quarantine:\n"
      "    egress:\n"
      "      - {allow: [gateway], proto: udp, ports: [53]}\n"
      "  lobby-cam:\n"
      "    egress:\n"
      "      - {allow: [gateway], proto: udp, ports: [53]}\n";
  const std::vector<LearnedFlow> flows = {flow("cam.example.com", "203.0.113.10", 6, 443)};
  v1::Profile current;
  v1::Rule* dns = current.add_egress();
  dns->add_allow("gateway");
  dns->set_proto("udp");
  dns->add_ports("53");
  Proposal p = proposeProfile(flows, &current, box.ctx);
  auto text = proposalText(policy, "lobby-cam", p);
  REQUIRE(text.ok());
  CHECK(text->replaced);
  CHECK(text->text.find("# the site's own comment") != std::string::npos);
  CHECK(text->text.find("cam.example.com") != std::string::npos);
  CHECK(text->text.find("learned: 1 connection") != std::string::npos);
  CHECK(text->text.find("  quarantine:\n    egress:\n      - {allow: [gateway], proto: udp, "
                        "ports: [53]}\n") != std::string::npos);
  CHECK_FALSE(proposalText("- not a mapping\n", "lobby-cam", p).ok());
  // A profile built on a preset keeps it.
  current.set_preset("camera-nvr-only");
  auto with_preset = proposalText(policy, "lobby-cam", proposeProfile(flows, &current, box.ctx));
  REQUIRE(with_preset.ok());
  CHECK(with_preset->text.find("  lobby-cam:\n    preset: camera-nvr-only\n    egress:\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace muzzle

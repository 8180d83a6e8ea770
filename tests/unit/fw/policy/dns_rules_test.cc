// Name targets, the `dns` section and DNS-bypass decisions: what decide() does with the names a
// device learned, and what the loader accepts.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "fw/policy/policy_loader.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/lab_site.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kPolicy = R"(
version: 1
addresses: {nvr: [198.18.1.10]}
profiles:
  speaker:
    egress:
      - {allow: ["*.voice.example", time.vendor.example], proto: tcp, ports: [443]}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554]}
      - {deny: ["*.p2p.example"], log: true}
      - {allow: [gateway], proto: udp, ports: [53]}
  quarantine: {}
devices:
  - {name: speaker, mac: "68:54:fd:00:00:31", profile: speaker}
  - {name: cam, mac: "44:47:cc:00:00:11", profile: camera}
dns:
  resolvers: [gateway]
)";

SiteFacts lab() { return testing::cameraSegmentSite(); }

std::shared_ptr<const CompiledPolicy> compiled(std::string_view text = kPolicy) {
  auto p = compilePolicyText(text, "policy.yaml", lab());
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

// kPolicy with a DoH list (203.0.113.53 and 2001:db8:d0::/48) in `dir`, next to the policy.
std::shared_ptr<const CompiledPolicy> compiledWithDohList(const testing::TempDir& dir) {
  std::ofstream(dir.path + "/doh.txt") << "# lab DoH resolvers\n203.0.113.53\n2001:db8:d0::/48\n";
  auto p = compilePolicyText(std::string(kPolicy) + "  doh_list: doh.txt\n",
                             dir.path + "/policy.yaml", lab());
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

Verdict egress(const CompiledPolicy& policy, const char* mac, const char* dst, L4 proto,
               uint16_t port, std::vector<std::string_view> names = {}) {
  PacketInfo p;
  p.src = *IpAddress::parse("198.18.10.31");
  p.dst = *IpAddress::parse(dst);
  p.protocol = static_cast<uint8_t>(proto);
  p.has_ports = true;
  p.src_port = 40000;
  p.dst_port = port;
  FlowView flow;
  flow.packet = &p;
  flow.src = Endpoint{0, MacAddress::parse(mac), false};
  flow.dst_names = names;
  Verdict v = decide(policy, flow);
  // The name points into `names`, which dies here: hand back a copy the test can read.
  static std::string last_name;
  last_name = std::string(v.name);
  v.name = last_name;
  return v;
}

constexpr const char* kSpeaker = "68:54:fd:00:00:31";
constexpr const char* kCam = "44:47:cc:00:00:11";

TEST_CASE("name patterns: exact, and wildcard strictly below its suffix") {
  NamePattern exact{"time.vendor.example", false};
  CHECK(exact.matches("time.vendor.example"));
  CHECK_FALSE(exact.matches("x.time.vendor.example"));
  CHECK_FALSE(exact.matches("telemetry.vendor.example"));
  NamePattern wild{".voice.example", true};
  CHECK(wild.matches("avs.voice.example"));
  CHECK(wild.matches("a.b.voice.example"));
  CHECK_FALSE(wild.matches("voice.example"));
  CHECK_FALSE(wild.matches("badvoice.example"));
  CHECK_FALSE(wild.matches(".voice.example"));
}

TEST_CASE("a rule's NameSet answers as its patterns one by one would") {
  const std::vector<NamePattern> patterns = {{"time.vendor.example", false},
                                             {".voice.example", true},
                                             {".cdn.example", true},
                                             {"example", false}};
  NameSet set;
  for (const auto& p : patterns) set.add(p);
  CHECK(set.size() == 4);
  const char* names[] = {"time.vendor.example", "x.time.vendor.example", "avs.voice.example",
                         "a.b.voice.example",   "voice.example",         ".voice.example",
                         "badvoice.example",    "a..voice.example",      "cdn.example",
                         "edge.cdn.example",    "example",               "x.example",
                         "",                    ".",                     "voice.example.",
                         "avs.voice.example.org"};
  for (const char* name : names) {
    CAPTURE(name);
    bool any = false;
    for (const auto& p : patterns) any = any || p.matches(name);
    CHECK(set.matches(name) == any);
  }
  CHECK(NameSet().empty());
  CHECK_FALSE(NameSet().matches("avs.voice.example"));
}

TEST_CASE("a learned name that matches allows, and the verdict carries it") {
  auto policy = compiled();
  auto v = egress(*policy, kSpeaker, "203.0.113.30", L4::kTcp, 443, {"avs.voice.example"});
  CHECK(v.action == Action::kAllow);
  CHECK(v.name == "avs.voice.example");
  CHECK(v.reason == Reason::kNone);
  // Any name the device learned for the address will do (a CNAME chain gives several).
  v = egress(*policy, kSpeaker, "203.0.113.33", L4::kTcp, 443, {"node7.cdnco.example", "cdn.voice.example"});
  CHECK(v.action == Action::kAllow);
  CHECK(v.name == "cdn.voice.example");
  CHECK(egress(*policy, kSpeaker, "203.0.113.31", L4::kTcp, 443, {"time.vendor.example"}).action == Action::kAllow);
}

TEST_CASE("a sibling name, the apex, or the wrong port is denied, naming what it was") {
  auto policy = compiled();
  auto v = egress(*policy, kSpeaker, "203.0.113.32", L4::kTcp, 443, {"telemetry.vendor.example"});
  CHECK(v.action == Action::kReject);
  CHECK(v.rule == nullptr);
  CHECK(v.name == "telemetry.vendor.example");
  CHECK(v.reason == Reason::kNone);
  CHECK(egress(*policy, kSpeaker, "203.0.113.34", L4::kTcp, 443, {"voice.example"}).action == Action::kReject);
  CHECK(egress(*policy, kSpeaker, "203.0.113.30", L4::kTcp, 80, {"avs.voice.example"}).action == Action::kReject);
}

TEST_CASE("an address the device never resolved is judged by address rules, reason no-dns") {
  auto policy = compiled();
  auto v = egress(*policy, kSpeaker, "203.0.113.30", L4::kTcp, 443);
  CHECK(v.action == Action::kReject);
  CHECK(v.reason == Reason::kNoDns);
  CHECK(v.name.empty());
  // The camera's name deny fits any flow, but the gateway is no hard-coded internet address.
  v = egress(*policy, kCam, "198.18.10.1", L4::kTcp, 22);
  CHECK(v.action == Action::kReject);
  CHECK(v.reason == Reason::kNone);
  // No name rule fits udp/123 to the gateway: nothing about DNS to say.
  v = egress(*policy, kSpeaker, "198.18.10.1", L4::kUdp, 123);
  CHECK(v.action == Action::kAllow);
  CHECK(v.reason == Reason::kNone);
}

TEST_CASE("a name deny matches the learned name and logs it") {
  auto policy = compiled();
  auto v = egress(*policy, kCam, "203.0.113.40", L4::kTcp, 443, {"relay.p2p.example"});
  CHECK(v.action == Action::kReject);
  REQUIRE(v.rule != nullptr);
  CHECK(v.rule->label == "profiles.camera.egress[1]");
  CHECK(v.log);
  CHECK(v.name == "relay.p2p.example");
}

TEST_CASE("dns-bypass: other resolvers, DoT/DoQ") {
  auto policy = compiled();
  // The gateway is the resolver: the rules decide (the camera may use udp/53 only).
  CHECK(egress(*policy, kCam, "198.18.10.1", L4::kUdp, 53).action == Action::kAllow);
  auto v = egress(*policy, kCam, "198.51.100.2", L4::kUdp, 53);
  CHECK(v.action == Action::kReject);
  CHECK(v.reason == Reason::kDnsBypass);
  CHECK(egress(*policy, kCam, "198.51.100.2", L4::kTcp, 53).reason == Reason::kDnsBypass);
  CHECK(egress(*policy, kCam, "198.51.100.53", L4::kTcp, 853).reason == Reason::kDnsBypass);
  CHECK(egress(*policy, kCam, "198.18.10.1", L4::kUdp, 853).reason == Reason::kDnsBypass);
  // No DoH list: HTTPS is the rules' to decide, whatever the address.
  v = egress(*policy, kSpeaker, "203.0.113.53", L4::kTcp, 443, {"doh.voice.example"});
  CHECK(v.action == Action::kAllow);
  CHECK(v.reason == Reason::kNone);
}

TEST_CASE("dns-bypass: HTTPS to an address in the policy's DoH list, and only that") {
  // decide() asks the compiled policy's list (the kernel table has no DoH set since 2026-12-07).
  testing::TempDir dir("muzzle-doh-decide");
  auto policy = compiledWithDohList(dir);
  for (const L4 proto : {L4::kTcp, L4::kUdp}) {  // HTTP/2 and HTTP/3
    CAPTURE(static_cast<int>(proto));
    for (const char* resolver : {"203.0.113.53", "2001:db8:d0::1"}) {
      CAPTURE(resolver);
      const Verdict v = egress(*policy, kSpeaker, resolver, proto, 443);
      CHECK(v.action == Action::kReject);
      CHECK(v.reason == Reason::kDnsBypass);
    }
  }
  // Even a name the speaker may reach does not excuse a DoH resolver.
  Verdict v = egress(*policy, kSpeaker, "203.0.113.53", L4::kTcp, 443, {"doh.voice.example"});
  CHECK(v.action == Action::kReject);
  CHECK(v.reason == Reason::kDnsBypass);
  // An address the list does not hold (beside a listed one, and just past the listed /48): the
  // rules decide, and they allow the name.
  for (const char* other : {"203.0.113.54", "2001:db8:d1::1"}) {
    CAPTURE(other);
    v = egress(*policy, kSpeaker, other, L4::kTcp, 443, {"avs.voice.example"});
    CHECK(v.action == Action::kAllow);
    CHECK(v.reason == Reason::kNone);
  }
  // A listed address on another port than 443 is no DoH.
  CHECK(egress(*policy, kSpeaker, "203.0.113.53", L4::kTcp, 80).reason == Reason::kNone);
}

TEST_CASE("without a dns section there is no bypass control") {
  auto policy = compiled(R"(
version: 1
profiles:
  quarantine: {egress: [{allow: [internet], proto: udp, ports: [53]}]}
)");
  CHECK_FALSE(policy->dns.enabled);
  auto v = egress(*policy, kCam, "198.51.100.2", L4::kUdp, 53);
  CHECK(v.action == Action::kAllow);
  CHECK(v.reason == Reason::kNone);
  // Nor for HTTPS to an address a DoH list holds: the list is only heard with a dns section
  // (a compiled policy whose list holds 203.0.113.53, its dns section taken away).
  testing::TempDir dir("muzzle-doh-nodns");
  auto without = std::make_shared<CompiledPolicy>(*compiledWithDohList(dir));
  REQUIRE(without->dns.doh.contains(*IpAddress::parse("203.0.113.53")));
  without->dns.enabled = false;
  v = egress(*without, kSpeaker, "203.0.113.53", L4::kTcp, 443, {"doh.voice.example"});
  CHECK(v.action == Action::kAllow);
  CHECK(v.reason == Reason::kNone);
}

std::string errorOf(std::string_view yaml, const char* label = "policy.yaml") {
  return compilePolicyText(yaml, label, lab()).status().message();
}

TEST_CASE("loader: names are egress-only, resolvers must be narrow, limits are checked") {
  CHECK(errorOf(R"(version: 1
profiles:
  quarantine: {inbound: [{allow: [nvr.example]}]}
)") == "policy.yaml:3: profiles.quarantine.inbound[0].allow[0]: \"nvr.example\" is a DNS name; "
       "names only apply to egress rules (where a device goes), use addresses for inbound");
  CHECK(errorOf(R"(version: 1
profiles: {quarantine: {}}
dns: {resolvers: [internet]}
)") == "policy.yaml:3: dns.resolvers[0]: \"internet\" is too wide for a resolver; name gateway, "
       "a group or an IP");
  CHECK(errorOf(R"(version: 1
profiles: {quarantine: {}}
dns: {resolvers: []}
)").find("dns.resolvers: list the resolvers") != std::string::npos);
  CHECK(errorOf(R"(version: 1
profiles: {quarantine: {}}
dns: {resolvers: [gateway], cache_per_device: 3}
)") == "policy.yaml:3: dns.cache_per_device: 3 is not in 16..1000000");
  auto p = compiled(R"(version: 1
profiles: {quarantine: {egress: [{allow: ["*.Voice.Example"]}]}}
dns: {resolvers: [gateway, 198.51.100.53], cache_per_device: 64, ttl_grace_seconds: 1}
)");
  CHECK(p->dns.cache_per_device == 64);
  CHECK(p->dns.ttl_grace_seconds == 1);
  // Lowercased; a wildcard: below the name, never the name itself.
  const NameSet& names = p->profiles[0].egress[0].names;
  CHECK(names.size() == 1);
  CHECK(names.matches("avs.voice.example"));
  CHECK_FALSE(names.matches("voice.example"));
  CHECK(p->dns.resolvers.contains(*IpAddress::parse("198.51.100.53")));
}

TEST_CASE("an address group may hold DNS names: named once, allowed by every profile naming it") {
  auto policy = compiled(R"(version: 1
addresses:
  voice-cloud: ["*.voice.example", time.vendor.example, 203.0.113.40]
profiles:
  speaker: {egress: [{allow: [voice-cloud], proto: tcp, ports: [443]}]}
  camera: {egress: [{allow: [voice-cloud], proto: tcp, ports: [8443]}]}
  quarantine: {}
devices:
  - {name: speaker, mac: "68:54:fd:00:00:31", profile: speaker}
  - {name: cam, mac: "44:47:cc:00:00:11", profile: camera}
dns: {resolvers: [gateway]}
)");
  auto v = egress(*policy, kSpeaker, "203.0.113.30", L4::kTcp, 443, {"avs.voice.example"});
  CHECK(v.action == Action::kAllow);
  CHECK(v.name == "avs.voice.example");
  CHECK(egress(*policy, kCam, "203.0.113.31", L4::kTcp, 8443, {"time.vendor.example"}).action == Action::kAllow);
  // The group's address still counts, with or without a name.
  CHECK(egress(*policy, kSpeaker, "203.0.113.40", L4::kTcp, 443).action == Action::kAllow);
  // A name the group does not hold, the apex of its wildcard, or no name at all: denied.
  CHECK(egress(*policy, kSpeaker, "203.0.113.32", L4::kTcp, 443, {"telemetry.vendor.example"}).action ==
        Action::kReject);
  CHECK(egress(*policy, kSpeaker, "203.0.113.34", L4::kTcp, 443, {"voice.example"}).action == Action::kReject);
  v = egress(*policy, kSpeaker, "203.0.113.30", L4::kTcp, 443);
  CHECK(v.action == Action::kReject);
  CHECK(v.reason == Reason::kNoDns);

  CHECK(errorOf(R"(version: 1
addresses: {vendor: [cloud.vendor.example]}
profiles:
  quarantine: {inbound: [{allow: [vendor]}]}
)") == "policy.yaml:4: profiles.quarantine.inbound[0].allow[0]: address group \"vendor\" holds DNS "
       "names; names only apply to egress rules (where a device goes), use a group of addresses for "
       "inbound");
  CHECK(errorOf(R"(version: 1
addresses: {vendor: [cloud.vendor.example]}
profiles: {quarantine: {}}
dns: {resolvers: [vendor]}
)") == "policy.yaml:4: dns.resolvers[0]: address group \"vendor\" holds DNS names; a resolver is "
       "reached by address: name its IPs");
  CHECK(errorOf(R"(version: 1
addresses: {vendor: ["cloud.ven*dor.example"]}
profiles: {quarantine: {}}
)") == "policy.yaml:2: addresses.vendor[0]: \"cloud.ven*dor.example\" is not a valid DNS name "
       "(host.example.com or *.example.com; letters, digits, - and _)");
}

TEST_CASE("loader: the DoH list is read relative to the policy, errors name its line") {
  testing::TempDir dir("muzzle-doh-test");
  const std::string base = dir.path;
  const std::string policy = "version: 1\nprofiles: {quarantine: {}}\ndns: {resolvers: [gateway], doh_list: doh.txt}\n";
  {
    std::ofstream(base + "/doh.txt") << "# lab DoH resolvers\n203.0.113.53\n\n2001:db8:d0::/48  # v6\n";
    auto p = compilePolicyText(policy, base + "/policy.yaml", lab());
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    CHECK((*p)->dns.doh.contains(*IpAddress::parse("203.0.113.53")));
    CHECK((*p)->dns.doh.contains(*IpAddress::parse("2001:db8:d0::1")));
    CHECK((*p)->dns.doh.intervalCount() == 2);
    // The list is part of the digest: a changed list is a changed policy.
    std::ofstream(base + "/doh.txt") << "203.0.113.54\n";
    auto q = compilePolicyText(policy, base + "/policy.yaml", lab());
    REQUIRE(q.ok());
    CHECK((*q)->digest != (*p)->digest);
  }
  std::ofstream(base + "/doh.txt") << "203.0.113.53\ndoh.example\n";
  CHECK(compilePolicyText(policy, base + "/policy.yaml", lab()).status().message() ==
        base + "/policy.yaml:3: dns.doh_list: doh.txt:2: not an IP address or CIDR (one a line, "
               "e.g. 198.18.1.4 or 198.18.1.0/24 with no host bits set; # starts a comment)");
  std::remove((base + "/doh.txt").c_str());
  CHECK(compilePolicyText(policy, base + "/policy.yaml", lab()).status().message() ==
        base + "/policy.yaml:3: dns.doh_list: \"doh.txt\" does not exist in " + base +
            "; check the name (relative to the policy's folder)");
}

}  // namespace
}  // namespace muzzle

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Lines are numbered from 1 at the line that follows R"(.
constexpr char kExample[] = R"(version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554, 8000]}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
    inbound:
      - {allow: [nvr], proto: tcp, ports: [554, 80]}
    otherwise: reject
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}
devices:
  - {name: lobby-cam, mac: "44:47:cc:12:34:56", profile: camera}
)";

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// A rule's address targets: its literals and the groups it names.
bool addressTargets(const CompiledRule& rule, const IpAddress& a) {
  if (rule.addresses.contains(a)) return true;
  for (const auto& group : rule.groups) {
    if (group->contains(a)) return true;
  }
  return false;
}

std::string errorOf(std::string_view yaml) {
  return compilePolicyText(yaml, "policy.yaml", SiteFacts{}).status().message();
}

// A minimal valid policy around one camera rule, so each case shows only what it tests.
std::string withEgressRule(std::string_view rule) {
  return "version: 1\n"                       // 1
         "addresses: {nvr: [198.18.1.10]}\n"  // 2
         "profiles:\n"                        // 3
         "  quarantine: {}\n"                 // 4
         "  camera:\n"                        // 5
         "    egress:\n"                      // 6
         "      - {allow: [nvr]}\n"           // 7
         "      - " +
         std::string(rule) + "\n";  // 8
}

bool samePorts(const std::vector<PortRange>& ports, std::vector<std::pair<int, int>> expected) {
  if (ports.size() != expected.size()) return false;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (ports[i].lo != expected[i].first || ports[i].hi != expected[i].second) return false;
  }
  return true;
}

TEST_CASE("the example policy compiles") {
  SiteFacts site;
  SegmentFacts segment;
  segment.name = "cameras";
  segment.ifname = "br-cam";
  segment.ifindex = 7;
  segment.gateway_addresses = {ip("198.18.0.1"), ip("fd00::1")};
  segment.subnets = {*Cidr::parse("198.18.0.0/24"), *Cidr::parse("fd00::/64")};
  site.segments.push_back(segment);
  site.box_addresses = {ip("198.18.0.1"), ip("fd00::1"), ip("192.0.2.2")};

  const auto result = compilePolicyText(kExample, "policy.yaml", site);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const CompiledPolicy& policy = **result;

  REQUIRE(policy.profiles.size() == 2);
  // Sorted by name.
  CHECK(policy.profiles[0].name == "camera");
  CHECK(policy.profiles[1].name == "quarantine");
  CHECK(policy.default_profile == 1);

  const CompiledProfile& camera = policy.profiles[0];
  CHECK(camera.otherwise == Action::kReject);
  REQUIRE(camera.egress.size() == 2);
  const CompiledRule& to_nvr = camera.egress[0];
  CHECK(to_nvr.action == Action::kAllow);
  CHECK(to_nvr.builtins == 0);
  CHECK(to_nvr.proto == ProtoMatch::kTcp);
  CHECK(samePorts(to_nvr.ports, {{554, 554}, {8000, 8000}}));
  CHECK(to_nvr.label == "profiles.camera.egress[0]");
  CHECK(addressTargets(to_nvr, ip("198.18.1.10")));
  CHECK(addressTargets(to_nvr, ip("fd00:1::10")));
  CHECK_FALSE(addressTargets(to_nvr, ip("198.18.1.11")));
  CHECK(to_nvr.addresses.empty());  // the group is shared, not copied into the rule
  CHECK_FALSE(to_nvr.log);

  const CompiledRule& dns = camera.egress[1];
  CHECK(dns.builtins == kTargetGateway);
  CHECK(dns.addresses.empty());
  CHECK(dns.proto == ProtoMatch::kUdp);
  CHECK(samePorts(dns.ports, {{53, 53}, {123, 123}}));
  CHECK(dns.label == "profiles.camera.egress[1]");

  REQUIRE(camera.inbound.size() == 1);
  CHECK(camera.inbound[0].label == "profiles.camera.inbound[0]");
  CHECK(samePorts(camera.inbound[0].ports, {{554, 554}, {80, 80}}));
  CHECK(addressTargets(camera.inbound[0], ip("198.18.1.10")));
  // Both rules name `nvr`: one set, shared.
  CHECK(camera.inbound[0].groups[0] == to_nvr.groups[0]);

  const CompiledProfile& quarantine = policy.profiles[1];
  REQUIRE(quarantine.egress.size() == 1);
  CHECK(quarantine.inbound.empty());
  CHECK(quarantine.egress[0].builtins == kTargetGateway);
  CHECK(samePorts(quarantine.egress[0].ports, {{53, 53}, {67, 67}}));

  REQUIRE(policy.devices.size() == 1);
  CHECK(policy.devices[0].name == "lobby-cam");
  CHECK(policy.devices[0].mac == *MacAddress::parse("44:47:cc:12:34:56"));
  CHECK(policy.devices[0].profile == 0);
  REQUIRE(policy.device_by_mac.count(policy.devices[0].mac.value) == 1);
  CHECK(policy.device_by_mac.at(policy.devices[0].mac.value) == 0);

  REQUIRE(policy.segments.size() == 1);
  CHECK(policy.segments[0].name == "cameras");
  CHECK(policy.segments[0].ifindex == 7);
  CHECK(policy.segments[0].gateway.contains(ip("198.18.0.1")));
  CHECK(policy.segments[0].gateway.contains(ip("fd00::1")));
  CHECK_FALSE(policy.segments[0].gateway.contains(ip("198.18.0.2")));
  CHECK(policy.segments[0].local.contains(ip("198.18.0.200")));
  CHECK(policy.segments[0].local.contains(ip("fd00::abcd")));
  CHECK_FALSE(policy.segments[0].local.contains(ip("198.18.1.10")));
  CHECK(policy.box_addresses.contains(ip("192.0.2.2")));
  CHECK_FALSE(policy.box_addresses.contains(ip("192.0.2.3")));

  // The digest is hex SHA-256 and depends on both the text and the site.
  CHECK(policy.digest.size() == 64);
  const auto again = compilePolicyText(kExample, "other-label.yaml", site);
  REQUIRE(again.ok());
  CHECK((*again)->digest == policy.digest);
  const auto no_site = compilePolicyText(kExample, "policy.yaml", SiteFacts{});
  REQUIRE(no_site.ok());
  CHECK((*no_site)->digest != policy.digest);
  CHECK((*no_site)->segments.empty());
  const auto edited = compilePolicyText(std::string(kExample) + "# edited\n", "policy.yaml", site);
  REQUIRE(edited.ok());
  CHECK((*edited)->digest != policy.digest);
}

TEST_CASE("the digest is stable across runs") {
  // Pinned: a change here means every deployed box would see a "new" policy after an upgrade.
  const auto result = compilePolicyText("version: 1\nprofiles: {quarantine: {}}\n", "p", {});
  REQUIRE(result.ok());
  // SHA-256 of the length-prefixed text and site rendering (checked against Python's hashlib).
  CHECK((*result)->digest == "f9f3c5df18f7aa76472094e31dde31a298b0a242924ea7af4a0f9ecd400edee1");
  const auto again = compilePolicyText("version: 1\nprofiles: {quarantine: {}}\n", "q", {});
  CHECK((*again)->digest == (*result)->digest);
}

TEST_CASE("deny rules, otherwise, log, literal targets and port ranges") {
  const auto result = compilePolicyText(R"(version: 1
defaults: {profile: vacuum}
profiles:
  vacuum:
    otherwise: drop
    egress:
      - {deny: [198.18.9.0/24, local], log: true}
      - {allow: [internet, 2001:db8::/32], proto: tcp, ports: [443, 8000-8010]}
      - {allow: [gateway], proto: icmp}
      - {allow: [local], proto: any}
)",
                                        "policy.yaml", SiteFacts{});
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const CompiledPolicy& policy = **result;
  REQUIRE(policy.profiles.size() == 1);
  const CompiledProfile& vacuum = policy.profiles[0];
  CHECK(policy.default_profile == 0);
  CHECK(vacuum.otherwise == Action::kDrop);
  REQUIRE(vacuum.egress.size() == 4);
  CHECK(vacuum.egress[0].action == Action::kDrop);  // a deny takes the `otherwise` action
  CHECK(vacuum.egress[0].log);
  CHECK(vacuum.egress[0].builtins == kTargetLocal);
  CHECK(vacuum.egress[0].addresses.contains(ip("198.18.9.77")));
  CHECK(vacuum.egress[0].proto == ProtoMatch::kAny);
  CHECK(vacuum.egress[1].action == Action::kAllow);
  CHECK(vacuum.egress[1].builtins == kTargetInternet);
  CHECK(vacuum.egress[1].addresses.contains(ip("2001:db8::5")));
  CHECK(samePorts(vacuum.egress[1].ports, {{443, 443}, {8000, 8010}}));
  CHECK(vacuum.egress[2].proto == ProtoMatch::kIcmp);
  CHECK(vacuum.egress[3].proto == ProtoMatch::kAny);
  CHECK(vacuum.egress[3].ports.empty());
}

TEST_CASE("a deny in a rejecting profile rejects; devices without a profile get the default") {
  const auto result = compilePolicyText(R"(version: 1
profiles:
  quarantine: {egress: [{deny: [internet]}]}
devices:
  - {name: new-thing, mac: "02:00:00:00:00:01"}
)",
                                        "policy.yaml", SiteFacts{});
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK((*result)->profiles[0].egress[0].action == Action::kReject);
  CHECK((*result)->devices[0].profile == (*result)->default_profile);
}

TEST_CASE("ports: exact messages") {
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: tcp, ports: [554, 70000]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports[1]: 70000 is not a port");
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: udp, ports: [0]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports[0]: 0 is not a port");
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: udp, ports: [rtsp]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports[0]: rtsp is not a port");
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: tcp, ports: [8010-8000]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports[0]: 8010-8000 is not a port range (the "
        "low port comes first)");
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: tcp, ports: [8000-]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports[0]: 8000- is not a port range (e.g. "
        "8000-8010)");
  CHECK(errorOf(withEgressRule("{allow: [nvr], ports: [554]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports: ports need proto: tcp or proto: udp");
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: icmp, ports: [554]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].ports: ports need proto: tcp or proto: udp");
}

TEST_CASE("ports on their own lines name their own line") {
  CHECK(errorOf(R"(version: 1
profiles:
  quarantine:
    egress:
      - allow: [gateway]
        proto: udp
        ports:
          - 53
          - 70000
)") == "policy.yaml:9: profiles.quarantine.egress[0].ports[1]: 70000 is not a port");
}

TEST_CASE("targets: exact messages") {
  CHECK(errorOf(withEgressRule("{allow: [nvr, nvrr]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].allow[1]: \"nvrr\" is not an address group, "
        "IP, CIDR or built-in (gateway, local, internet)");
  CHECK(errorOf(withEgressRule("{deny: [cloud.vendor.com, \"*.vendor.com\"]}")).empty());
  CHECK(errorOf(withEgressRule("{deny: [\"*.vendor..com\"]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].deny[0]: \"*.vendor..com\" is not a valid DNS "
        "name target (host.example.com or *.example.com; letters, digits, - and _)");
  CHECK(errorOf(withEgressRule("{deny: [\"a.*.vendor.com\"]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].deny[0]: \"a.*.vendor.com\" is not a valid DNS "
        "name target (host.example.com or *.example.com; letters, digits, - and _)");
  CHECK(errorOf(withEgressRule("{allow: [198.18.1.5/24]}")) ==
        "policy.yaml:8: profiles.camera.egress[1].allow[0]: \"198.18.1.5/24\" is not a valid "
        "CIDR (a network address with no host bits set, e.g. 198.18.1.0/24)");
}

TEST_CASE("rules need exactly one of allow or deny") {
  CHECK(errorOf(withEgressRule("{proto: tcp}")) ==
        "policy.yaml:8: profiles.camera.egress[1]: a rule needs allow or deny (a list of "
        "targets)");
  CHECK(errorOf(withEgressRule("{allow: [nvr], deny: [local]}")) ==
        "policy.yaml:8: profiles.camera.egress[1]: a rule has allow or deny, not both; split it "
        "into two rules");
  CHECK(errorOf(withEgressRule("{allow: []}")) ==
        "policy.yaml:8: profiles.camera.egress[1]: a rule needs allow or deny (a list of "
        "targets)");
}

TEST_CASE("proto and otherwise: exact messages") {
  CHECK(errorOf(withEgressRule("{allow: [nvr], proto: sctp}")) ==
        "policy.yaml:8: profiles.camera.egress[1].proto: \"sctp\" is not a protocol (tcp, udp, "
        "icmp or any)");
  CHECK(errorOf("version: 1\nprofiles:\n  quarantine:\n    otherwise: accept\n") ==
        "policy.yaml:4: profiles.quarantine.otherwise: \"accept\" is not an action (reject or "
        "drop)");
}

TEST_CASE("version") {
  CHECK(errorOf("profiles: {quarantine: {}}\n") ==
        "policy.yaml: version: missing; start the file with \"version: 1\"");
  CHECK(errorOf("version: 2\nprofiles: {quarantine: {}}\n") ==
        "policy.yaml:1: version: 2 is not a supported version (1)");
}

TEST_CASE("the default profile must exist") {
  CHECK(errorOf("version: 1\nprofiles: {camera: {}}\n") ==
        "policy.yaml: defaults.profile: no profile \"quarantine\" (the default for devices not "
        "listed); define it or set defaults.profile");
  CHECK(errorOf("version: 1\ndefaults:\n  profile: camra\nprofiles: {camera: {}}\n") ==
        "policy.yaml:3: defaults.profile: \"camra\" is not a defined profile");
}

TEST_CASE("profile and address group names") {
  CHECK(errorOf("version: 1\nprofiles:\n  quarantine: {}\n  \"my cam\": {}\n") ==
        "policy.yaml:4: profiles.my cam: \"my cam\" is not a valid profile name (use letters, "
        "digits, _ . -)");
  CHECK(errorOf("version: 1\nprofiles: {quarantine: {}}\naddresses:\n  gateway: [198.18.0.1]\n") ==
        "policy.yaml:4: addresses.gateway: \"gateway\" is a built-in target and cannot name an "
        "address group; choose another name");
  CHECK(errorOf("version: 1\nprofiles: {quarantine: {}}\naddresses:\n  any: []\n") ==
        "policy.yaml:4: addresses.any: \"any\" is a built-in target and cannot name an address "
        "group; choose another name");
  CHECK(errorOf("version: 1\nprofiles: {quarantine: {}}\naddresses:\n  nvr/1: []\n") ==
        "policy.yaml:4: addresses.nvr/1: \"nvr/1\" is not a valid address group name (use "
        "letters, digits, _ . -)");
  CHECK(errorOf("version: 1\nprofiles: {quarantine: {}}\naddresses:\n  nvr:\n    - 198.18.1.10\n"
                "    - 198.18.1.300\n") ==
        "policy.yaml:6: addresses.nvr[1]: \"198.18.1.300\" is not an IP address or CIDR");
}

TEST_CASE("devices: exact messages") {
  const std::string head = "version: 1\nprofiles: {quarantine: {}, camera: {}}\ndevices:\n";
  CHECK(errorOf(head + "  - {mac: \"44:47:cc:12:34:56\"}\n") ==
        "policy.yaml:4: devices[0].name: a device needs a name");
  CHECK(errorOf(head + "  - {name: a, mac: \"44:47:cc:12:34:56\"}\n"
                       "  - {name: a, mac: \"44:47:cc:12:34:57\"}\n") ==
        "policy.yaml:5: devices[1].name: \"a\" is already the name of devices[0]");
  CHECK(errorOf(head + "  - {name: a}\n") ==
        "policy.yaml:4: devices[0].mac: a device needs a mac (e.g. \"44:47:cc:12:34:56\")");
  CHECK(errorOf(head + "  - name: a\n    mac: 44:47:cc:12:34\n") ==
        "policy.yaml:5: devices[0].mac: \"44:47:cc:12:34\" is not an Ethernet address (e.g. "
        "\"44:47:cc:12:34:56\")");
  CHECK(errorOf(head + "  - {name: a, mac: \"44:47:cc:12:34:56\"}\n"
                       "  - {name: b, mac: \"44:47:CC:12:34:56\"}\n") ==
        "policy.yaml:5: devices[1].mac: \"44:47:CC:12:34:56\" is already the mac of devices[0] "
        "(a)");
  CHECK(errorOf(head + "  - {name: a, mac: \"44:47:cc:12:34:56\", profile: camra}\n") ==
        "policy.yaml:4: devices[0].profile: \"camra\" is not a defined profile");
}

TEST_CASE("many errors are reported together, in file order") {
  CHECK(errorOf(R"(version: 1
addresses:
  nvr: [198.18.1.300]
profiles:
  camera:
    egress:
      - {allow: [nvrr], proto: tcp, ports: [70000]}
    otherwise: ignore
  quarantine: {}
devices:
  - {name: cam, mac: nope, profile: camera}
)") == "policy.yaml:3: addresses.nvr[0]: \"198.18.1.300\" is not an IP address or CIDR\n"
       "policy.yaml:7: profiles.camera.egress[0].allow[0]: \"nvrr\" is not an address group, "
       "IP, CIDR or built-in (gateway, local, internet)\n"
       "policy.yaml:7: profiles.camera.egress[0].ports[0]: 70000 is not a port\n"
       "policy.yaml:8: profiles.camera.otherwise: \"ignore\" is not an action (reject or drop)\n"
       "policy.yaml:11: devices[0].mac: \"nope\" is not an Ethernet address (e.g. "
       "\"44:47:cc:12:34:56\")");
}

TEST_CASE("schema errors surface from the YAML walk") {
  CHECK(errorOf(R"(version: 1
profiles:
  camera:
    egress:
      - {allow: [nvr], port: [554]}
)") == "policy.yaml:5: profiles.camera.egress[0]: unknown field \"port\" (did you mean "
       "\"ports\"?)");
  CHECK(errorOf("version: 1\nprofiles: [camera]\n") ==
        "policy.yaml:2: profiles: expected a mapping, found a list");
  CHECK(errorOf("version: 1\nprofiles: {camera: {egress: [{allow: [a}]}}\n")
            .starts_with("policy.yaml:2: YAML syntax error: "));
}

TEST_CASE("JSON policies work too") {
  const auto result = compilePolicyText(
      R"({"version": 1, "profiles": {"quarantine": {"egress": [{"allow": ["gateway"],
       "proto": "udp", "ports": ["53", 67]}]}}, "addresses": {"nvr": ["198.18.1.10"]}})",
      "policy.json", SiteFacts{});
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(samePorts((*result)->profiles[0].egress[0].ports, {{53, 53}, {67, 67}}));
}

TEST_CASE("compilePolicyFile") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("muzzle-loader-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "policy.yaml").string();
  {
    std::ofstream out(path);
    out << kExample << "  - {name: other, mac: \"44:47:cc:12:34:99\", profile: nope}\n";
  }
  CHECK(compilePolicyFile(path, SiteFacts{}, "").status().message() ==
        path + ":16: devices[1].profile: \"nope\" is not a defined profile");
  {
    std::ofstream out(path);
    out << kExample;
  }
  const auto result = compilePolicyFile(path, SiteFacts{}, "");
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK((*result)->devices.size() == 1);
  // The file and the text give the same policy.
  CHECK((*result)->digest == (*compilePolicyText(kExample, "x", SiteFacts{}))->digest);

  const std::string missing = (dir / "missing.yaml").string();
  CHECK(compilePolicyFile(missing, SiteFacts{}, "").status().message() ==
        missing + ": cannot read the policy file (missing or unreadable)");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace muzzle

// Traffic classes and volume limits (fw/policy/compile_traffic.cc): which class an allowed flow
// gets (decide() and trafficClassOf), what a profile's `limits:` compile to, and the error each
// bad limit gets, with its file, line and field.
#include <doctest/doctest.h>

#include "fw/policy/policy_loader.h"
#include "tests/unit/support/lab_site.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kPolicy = R"(
version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.10.50]
  cloud: ["*.vendor.example", 203.0.113.0/28]
  unused: [192.0.2.99]
  blocked: [192.0.2.66]
profiles:
  camera:
    egress:
      - {deny: [blocked]}
      - {allow: [nvr, gateway, local]}
      - {allow: [cloud]}
      - {allow: [internet], proto: udp}
    limits:
      - {to: internet, upload: 200MB, per: 1h, action: block}
      - {to: cloud, download: 1.5GiB, per: 1d}
      - {upload: 10GB, per: 7d}
  quarantine: {egress: [{allow: [gateway]}]}
devices:
  - {name: cam, mac: "44:47:cc:00:00:11", profile: camera}
)";

SiteFacts lab() { return testing::cameraSegmentSite(/*uplink=*/true); }

std::shared_ptr<const CompiledPolicy> compiled(const std::string& text = kPolicy) {
  auto p = compilePolicyText(text, "policy.yaml", lab());
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

std::string errorOf(const std::string& limit) {
  const std::string text =
      "version: 1\naddresses: {nvr: [198.18.10.50]}\nprofiles:\n  quarantine:\n"
      "    egress: [{allow: [gateway]}]\n    limits:\n      - " + limit + "\n";
  auto p = compilePolicyText(text, "policy.yaml", lab());
  REQUIRE_FALSE(p.ok());
  return p.status().message();
}

Verdict judgeFrom(const CompiledPolicy& policy, const char* dst, L4 proto,
                  std::span<const std::string_view> names = {}) {
  PacketInfo p;
  p.src = *IpAddress::parse("198.18.10.11");
  p.dst = *IpAddress::parse(dst);
  p.protocol = static_cast<uint8_t>(proto);
  p.has_ports = true;
  p.dst_port = 443;
  FlowView flow;
  flow.packet = &p;
  flow.src = Endpoint{0, MacAddress::parse("44:47:cc:00:00:11"), false};
  flow.dst_names = names;
  return decide(policy, flow);
}

std::string className(const CompiledPolicy& policy, const Verdict& v) {
  REQUIRE(v.action == Action::kAllow);
  return policy.traffic_classes.at(v.traffic_class);
}

TEST_CASE("traffic classes: built-ins first, then the groups limits name, then those rules name") {
  auto policy = compiled();
  // Sorted profiles; the group a limit names (cloud) before the one only a rule names (nvr); a
  // group nobody names, or only a deny rule (no allowed traffic goes there), gets no class.
  CHECK(policy->traffic_classes ==
        std::vector<std::string>{"gateway", "local", "internet", "cloud", "nvr"});
  const CompiledProfile& camera = policy->profiles[0];
  REQUIRE(camera.class_groups.size() == 2);
  CHECK(camera.class_groups[0].traffic_class == 3);
  CHECK(camera.class_groups[0].names != nullptr);  // cloud lists a name and a CIDR
  CHECK(camera.class_groups[0].addresses != nullptr);
  CHECK(camera.class_groups[1].traffic_class == 4);
  CHECK(camera.class_groups[1].names == nullptr);
}

TEST_CASE("an allowed flow's class is where it goes, seen from the device") {
  auto policy = compiled();
  CHECK(className(*policy, judgeFrom(*policy, "198.18.10.50", L4::kTcp)) == "nvr");  // not local
  CHECK(className(*policy, judgeFrom(*policy, "198.18.10.1", L4::kTcp)) == "gateway");
  CHECK(className(*policy, judgeFrom(*policy, "198.18.10.77", L4::kTcp)) == "local");
  CHECK(className(*policy, judgeFrom(*policy, "203.0.113.5", L4::kTcp)) == "cloud");
  CHECK(className(*policy, judgeFrom(*policy, "192.0.2.9", L4::kUdp)) == "internet");
  // Known by a name the group lists: in the group, whatever its address.
  const std::string_view names[] = {"eu.vendor.example"};
  CHECK(className(*policy, judgeFrom(*policy, "192.0.2.200", L4::kTcp, names)) == "cloud");
  // The box's other addresses are the gateway too.
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("198.51.100.1"), {}) == kClassGateway);
  // A refused flow carries no class.
  const Verdict refused = judgeFrom(*policy, "192.0.2.9", L4::kTcp);
  CHECK(refused.action == Action::kReject);
  CHECK(refused.traffic_class == kClassGateway);
}

TEST_CASE("limits compile to their class, amounts, window and action") {
  auto policy = compiled();
  const auto& limits = policy->profiles[0].limits;
  REQUIRE(limits.size() == 3);
  CHECK(limits[0].traffic_class == kClassInternet);
  CHECK(limits[0].upload_bytes == 200'000'000);
  CHECK(limits[0].download_bytes == 0);
  CHECK(limits[0].per == std::chrono::hours(1));
  CHECK(limits[0].block);
  CHECK(limits[0].label == "profiles.camera.limits[0]");
  CHECK(limits[0].source == "internet upload 200MB per 1h block");
  CHECK(policy->traffic_classes[limits[1].traffic_class] == "cloud");
  CHECK(limits[1].download_bytes == 1'610'612'736);  // 1.5 x 2^30
  CHECK_FALSE(limits[1].block);
  CHECK(limits[1].per == std::chrono::hours(24));
  CHECK(limits[2].all_classes);
  CHECK(limits[2].source == "all upload 10GB per 7d alert");
}

TEST_CASE("a limit may name an IP, a CIDR or a DNS name as a rule does: a class of its own") {
  auto policy = compiled(R"(
version: 1
profiles:
  camera:
    egress: [{allow: [internet]}]
    limits:
      - {to: 192.0.2.0/28, upload: 1MB, per: 1h}
      - {to: "*.vendor.example", upload: 1MB, per: 1h}
      - {to: 192.0.2.0/28, download: 1MB, per: 1h}
  quarantine: {}
)");
  CHECK(policy->traffic_classes ==
        std::vector<std::string>{"gateway", "local", "internet", "192.0.2.0/28", "*.vendor.example"});
  const CompiledProfile& camera = policy->profiles[0];
  CHECK(camera.class_groups.size() == 2);  // the CIDR's class once
  CHECK(camera.limits[2].traffic_class == camera.limits[0].traffic_class);
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("192.0.2.5"), {}) == 3);
  const std::string_view names[] = {"eu.vendor.example"};
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("203.0.113.9"), names) == 4);
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("203.0.113.9"), {}) == kClassInternet);
}

TEST_CASE("a bad limit: an error with the file, line and field") {
  CHECK(errorOf("{to: internet, upload: 200, per: 1h}") ==
        "policy.yaml:7: profiles.quarantine.limits[0].upload: 200 is not an amount: a number and "
        "a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), like 200MB or 1.5GB");
  CHECK(errorOf("{to: internet, upload: 2mb, per: 1h}").find("limits[0].upload: 2mb is not an amount") !=
        std::string::npos);
  CHECK(errorOf("{to: internet, upload: -5MB, per: 1h}").find("is not an amount") != std::string::npos);
  CHECK(errorOf("{to: internet, upload: 0.0000001kB, per: 1h}").find("is not an amount") !=
        std::string::npos);
  CHECK(errorOf("{to: internet, per: 1h}") ==
        "policy.yaml:7: profiles.quarantine.limits[0]: a limit needs upload, download or both "
        "(like upload: 200MB)");
  CHECK(errorOf("{to: internet, upload: 1MB}") ==
        "policy.yaml:7: profiles.quarantine.limits[0]: a limit needs per: the window it counts in "
        "(like per: 1h)");
  for (const char* per : {"30s", "8d", "1w", "h", "0m", "99999999999m"}) {
    CAPTURE(per);
    CHECK(errorOf(std::string("{to: internet, upload: 1MB, per: ") + per + "}")
              .find("limits[0].per: ") != std::string::npos);
  }
  CHECK(errorOf("{to: internet, upload: 1MB, per: 1h, action: cut}") ==
        "policy.yaml:7: profiles.quarantine.limits[0].action: \"cut\" is not a limit action "
        "(alert or block)");
  CHECK(errorOf("{to: nvrs, upload: 1MB, per: 1h}") ==
        "policy.yaml:7: profiles.quarantine.limits[0].to: \"nvrs\" is not a target a limit can "
        "name: gateway, local, internet, an address group, an IP or CIDR, or a DNS name "
        "(host.example.com, *.example.com)");
  CHECK(errorOf("{to: 192.0.2.1/33, upload: 1MB, per: 1h}").find("is not a target a limit can name") !=
        std::string::npos);
  CHECK(errorOf("{to: \"a.*.example\", upload: 1MB, per: 1h}").find("is not a target a limit") !=
        std::string::npos);
}

TEST_CASE("more groups than the box can count apart: rules' groups fall back, limits' are refused") {
  std::string groups, targets;
  for (int i = 0; i < 70; ++i) {
    const std::string name = "g" + std::to_string(i);
    groups += "  " + name + ": [192.0.2." + std::to_string(i) + "]\n";
    targets += (i ? ", " : "") + name;
  }
  const std::string text = "version: 1\naddresses:\n" + groups +
                           "profiles:\n  quarantine:\n    egress: [{allow: [" + targets + "]}]\n";
  auto policy = compiled(text);
  CHECK(policy->traffic_classes.size() == kMaxTrafficClasses);
  CHECK(policy->profiles[0].class_groups.size() == kMaxTrafficClasses - kFirstGroupClass);
  // g69 has no class of its own: counted as internet.
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("192.0.2.69"), {}) == kClassInternet);
  CHECK(trafficClassOf(*policy, 0, 0, *IpAddress::parse("192.0.2.0"), {}) == kFirstGroupClass);

  // 16 limits a profile at most: spread over four profiles.
  std::string profiles;
  for (int p = 0; p < 4; ++p) {
    profiles += "  p" + std::to_string(p) + ":\n    limits:\n";
    for (int i = p * 16; i < std::min(62, p * 16 + 16); ++i) {
      profiles += "      - {to: g" + std::to_string(i) + ", upload: 1MB, per: 1h}\n";
    }
  }
  auto refused = compilePolicyText("version: 1\naddresses:\n" + groups +
                                       "profiles:\n  quarantine: {}\n" + profiles,
                                   "policy.yaml", lab());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("p3.limits[13].to: the policy's profiles already name 61 "
                                        "address groups in limits") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

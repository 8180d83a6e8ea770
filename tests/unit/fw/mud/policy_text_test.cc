// withProfile: an imported profile written into the site policy's text, the rest of the text
// (and its comments) kept; the result compiles.
#include <doctest/doctest.h>

#include <filesystem>

#include "fw/mud/policy_text.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/mud/mud_test_support.h"
#include "tests/unit/support/site_policy.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::policyCompileError;
using testing::siteExampleText;

ProfileTextResult place(const std::string& policy, const MudImport& m, const std::string& name) {
  ProfileText t;
  t.profile = &m.profile;
  t.name = name;
  t.comment = "from MUD file " + m.metadata.mud_url;
  for (const auto& s : m.egress_sources) t.rule_comments.push_back(s.ace);
  for (const auto& s : m.inbound_sources) t.rule_comments.push_back(s.ace);
  t.groups = m.site_groups;
  t.group_comment = "MUD: fill in";
  auto r = withProfile(policy, t);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

MudImport imported(const std::string& file, const std::string& name) {
  auto m = importMud(test::mudFile(file), name);
  REQUIRE(m.ok());
  return *m;
}

// Every line of `a`, in order, is in `b`: b only adds lines.
bool onlyAdds(const std::string& a, const std::string& b) {
  std::istringstream as(a), bs(b);
  std::string la, lb;
  while (std::getline(as, la)) {
    bool found = false;
    while (!found && std::getline(bs, lb)) found = lb == la;
    if (!found) return false;
  }
  return true;
}

TEST_CASE("every MUD file, imported into the example site policy, compiles and only adds lines") {
  const std::string site = siteExampleText();
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(MUZZLE_SOURCE_DIR) + "/tests/data/mud")) {
    if (e.path().extension() != ".json") continue;
    CAPTURE(e.path().filename().string());
    ProfileTextResult r = place(site, imported(e.path().filename().string(), "imported"), "imported");
    CHECK(!r.replaced);
    CHECK(!r.reformatted);
    CHECK(policyCompileError(r.text) == "");
    CHECK(onlyAdds(site, r.text));
  }
}

TEST_CASE("the new entry goes at the end of profiles, groups at the end of addresses") {
  const std::string site = siteExampleText();
  ProfileTextResult r = place(site, imported("cisco-Luminaire_150.json", "luminaire"), "luminaire");
  CHECK(r.groups_added == std::vector<std::string>{"mud-my-controller-luminaire"});
  CHECK(r.text.find("  voice-cloud: [\"*.voice.example\", time.vendor.example]\n"
                    "  mud-my-controller-luminaire: []  # MUD: fill in\n\nprofiles:\n") !=
        std::string::npos);
  CHECK(r.text.find("  quarantine:\n"
                    "    preset: quarantine\n"
                    "  # from MUD file https://luminaire.example.com/Luminaire_150\n"
                    "  luminaire:\n"
                    "    egress:\n"
                    "      - {allow: [fw-update.luminaire.example.com], proto: tcp, ports: [443]}"
                    "  # cl0-frdev\n"
                    "      - {allow: [mud-my-controller-luminaire], proto: udp, ports: [5684]}"
                    "  # myctl0-frdev\n"
                    "      - {allow: [local], proto: udp, ports: [5683]}  # loc0-frdev\n"
                    "\ndevices:\n") != std::string::npos);
}

TEST_CASE("importing again replaces the entry (and its comment), and a filled group is kept") {
  std::string site = siteExampleText();
  site.replace(site.find("  nvr: [198.18.1.10, fd00:1::10]\n"), 0,
               "  mud-my-controller-cam: [198.18.1.50]   # our hub\n");
  ProfileTextResult first = place(site, imported("cisco-Luminaire_150.json", "cam"), "cam");
  CHECK(first.groups_added.empty());
  CHECK(first.text.find("mud-my-controller-cam: [198.18.1.50]   # our hub\n") != std::string::npos);
  ProfileTextResult second = place(first.text, imported("nist-controllerclass-test.json", "cam"), "cam");
  CHECK(second.replaced);
  CHECK(policyCompileError(second.text) == "");
  CHECK(second.text.find("fw-update.luminaire") == std::string::npos);
  CHECK(second.text.find("# from MUD file https://luminaire") == std::string::npos);
  CHECK(second.text.find("  # from MUD file https://controller-class-test.nist.local/super1\n"
                         "  cam:\n"
                         "    egress:\n"
                         "      - {allow: [mud-controller-controller-nist-local], proto: tcp, "
                         "ports: [80]}  # ent0-frdev\n\ndevices:") != std::string::npos);
  // Replacing it with the first file again gives the first text back, with the group the second
  // one added (groups are never taken away: the site may have filled them).
  std::string third = place(second.text, imported("cisco-Luminaire_150.json", "cam"), "cam").text;
  const std::string group = "  mud-controller-controller-nist-local: []  # MUD: fill in\n";
  REQUIRE(third.find(group) != std::string::npos);
  CHECK(third.erase(third.find(group), group.size()) == first.text);
}

TEST_CASE("an entry in the middle of profiles is replaced up to the next one's comments") {
  const std::string site = siteExampleText();
  ProfileTextResult r = place(site, imported("mudmaker-cloud-service.json", "vacuum"), "vacuum");
  CHECK(r.replaced);
  CHECK(policyCompileError(r.text) == "");
  CHECK(r.text.find("203.0.113.20") == std::string::npos);
  // The vacuum's own comment stays above it; the speaker's comment and entry are untouched.
  CHECK(r.text.find("  # once domain targets are available, name them instead (addresses of "
                    "clouds change).\n"
                    "  # from MUD file https://iot-device.example.com/dnsname\n"
                    "  vacuum:\n"
                    "    egress:\n"
                    "      - {allow: [cloud-service.example.com]}  # cl0-frdev\n"
                    "\n"
                    "  # A voice assistant: its cloud by name") != std::string::npos);
}

TEST_CASE("a policy without addresses or profiles gets them; JSON text is written again as YAML") {
  const MudImport m = imported("mudmaker-my-controller.json", "hub");
  ProfileTextResult plain = place("version: 1\ndefaults: {profile: hub}\n# the end\n", m, "hub");
  CHECK(plain.text ==
        "version: 1\ndefaults: {profile: hub}\n# the end\n"
        "addresses:\n"
        "  mud-my-controller-hub: []  # MUD: fill in\n"
        "profiles:\n"
        "  # from MUD file https://iot-device.example.com/my-controller\n"
        "  hub:\n"
        "    egress:\n"
        "      - {allow: [mud-my-controller-hub]}  # myctl0-frdev\n"
        "    inbound:\n"
        "      - {allow: [mud-my-controller-hub]}  # myctl0-todev\n");
  CHECK(policyCompileError(plain.text) == "");

  const std::string json = R"({"version": 1, "profiles": {"quarantine": {"egress": [{"allow":
    ["gateway"], "proto": "udp", "ports": ["53"]}]}}, "devices": [{"name": "d", "mac":
    "44:47:cc:00:00:11", "profile": "hub"}]})";
  ProfileTextResult again = place(json, m, "hub");
  CHECK(again.reformatted);
  CHECK(again.groups_added == std::vector<std::string>{"mud-my-controller-hub"});
  CHECK_MESSAGE(policyCompileError(again.text) == "", again.text);
  CHECK(again.text.find("44:47:cc:00:00:11") != std::string::npos);
  CHECK(again.text.find("  hub:\n    egress:\n") != std::string::npos);
}

TEST_CASE("text that is not a YAML mapping is refused") {
  const MudImport m = imported("mudmaker-my-controller.json", "hub");
  ProfileText t;
  t.profile = &m.profile;
  t.name = "hub";
  CHECK(!withProfile("- a\n- b\n", t).ok());
  CHECK(!withProfile("a: [\n", t).ok());
}

TEST_CASE("an empty `profiles:` and a JSON text without profiles or addresses take the entry") {
  const MudImport m = imported("mudmaker-my-controller.json", "hub");
  ProfileTextResult empty = place("version: 1\nprofiles:\ndevices: []\n", m, "hub");
  CHECK(empty.text.find("profiles:\n  # from MUD file https://iot-device.example.com/my-controller\n"
                        "  hub:\n") != std::string::npos);
  CHECK(empty.text.find("\ndevices: []\n") != std::string::npos);
  ProfileTextResult bare = place(R"({"version": 1})", m, "hub");
  CHECK(bare.reformatted);
  CHECK(bare.text.find("mud-my-controller-hub: []") != std::string::npos);
  CHECK(bare.text.find("  hub:\n    egress:\n") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("a rule's schedule is written with it") {
  v1::Profile profile;
  v1::Rule* rule = profile.add_egress();
  rule->add_allow("203.0.113.20");
  rule->set_proto("tcp");
  rule->add_ports("443");
  rule->mutable_when()->add_days("mon-fri");
  rule->mutable_when()->set_hours("07:00-19:00");
  profile.add_egress()->add_deny("internet");
  profile.mutable_egress(1)->mutable_when()->set_hours("22:00-06:00");
  ProfileText t;
  t.profile = &profile;
  t.name = "vacuum";
  auto r = withProfile("version: 1\nprofiles:\n  quarantine: {}\n", t);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->text.find("when: {days: [mon-fri], hours: \"07:00-19:00\"}") != std::string::npos);
  CHECK(r->text.find("when: {hours: \"22:00-06:00\"}") != std::string::npos);
  auto compiled = compilePolicyText(r->text, "policy.yaml", SiteFacts{});
  REQUIRE_MESSAGE(compiled.ok(), compiled.status().message());
  CHECK((*compiled)->schedules.size() == 2);
}

}  // namespace
}  // namespace muzzle

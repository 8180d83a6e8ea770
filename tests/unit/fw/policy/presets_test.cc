// Presets by name (Profile.preset): a profile built on a shipped or local preset compiles to the
// same rules as the profile copied out of it; the site's rules come first; every way of getting
// it wrong is an error naming the place.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "fw/common/confined_file.h"
#include "fw/policy/policy_explain.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const std::string kShipped = std::string(MUZZLE_SOURCE_DIR) + "/policies";

std::string readFile(const std::string& path) {
  auto text = readRegularFile(path);
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  return *text;
}

// The line of camera-nvr-only.yaml that allows the NVR: where its first rule was written.
int nvrRuleLine() {
  const std::string text = readFile(kShipped + "/presets/camera-nvr-only.yaml");
  const size_t at = text.find("- {allow: [nvr], proto: tcp, ports: [554, 8000]}");
  REQUIRE(at != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// A box with a local preset folder next to the source tree's shipped presets.
class Box {
 public:
  Box() {
    char dir[] = "/tmp/muzzle-presets-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    top_ = dir;
    std::filesystem::create_directories(localDir());
  }
  ~Box() { std::filesystem::remove_all(top_); }

  std::string localDir() const { return top_ + "/local-presets"; }
  void writeLocal(const std::string& name, const std::string& text) const {
    std::ofstream(localDir() + "/" + name, std::ios::binary | std::ios::trunc) << text;
  }
  PolicyCompileResult compile(const std::string& text) const {
    return compilePolicyText(text, "site.yaml", SiteFacts{},
                             PolicyFolders{top_, kShipped, {localDir()}});
  }
  std::string errorOf(const std::string& text) const {
    auto result = compile(text);
    REQUIRE_FALSE(result.ok());
    return result.status().message();
  }

 private:
  std::string top_;
};

const CompiledProfile& profileNamed(const CompiledPolicy& policy, const std::string& name) {
  for (const CompiledProfile& p : policy.profiles) {
    if (p.name == name) return p;
  }
  FAIL("no profile " << name);
  return policy.profiles.front();
}

// The preset's profile, by name, in a site that defines the groups the shipped presets name.
// The preset's profile, by name, in a site whose groups hold what the preset files' own do.
std::string siteUsing(const std::string& preset) {
  return "version: 1\n"
         "addresses:\n"
         "  nvr: [198.18.1.10, fd00:1::10]\n"
         "  vendor-cloud: [\"*.vendor.example\"]\n"
         "  vendor-p2p: [\"*.p2p.example\"]\n"
         "  voice-cloud: [\"*.voice.example\"]\n"
         "profiles:\n"
         "  " +
         preset + ": {preset: " + preset + "}\n" +
         (preset == "quarantine" ? ""
                                 : "  quarantine: {egress: [{allow: [gateway], proto: udp, "
                                   "ports: [53, 67]}]}\n");
}

TEST_CASE("presets: every shipped preset by name compiles to the rules of its copied profile") {
  Box box;
  for (const char* name :
       {"camera-nvr-only", "camera-vendor-cloud", "vacuum", "speaker", "quarantine"}) {
    CAPTURE(name);
    const std::string file = kShipped + "/presets/" + name + ".yaml";
    // The preset file is itself a whole policy: its profile is what a site copied before.
    auto copied = compilePolicyText(readFile(file), "copied.yaml", SiteFacts{},
                                    PolicyFolders{kShipped, kShipped});
    REQUIRE_MESSAGE(copied.ok(), copied.status().message());
    auto by_name = box.compile(siteUsing(name));
    REQUIRE_MESSAGE(by_name.ok(), by_name.status().message());

    const CompiledProfile& a = profileNamed(**copied, name);
    const CompiledProfile& b = profileNamed(**by_name, name);
    CHECK(describeProfile(a) == describeProfile(b));
    REQUIRE(a.egress.size() == b.egress.size());
    REQUIRE(a.inbound.size() == b.inbound.size());
    for (size_t i = 0; i < a.egress.size(); ++i) {
      CHECK(a.egress[i].label == b.egress[i].label);  // the logs name the same rules
      CHECK(b.egress[i].origin.file() == file);
      CHECK(b.egress[i].origin.preset() == name);
      CHECK(b.egress[i].origin.line == a.egress[i].origin.line);
      CHECK(a.egress[i].origin.file() == "copied.yaml");
    }
    CHECK(b.preset == name);
  }
}

TEST_CASE("presets: describeRule says what the rule judges, from its compiled form") {
  Box box;
  auto policy = box.compile(siteUsing("camera-nvr-only"));
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  const CompiledProfile& p = profileNamed(**policy, "camera-nvr-only");
  CHECK(describeRule(p.egress[0]) ==
        "allow proto=tcp ports=554,8000 builtins= addresses=[] "
        "group=[198.18.1.10 fd00:1::10] names=[]");
  CHECK(describeRule(p.egress[2]) ==
        "reject proto=udp ports=1900 builtins=gateway, addresses=[239.255.255.250 ff02::c] "
        "names=[] log");
  CHECK(p.egress[0].source == "allow nvr tcp 554,8000");
  CHECK(p.egress[0].origin.line == nvrRuleLine());
}

TEST_CASE("presets: a rule's text is kept short, however many targets it names") {
  Box box;
  std::string targets;
  for (int i = 1; i <= 250; ++i) targets += (i > 1 ? ", " : "") + ("198.18.9." + std::to_string(i));
  auto policy = box.compile("version: 1\nprofiles:\n  quarantine:\n    egress:\n      - allow: [" +
                            targets + "]\n");
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  const std::string& source = profileNamed(**policy, "quarantine").egress[0].source;
  CHECK(source.starts_with("allow 198.18.9.1,198.18.9.2,"));
  CHECK(source.ends_with(" more"));
  CHECK(source.size() < 220);
}

TEST_CASE("presets: the site's own rules come first, then the preset's; otherwise is the site's") {
  Box box;
  auto policy = box.compile(
      "version: 1\n"
      "addresses: {nvr: [198.18.1.10]}\n"
      "profiles:\n"
      "  lobby-cams:\n"
      "    preset: camera-nvr-only\n"
      "    egress:\n"
      "      - {allow: [198.18.1.20], proto: tcp, ports: [21]}\n"
      "    inbound:\n"
      "      - {allow: [198.18.1.30], proto: tcp, ports: [22]}\n"
      "    otherwise: drop\n"
      "  quarantine: {}\n");
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  const CompiledProfile& p = profileNamed(**policy, "lobby-cams");
  REQUIRE(p.egress.size() == 7);
  REQUIRE(p.inbound.size() == 2);
  CHECK(p.otherwise == Action::kDrop);
  CHECK(p.egress[0].label == "profiles.lobby-cams.egress[0]");
  CHECK(p.egress[0].origin.file() == "site.yaml");
  CHECK(p.egress[0].origin.line == 7);
  CHECK(p.egress[0].origin.preset().empty());
  CHECK(p.egress[0].source == "allow 198.18.1.20 tcp 21");
  CHECK(p.egress[1].label == "profiles.lobby-cams.egress[1]");
  CHECK(p.egress[1].source == "allow nvr tcp 554,8000");
  CHECK(p.egress[1].origin.file() == kShipped + "/presets/camera-nvr-only.yaml");
  CHECK(p.egress[1].origin.line == nvrRuleLine());
  CHECK(p.egress[1].origin.preset() == "camera-nvr-only");
  // A deny of the preset takes the site's otherwise, like every deny of the profile.
  CHECK(p.egress[3].action == Action::kDrop);
  CHECK(p.inbound[0].origin.file() == "site.yaml");
  CHECK(p.inbound[1].label == "profiles.lobby-cams.inbound[1]");
  CHECK(p.inbound[1].origin.preset() == "camera-nvr-only");

  // Without its own otherwise, the profile takes the preset's.
  auto plain = box.compile(siteUsing("camera-nvr-only"));
  REQUIRE(plain.ok());
  CHECK(profileNamed(**plain, "camera-nvr-only").otherwise == Action::kReject);
}

TEST_CASE("presets: an unknown preset is an error naming it, the folders and the line") {
  Box box;
  const std::string error =
      box.errorOf("version: 1\nprofiles:\n  cams: {preset: camera-nvr-onyl}\n  quarantine: {}\n");
  CHECK(error ==
        "site.yaml:3: profiles.cams.preset: no preset \"camera-nvr-onyl\": "
        "camera-nvr-onyl.yaml is in none of " +
            box.localDir() + ", " + kShipped +
            "/presets; check the name, or add a folder to preset_dirs in muzzled.yaml");
}

TEST_CASE("presets: a group the preset needs and the site lacks names the preset, group, line") {
  Box box;
  const std::string error = box.errorOf(
      "version: 1\nprofiles:\n  quarantine: {}\n  cams:\n    preset: camera-nvr-only\n");
  // Once, though two rules name it, at the site's line.
  CHECK(error ==
        "site.yaml:5: profiles.cams.preset: preset \"camera-nvr-only\" needs the "
        "address group \"nvr\" (" +
            kShipped +
            "/presets/camera-nvr-only.yaml:" + std::to_string(nvrRuleLine()) + ", "
            "profiles.camera-nvr-only.egress[0].allow[0]); define it under addresses "
            "in this policy");
}

TEST_CASE("presets: a preset is named, never a path") {
  Box box;
  for (const char* name : {"../presets/quarantine", "presets/quarantine", "/etc/passwd",
                           "Quarantine", "quarantine.yaml", ".."}) {
    CAPTURE(name);
    const std::string error = box.errorOf(std::string("version: 1\nprofiles:\n  quarantine: ") +
                                          "{preset: \"" + name + "\"}\n");
    CHECK(error.find("site.yaml:3: profiles.quarantine.preset: ") == 0);
    CHECK(error.find("is not a preset name; a preset is named, never a path") != std::string::npos);
  }
  CHECK(box.errorOf("version: 1\nprofiles:\n  quarantine: {preset: " + std::string(65, 'a') + "}\n")
            .find("is not a preset name") != std::string::npos);
}

TEST_CASE("presets: a local preset overrides the shipped one of its name, and adds to them") {
  Box box;
  box.writeLocal("quarantine.yaml",
                 "version: 1\nprofiles:\n  quarantine:\n    egress:\n"
                 "      - {allow: [gateway], proto: udp, ports: [53]}\n    otherwise: drop\n");
  box.writeLocal("printer.yaml",
                 "version: 1\nprofiles:\n  printer:\n    inbound:\n"
                 "      - {allow: [office], proto: tcp, ports: [9100]}\n");
  auto policy = box.compile(
      "version: 1\naddresses: {office: [198.18.5.0/24], nvr: [198.18.1.10]}\nprofiles:\n"
      "  quarantine: {preset: quarantine}\n  printer: {preset: printer}\n"
      "  cams: {preset: camera-nvr-only}\n");
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  const CompiledProfile& q = profileNamed(**policy, "quarantine");
  REQUIRE(q.egress.size() == 1);
  CHECK(q.egress[0].origin.file() == box.localDir() + "/quarantine.yaml");
  CHECK(q.otherwise == Action::kDrop);
  const CompiledProfile& printer = profileNamed(**policy, "printer");
  REQUIRE(printer.inbound.size() == 1);
  CHECK(printer.inbound[0].origin.file() == box.localDir() + "/printer.yaml");
  CHECK(printer.inbound[0].origin.line == 5);
  // The shipped ones stay reachable next to the local ones.
  CHECK(profileNamed(**policy, "cams").egress[0].origin.file() ==
        kShipped + "/presets/camera-nvr-only.yaml");
}

TEST_CASE("presets: a preset file must be a policy with the profile of its name, not a preset") {
  Box box;
  box.writeLocal("no-profile.yaml", "version: 1\nprofiles:\n  other: {}\n");
  CHECK(box.errorOf("version: 1\nprofiles:\n  quarantine: {preset: no-profile}\n") ==
        "site.yaml:3: profiles.quarantine.preset: preset \"no-profile\" (" + box.localDir() +
            "/no-profile.yaml) has no profile \"no-profile\"; a preset file holds the profile "
            "of its own name");

  box.writeLocal("nested.yaml", "version: 1\nprofiles:\n  nested: {preset: quarantine}\n");
  CHECK(box.errorOf("version: 1\nprofiles:\n  quarantine: {preset: nested}\n") ==
        box.localDir() +
            "/nested.yaml:3: profiles.nested.preset: a preset cannot be built on another "
            "preset; copy that preset's rules here");

  // Errors inside the preset are the preset file's, with its lines.
  box.writeLocal("broken.yaml",
                 "version: 1\nprofiles:\n  broken:\n    egress:\n"
                 "      - {allow: [gateway], proto: udp, ports: [70000]}\n    colour: red\n");
  const std::string error = box.errorOf("version: 1\nprofiles:\n  quarantine: {preset: broken}\n");
  CHECK(error.find(box.localDir() + "/broken.yaml:6: profiles.broken") == 0);
  CHECK(error.find("colour") != std::string::npos);

  box.writeLocal("badport.yaml",
                 "version: 1\nprofiles:\n  badport:\n    egress:\n"
                 "      - {allow: [gateway], proto: udp, ports: [70000]}\n");
  // Once, though two profiles are built on it.
  CHECK(box.errorOf("version: 1\nprofiles:\n  quarantine: {preset: badport}\n"
                    "  other: {preset: badport}\n") ==
        box.localDir() +
            "/badport.yaml:5: profiles.badport.egress[0].ports[0]: 70000 is not a port");
}

TEST_CASE("presets: the digest follows the preset file, so an edited preset is a new policy") {
  Box box;
  const std::string site = "version: 1\nprofiles:\n  quarantine: {preset: mine}\n";
  box.writeLocal("mine.yaml", "version: 1\nprofiles:\n  mine: {}\n");
  auto before = box.compile(site);
  REQUIRE_MESSAGE(before.ok(), before.status().message());
  box.writeLocal("mine.yaml", "version: 1\nprofiles:\n  mine: {otherwise: drop}\n");
  auto after = box.compile(site);
  REQUIRE(after.ok());
  CHECK((*before)->digest != (*after)->digest);
}

}  // namespace
}  // namespace muzzle

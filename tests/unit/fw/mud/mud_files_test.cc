// The published MUD files in tests/data/mud/ (see its README for where they come from) import,
// and the profiles of five of them are checked rule by rule, with their reports.
#include <doctest/doctest.h>

#include <filesystem>

#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/mud/mud_test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using test::mudFile;
using test::reportLines;
using test::ruleLines;

MudImport imported(const std::string& file, const std::string& profile = "dev") {
  auto r = importMud(mudFile(file), profile);
  REQUIRE_MESSAGE(r.ok(), file << ": " << r.status().message());
  return *r;
}

TEST_CASE("every MUD file of tests/data/mud imports, and every rule says where it came from") {
  size_t files = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(MUZZLE_SOURCE_DIR) + "/tests/data/mud")) {
    if (e.path().extension() != ".json") continue;
    ++files;
    CAPTURE(e.path().filename().string());
    MudImport m = imported(e.path().filename().string());
    CHECK(!m.metadata.mud_url.empty());
    CHECK(m.profile.egress_size() > 0);
    CHECK(m.egress_sources.size() == static_cast<size_t>(m.profile.egress_size()));
    CHECK(m.inbound_sources.size() == static_cast<size_t>(m.profile.inbound_size()));
    for (const MudRuleSource& s : m.egress_sources) CHECK(s.path.find(".ace[") != std::string::npos);
    for (const MudReport& r : m.reports) CHECK(!r.message.empty());
  }
  CHECK(files == 11);
}

TEST_CASE("RFC 8520: the Cisco luminaire (names, my-controller, local-networks, udp ports)") {
  MudImport m = imported("cisco-Luminaire_150.json", "luminaire");
  CHECK(m.dialect == "rfc8520");
  CHECK(ruleLines(m.profile.egress()) ==
        "allow fw-update.luminaire.example.com tcp 443\n"
        "allow mud-my-controller-luminaire udp 5684\n"
        "allow local udp 5683\n");
  CHECK(m.profile.inbound_size() == 0);
  CHECK(m.egress_sources[1].ace == "myctl0-frdev");
  CHECK(m.site_groups == std::vector<std::string>{"mud-my-controller-luminaire"});
  // The to-device entries are the replies (a source port only): Muzzle tracks connections.
  CHECK(reportLines(m) ==
        "implied ietf-access-control-list:acls.acl[0].aces.ace[0]: replies of connections the "
        "device opens to fw-update.luminaire.example.com (egress[0]): Muzzle lets a connection's "
        "replies pass\n"
        "implied ietf-access-control-list:acls.acl[0].aces.ace[1]: replies of connections the "
        "device opens to mud-my-controller-luminaire (egress[1]): Muzzle lets a connection's "
        "replies pass\n"
        "implied ietf-access-control-list:acls.acl[0].aces.ace[2]: replies of connections the "
        "device opens to local (egress[2]): Muzzle lets a connection's replies pass\n"
        "widened ietf-access-control-list:acls: the file's ACLs are IPv4 only; Muzzle rules "
        "naming DNS names, groups or built-ins also match IPv6\n");
  CHECK(m.metadata.mud_url == "https://luminaire.example.com/Luminaire_150");
  CHECK(m.metadata.cache_validity_hours == 48);
  CHECK(m.metadata.is_supported == true);
  CHECK(m.metadata.systeminfo == "MUD-enabled Luminaire");
  CHECK(defaultMudProfileName(m.metadata) == "luminaire-150");
}

TEST_CASE("draft format: osMUD's Nest (access-lists, acl-name, port ranges, mud-acl, v4 and v6)") {
  MudImport m = imported("osmud-MUDFILE.NEST-draft-format.json", "nest");
  CHECK(m.dialect == "draft");
  // The v6 ACLs repeat the v4 ones: one rule each.
  CHECK(ruleLines(m.profile.egress()) ==
        "allow nest.com tcp 9543\n"
        "allow mud-my-controller-nest\n"
        "allow mud-mfg-mplaunchpad-com\n");
  CHECK(ruleLines(m.profile.inbound()) ==
        "allow mud-my-controller-nest\n"
        "allow mud-mfg-mplaunchpad-com\n");
  CHECK(m.site_groups ==
        std::vector<std::string>{"mud-my-controller-nest", "mud-mfg-mplaunchpad-com"});
  CHECK(reportLines(m).find("widened") == std::string::npos);  // both families are there
  CHECK(m.metadata.systeminfo == "https://en.wikipedia.org/wiki/Nest_learning_thermostat");
  CHECK(!m.metadata.mud_version.has_value());
}

TEST_CASE("draft format, IPv6 only: the osMUD lightbulb (range-or-operator, direction-initiated)") {
  MudImport m = imported("osmud-lightbulb2000-draft-format.json");
  CHECK(ruleLines(m.profile.egress()) == "allow service.bms.example.com tcp 443\n");
  CHECK(m.profile.inbound_size() == 0);
  const std::string reports = reportLines(m);
  CHECK(reports.find("implied ietf-access-control-list:access-lists.acl[0].access-list-entries."
                     "ace[0]: replies of connections the device opens to "
                     "service.bms.example.com") != std::string::npos);
  CHECK(reports.find("IPv6 only") != std::string::npos);
}

TEST_CASE("controller: the NIST controller-class file names a group the site fills") {
  MudImport m = imported("nist-controllerclass-test.json");
  CHECK(ruleLines(m.profile.egress()) == "allow mud-controller-controller-nist-local tcp 80\n");
  CHECK(m.site_groups == std::vector<std::string>{"mud-controller-controller-nist-local"});
  CHECK(m.metadata.mfg_name == "NIST");
  CHECK(m.metadata.model_name == "super1");
  CHECK(m.metadata.documentation == "https://www.nist.gov");
}

TEST_CASE("dnsname: a cloud by name goes out; the cloud cannot be let in by name, and says so") {
  MudImport m = imported("mudmaker-cloud-service.json");
  CHECK(ruleLines(m.profile.egress()) == "allow cloud-service.example.com\n");
  CHECK(m.profile.inbound_size() == 0);
  CHECK(reportLines(m) ==
        "not-imported ietf-access-control-list:acls.acl[0].aces.ace[0]: connections opened by "
        "\"cloud-service.example.com\" to the device: Muzzle's inbound rules name addresses, not DNS "
        "names (a name is known only from the device's own lookups); not imported\n"
        "not-imported ietf-access-control-list:acls.acl[2].aces.ace[0]: connections opened by "
        "\"cloud-service.example.com\" to the device: Muzzle's inbound rules name addresses, not DNS "
        "names (a name is known only from the device's own lookups); not imported\n");
}

TEST_CASE("direction-initiated to-device: local networks may open the device's port 80") {
  MudImport m = imported("nist-local-and-same-mfg-test.json", "super1");
  CHECK(ruleLines(m.profile.egress()) ==
        "allow www.nist.local tcp 443\n"
        "allow mud-mfg-local-and-same-mfg-test-nist-local\n");
  CHECK(ruleLines(m.profile.inbound()) ==
        "allow local tcp 80\n"
        "allow mud-mfg-local-and-same-mfg-test-nist-local\n");
}

TEST_CASE("manufacturer and model name groups; an unknown container is reported, not dropped") {
  CHECK(ruleLines(imported("nist-mfg-test.json").profile.egress()) ==
        "allow mud-mfg-toothbrush-nist-local udp 8008\n"
        "allow mud-mfg-hairbrush-nist-local tcp 8010\n");
  CHECK(ruleLines(imported("nist-model-test.json").profile.egress()) ==
        "allow mud-model-toothbrush-nist-local-super1 udp 8008\n"
        "allow mud-model-hairbrush-nist-local-super1 tcp 8010\n");
  CHECK(reportLines(imported("nist-quarantine-test.json"))
            .find("not-imported ietf-mud:mud.nist-mud:quarantined-device-policy: not used by "
                  "Muzzle") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

// The compiler's errors, structured: one diagnostic per error with the file, the line the field
// is on and the field path, in file order; the Status says the same, one per line.
#include <doctest/doctest.h>

#include <string>

#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("a policy with two errors gives two diagnostics, in file order, as its Status reads") {
  // Lines are numbered from 1 at the line that follows R"(.
  const auto result = compilePolicyText(R"(version: 1
devices:
  - {name: cam, mac: "zz:47:cc:12:34:56"}
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53-52]}]}
)",
                                        "p.yaml", SiteFacts{});
  REQUIRE_FALSE(result.ok());
  const auto& d = result.diagnostics();
  REQUIRE(d.size() == 2);
  CHECK(d[0] == Diagnostic{"p.yaml", 3, "devices[0].mac",
                           "\"zz:47:cc:12:34:56\" is not an Ethernet address (e.g. "
                           "\"44:47:cc:12:34:56\")"});
  CHECK(d[1] == Diagnostic{"p.yaml", 5, "profiles.quarantine.egress[0].ports[0]",
                           "53-52 is not a port range (the low port comes first)"});
  CHECK(result.status().message() == d[0].text() + "\n" + d[1].text());
}

TEST_CASE("a missing key has no line, and comes first") {
  const auto result =
      compilePolicyText("profiles: {quarantine: {otherwise: maybe}}\n", "p.yaml", SiteFacts{});
  REQUIRE(result.diagnostics().size() == 2);
  CHECK(result.diagnostics()[0] ==
        Diagnostic{"p.yaml", 0, "version", "missing; start the file with \"version: 1\""});
  CHECK(result.diagnostics()[1].line == 1);
  CHECK(result.diagnostics()[1].field == "profiles.quarantine.otherwise");
}

TEST_CASE("errors of the YAML walk are diagnostics too, and so is an unreadable file") {
  const auto walk = compilePolicyText("version: 1\nprofiles: []\n", "p.yaml", SiteFacts{});
  REQUIRE(walk.diagnostics().size() == 1);
  CHECK(walk.diagnostics()[0] ==
        Diagnostic{"p.yaml", 2, "profiles", "expected a mapping, found a list"});

  const auto missing = compilePolicyFile("/nonexistent/muzzle/policy.yaml", SiteFacts{}, "");
  REQUIRE(missing.diagnostics().size() == 1);
  CHECK(missing.diagnostics()[0].file == "/nonexistent/muzzle/policy.yaml");
  CHECK(missing.diagnostics()[0].line == 0);
  CHECK(missing.status().message() ==
        "/nonexistent/muzzle/policy.yaml: cannot read the policy file (missing or unreadable)");
}

TEST_CASE("withCode changes the code and keeps the diagnostics") {
  const auto result = compilePolicyText("version: 2\n", "p.yaml", SiteFacts{});
  REQUIRE_FALSE(result.ok());
  const auto coded = result.withCode(StatusCode::kInvalidArgument);
  CHECK(coded.status().code() == StatusCode::kInvalidArgument);
  CHECK(coded.status().message() == result.status().message());
  CHECK(coded.diagnostics() == result.diagnostics());
}

}  // namespace
}  // namespace muzzle

// Validate answers with the compiler's diagnostics as violations, field for field, and an apply
// refused for them carries them the same way: nothing is read back out of the error text.
#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

TEST_CASE_FIXTURE(SeededBox,
                  "validate: two errors are two violations with their file, line and field") {
  // A profile name with a space: its field path has a space too, which no reading of the text
  // "file:line: field: message" can tell from the message.
  auto bad = box.validate(R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [70000]}]}
  "my cam": {}
)");
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->valid);
  REQUIRE(bad->violations.size() == 2);
  CHECK(bad->violations[0].file() == "policy.yaml");
  CHECK(bad->violations[0].line() == 3);
  CHECK(bad->violations[0].field() == "profiles.quarantine.egress[0].ports[0]");
  CHECK(bad->violations[0].message() == "70000 is not a port");
  CHECK(bad->violations[1].file() == "policy.yaml");
  CHECK(bad->violations[1].line() == 4);
  CHECK(bad->violations[1].field() == "profiles.my cam");
  CHECK(bad->violations[1].message() ==
        "\"my cam\" is not a valid profile name (use letters, digits, _ . -)");
}

TEST_CASE_FIXTURE(SeededBox, "validate: an error about the whole file has no line and no field") {
  auto empty = box.validate("# nothing\n");
  REQUIRE(empty.ok());
  REQUIRE(empty->violations.size() == 1);
  CHECK(empty->violations[0].file() == "policy.yaml");
  CHECK(empty->violations[0].line() == 0);
  CHECK(empty->violations[0].field().empty());
  CHECK(empty->violations[0].message() == "the file is empty (expected a mapping of fields)");
}

TEST_CASE_FIXTURE(SeededBox,
                  "apply: a policy that does not compile is refused with its violations") {
  const CommitReply reply = box.applyReply(R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [70000]}]}
  "my cam": {}
)");
  REQUIRE_FALSE(reply.outcome.ok());
  CHECK(reply.outcome.status().code() == StatusCode::kInvalidArgument);
  REQUIRE(reply.violations.size() == 2);
  CHECK(reply.violations[0].line() == 3);
  CHECK(reply.violations[0].field() == "profiles.quarantine.egress[0].ports[0]");
  CHECK(reply.violations[0].message() == "70000 is not a port");
  CHECK(reply.violations[1].field() == "profiles.my cam");
  CHECK(box.commits.current() == 1);
  // A refusal that is not about the text (a stale expected revision) has none.
  const CommitReply stale = box.applyReply(kPolicyB, 7);
  CHECK(stale.outcome.status().code() == StatusCode::kAborted);
  CHECK(stale.violations.empty());
}

TEST_CASE("toViolations copies every diagnostic as it is, the count of those left out included") {
  const std::vector<Diagnostic> diagnostics = {
      {"policy.yaml", 9, "devices[0].mac", "\"x\" is not an Ethernet address"},
      {"policy.yaml", 0, "", "3 more errors not shown; fix these first"},
      {"", 0, "", "segment lan: no interface eth9"}};
  const auto violations = toViolations(diagnostics);
  REQUIRE(violations.size() == 3);
  CHECK(violations[0].line() == 9);
  CHECK(violations[0].field() == "devices[0].mac");
  CHECK(violations[1].file() == "policy.yaml");
  CHECK(violations[1].message() == "3 more errors not shown; fix these first");
  CHECK(violations[2].file().empty());
  CHECK(violations[2].message() == "segment lan: no interface eth9");
}

}  // namespace
}  // namespace muzzle

// MudService.ImportMud through a real gRPC server on a unix socket (a local admin), over a Box
// (store, audit, committer) whose fake engine runs posted work on the test's thread: preview,
// apply (revision and audit entry), errors with the JSON path, a stale expected revision.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "muzzle/v1/mud.grpc.pb.h"
#include "tests/unit/fw/mud/mud_test_support.h"
#include "tests/unit/mgmt/server/local_api.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

constexpr const char* kSite = R"(version: 1
# the site's own comment
addresses:
  nvr: [198.18.1.10]
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
)";

struct MudServer {
  MudServer() : box(dir.path, clock) {
    REQUIRE(box.commits.boot(writeSeed(dir.path, kSite)).ok());
    api = std::make_unique<LocalApi>(box, dir.path, clock);
    stub = api->stub<v1::MudService>();
  }

  grpc::Status call(const v1::ImportMudRequest& req, v1::ImportMudResponse* resp) {
    return api->call([&](grpc::ClientContext& ctx) { return stub->ImportMud(&ctx, req, resp); });
  }

  TempDir dir;
  ManualClock clock;
  Box box;
  std::unique_ptr<LocalApi> api;
  std::unique_ptr<v1::MudService::Stub> stub;
};

v1::ImportMudRequest request(const std::string& file, bool apply, const std::string& profile = "") {
  v1::ImportMudRequest req;
  req.set_mud_file(test::mudFile(file));
  req.set_apply(apply);
  req.set_profile(profile);
  return req;
}

TEST_CASE("a preview answers the diff, metadata and reports, and changes nothing") {
  MudServer s;
  v1::ImportMudResponse r;
  grpc::Status st = s.call(request("cisco-Luminaire_150.json", false), &r);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(r.valid());
  CHECK(r.profile() == "luminaire-150");  // from the file's URL: it has no model-name
  CHECK(!r.replaced());
  CHECK(r.dialect() == "rfc8520");
  CHECK(r.base_revision() == 1);
  CHECK(r.metadata().mud_url() == "https://luminaire.example.com/Luminaire_150");
  CHECK(r.metadata().cache_validity_hours() == 48);
  CHECK(r.metadata().has_is_supported());
  CHECK(r.reports_size() == 4);
  CHECK(r.reports(0).kind() == v1::MudReport::IMPLIED);
  CHECK(r.reports(0).path() == "ietf-access-control-list:acls.acl[0].aces.ace[0]");
  CHECK(r.site_groups(0) == "mud-my-controller-luminaire-150");
  CHECK(r.groups_added(0) == "mud-my-controller-luminaire-150");
  CHECK(r.diff().find("+  mud-my-controller-luminaire-150: []") != std::string::npos);
  CHECK(r.diff().find("+      - {allow: [local], proto: udp, ports: [5683]}  # loc0-frdev") !=
        std::string::npos);
  CHECK(s.box.commits.current() == 1);
}

TEST_CASE("apply makes a revision through the committer, audited with the MUD URL") {
  MudServer s;
  v1::ImportMudResponse r;
  grpc::Status st = s.call(request("nist-controllerclass-test.json", true, "thermostat"), &r);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(r.profile() == "thermostat");
  CHECK(r.previous_revision() == 1);
  CHECK(r.revision().number() == 2);
  CHECK(r.revision().comment() == "MUD import of https://controller-class-test.nist.local/super1");
  CHECK(s.box.engine.installed.find("# the site's own comment\n") != std::string::npos);
  CHECK(s.box.engine.installed.find("  thermostat:\n    egress:\n") != std::string::npos);
  AuditChain chain = s.box.commits.auditChain();
  REQUIRE(!chain.entries.empty());
  CHECK(chain.entries.back().comment() ==
        "MUD import of https://controller-class-test.nist.local/super1");

  // The same file again: the text is the same, nothing to do.
  v1::ImportMudResponse again;
  REQUIRE(s.call(request("nist-controllerclass-test.json", true, "thermostat"), &again).ok());
  CHECK(again.unchanged());
  CHECK(again.replaced());

  // Based on a revision the box has moved past: ABORTED.
  v1::ImportMudRequest stale = request("mudmaker-my-controller.json", true, "hub");
  stale.set_expected_revision(1);
  CHECK(s.call(stale, &r).error_code() == grpc::StatusCode::ABORTED);
}

TEST_CASE("a malformed file or a bad profile name is INVALID_ARGUMENT naming where") {
  MudServer s;
  v1::ImportMudResponse r;
  v1::ImportMudRequest bad;
  bad.set_mud_file(R"({"ietf-mud:mud": {"mud-url": 7}})");
  grpc::Status st = s.call(bad, &r);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "ietf-mud:mud.mud-url: expected a string");
  st = s.call(request("nist-mfg-test.json", false, "bad name"), &r);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() ==
        "profile: \"bad name\" is not a profile name (letters, digits, '_', '.', '-')");
  CHECK(s.box.commits.current() == 1);
}

TEST_CASE("roles: a viewer may preview an import, only an admin may apply one") {
  CHECK(roleToImportMud(false) == Role::kViewer);
  CHECK(roleToImportMud(true) == Role::kAdmin);
}

}  // namespace
}  // namespace muzzle

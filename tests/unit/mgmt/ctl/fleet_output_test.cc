// The fleet's --json lines: protobuf's JSON, whatever the box's name holds.
#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include "ctl/fleet_output.pb.h"
#include "mgmt/ctl/run.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

FleetRow parseBack(const std::string& line) {
  FleetRow row;
  auto status = google::protobuf::util::JsonStringToMessage(line, &row);
  REQUIRE_MESSAGE(status.ok(), (std::string(status.ToString()) + " in " + line));
  return row;
}

TEST_CASE("a box name with quotes, backslashes and newlines gives one valid JSON line") {
  const std::string name = "gw\"1\\ \n\t\x01 end";
  muzzle::v1::GetStatusResponse status;
  status.set_version("0.1 \"quoted\"\n");
  status.set_policy_revision(7);
  Outcome outcome;
  outcome.result = std::make_shared<muzzle::v1::GetStatusResponse>(status);
  outcome.summary = "revision 7, \"detail\" \\ with\nnewline";

  const std::string line = fleetRowJson(Box{name, "unix:/run/x.sock"}, 0, outcome);
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // one line per box

  FleetRow row = parseBack(line);
  CHECK(row.box() == name);
  CHECK(row.exit() == 0);
  CHECK(row.code() == "OK");
  CHECK(row.detail() == outcome.summary);
  muzzle::v1::GetStatusResponse back;
  REQUIRE(row.result().UnpackTo(&back));
  CHECK(back.version() == status.version());
  CHECK(back.policy_revision() == 7);
}

TEST_CASE("a box that failed has its code and exit, and no result") {
  Outcome outcome;
  outcome.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no route");
  outcome.summary = "UNAVAILABLE: no route";
  FleetRow row = parseBack(fleetRowJson(Box{"gw2", "198.18.0.2:7443"}, 6, outcome));
  CHECK(row.box() == "gw2");
  CHECK(row.exit() == 6);
  CHECK(row.code() == "UNAVAILABLE");
  CHECK_FALSE(row.has_result());
}

}  // namespace
}  // namespace muzzle::ctl

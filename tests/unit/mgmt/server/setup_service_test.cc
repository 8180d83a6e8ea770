// An idle box's management API (mgmt/server/services_setup.cc, service_calls.h): GetStatus says
// idle and what to configure, calls that need an enforcing box are refused with the one message,
// Setup refuses a bad choice naming the field without handing anything over, and a box whose
// segments come from somewhere refuses Setup, naming where. The hand-over itself, the viewer's
// refusal (TLS roles) and the enforcing that follows: tests/scenario/idle_setup.sh.
#include <doctest/doctest.h>

#include "tests/unit/mgmt/server/local_api.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::Box;
using testing::LocalApi;
using testing::StateFolder;

// Records what enforce() was given; never answers (nothing here goes as far).
struct RecordingIdle : IdleBox {
  std::string lastSetupError() const override { return "the kernel said no"; }
  bool handingOver() const override { return enforced > 0; }
  void enforce(SetupChoice, std::string, std::function<void(Result<SetupDone>)>) override {
    ++enforced;
  }
  int enforced = 0;
};

struct IdleApi : StateFolder {
  Box box{dir.path, clock};
  RecordingIdle idle;
  LocalApi api{box, dir.path, clock, nullptr, &idle};
  std::unique_ptr<v1::SetupService::Stub> setup = api.stub<v1::SetupService>();

  grpc::Status ask(const v1::SetupRequest& req, v1::SetupResponse* resp) {
    return api.call([&](grpc::ClientContext& ctx) { return setup->Setup(&ctx, req, resp); });
  }
};

v1::SetupRequest choice(const std::string& segment, const std::string& uplink) {
  v1::SetupRequest req;
  req.add_segments()->set_interface(segment);
  req.add_uplinks(uplink);
  return req;
}

TEST_CASE_FIXTURE(IdleApi, "idle: GetStatus says what to configure and lists the interfaces") {
  auto status = api.stub<v1::StatusService>();
  v1::GetStatusResponse r;
  REQUIRE(api.call([&](grpc::ClientContext& ctx) {
               return status->GetStatus(&ctx, v1::GetStatusRequest{}, &r);
             }).ok());
  REQUIRE(r.has_idle());
  REQUIRE(r.idle().to_configure_size() == 3);
  CHECK(r.idle().to_configure(0).find("segments: none named") == 0);
  CHECK(r.idle().to_configure(1).find("uplink: none named") == 0);
  CHECK(r.idle().to_configure(2).find("starter.yaml") != std::string::npos);
  CHECK(r.idle().last_setup_error() == "the kernel said no");
  bool lo = false;
  for (const auto& i : r.idle().interfaces()) lo = lo || (i.name() == "lo" && i.kind() == "loopback");
  CHECK(lo);
  CHECK(r.role() == "admin");
  CHECK(r.segments_size() == 0);
}

TEST_CASE_FIXTURE(IdleApi, "idle: calls that need an enforcing box are refused, saying what to run") {
  auto devices = api.stub<v1::DeviceService>();
  v1::ListDevicesResponse listed;
  grpc::Status s = api.call([&](grpc::ClientContext& ctx) {
    return devices->ListDevices(&ctx, v1::ListDevicesRequest{}, &listed);
  });
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() == "idle: no segment configured; run muzzlectl setup");
  auto policy = api.stub<v1::PolicyService>();
  v1::ApplyPolicyRequest apply;
  apply.set_content("version: 1\n");
  v1::ApplyPolicyResponse applied;
  s = api.call([&](grpc::ClientContext& ctx) { return policy->ApplyPolicy(&ctx, apply, &applied); });
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() == "idle: no segment configured; run muzzlectl setup");
  // The interfaces are there to choose from.
  v1::ListInterfacesResponse interfaces;
  CHECK(api.call([&](grpc::ClientContext& ctx) {
             return setup->ListInterfaces(&ctx, v1::ListInterfacesRequest{}, &interfaces);
           }).ok());
  CHECK(interfaces.interfaces_size() >= 1);
}

TEST_CASE_FIXTURE(IdleApi, "idle: a bad setup is refused naming the field, and nothing is stored") {
  v1::SetupResponse r;
  grpc::Status s = ask(choice("nosuch0", "lo"), &r);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("segments[0]: \"nosuch0\" is not an interface of this box") == 0);
  CHECK(s.error_message().find("\nuplinks[0]: lo is the loopback interface") != std::string::npos);
  s = ask(choice("lo", "lo"), &r);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("uplinks[0]: \"lo\" is also segments[0]") != std::string::npos);
  v1::SetupRequest none;
  s = ask(none, &r);
  CHECK(s.error_message().find("segments: none given") == 0);
  CHECK(idle.enforced == 0);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/setup.yaml"));
}

TEST_CASE_FIXTURE(StateFolder, "a box whose segments come from a file refuses setup, naming it") {
  Box box{dir.path, clock};
  box.engine.config_.segments = {{"cameras", "br-cam"}};
  box.engine.config_.state_dir = dir.path;
  box.engine.config_.segments_from = "/etc/muzzle/muzzled.yaml";
  LocalApi api{box, dir.path, clock};
  auto setup = api.stub<v1::SetupService>();
  v1::SetupResponse r;
  grpc::Status s = api.call(
      [&](grpc::ClientContext& ctx) { return setup->Setup(&ctx, choice("eth1", "eth0"), &r); });
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find("the segments are named in /etc/muzzle/muzzled.yaml") == 0);
  box.engine.config_.segments_from = dir.path + "/setup.yaml";
  s = api.call(
      [&](grpc::ClientContext& ctx) { return setup->Setup(&ctx, choice("eth1", "eth0"), &r); });
  CHECK(s.error_message().find("this box already enforces the segments `muzzlectl setup` named") ==
        0);
}

}  // namespace
}  // namespace muzzle

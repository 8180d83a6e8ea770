// LearnService through a real gRPC server on a unix socket (a local admin), over a Box whose fake
// engine keeps a FlowRecorder and runs posted work on the test's thread: start, show, stop, bad
// input with its status codes, and a proposal previewed (diff and findings) and applied
// (revision and audit entry) on the device's own profile.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "muzzle/v1/learn.grpc.pb.h"
#include "tests/unit/mgmt/server/local_api.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

constexpr const char* kSite = R"(version: 1
# the site's own comment
profiles:
  camera:
    egress:
      - {allow: [gateway], proto: udp, ports: [53]}
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
devices:
  - {name: garage-cam, mac: "44:47:cc:00:00:12", profile: camera}
)";
constexpr const char* kCam = "44:47:cc:00:00:12";

struct LearnServer {
  LearnServer() : box(dir.path, clock) {
    REQUIRE(box.commits.boot(writeSeed(dir.path, kSite)).ok());
    api = std::make_unique<LocalApi>(box, dir.path, clock);
    stub = api->stub<v1::LearnService>();
    DeviceRecord cam;
    cam.mac = *MacAddress::parse(kCam);
    cam.profile = "camera";
    cam.assignment = "listed";
    box.engine.seen.push_back(cam);
  }
  template <typename Req, typename Resp, typename Method>
  grpc::Status call(Method method, const Req& req, Resp* resp) {
    return api->call([&](grpc::ClientContext& ctx) { return ((*stub).*method)(&ctx, req, resp); });
  }
  grpc::Status start(const std::string& mac, uint32_t seconds, v1::LearnSession* out) {
    v1::StartLearningRequest req;
    req.set_mac(mac);
    req.set_duration_seconds(seconds);
    return call(&v1::LearnService::Stub::StartLearning, req, out);
  }
  void record(const char* name, const char* address, uint16_t port, Action verdict,
              bool by_rule = false) {
    FlowAttempt a;
    a.name = name;
    a.address = *IpAddress::parse(address);
    a.protocol = 6;
    a.port = port;
    a.verdict = verdict;
    a.allowed_by_rule = by_rule;
    box.engine.learning.record(*MacAddress::parse(kCam), a);
  }

  TempDir dir;
  ManualClock clock;
  Box box;
  std::unique_ptr<LocalApi> api;
  std::unique_ptr<v1::LearnService::Stub> stub;
};

TEST_CASE("start, show and stop a session; bad input is refused with the right code") {
  LearnServer s;
  v1::LearnSession session;
  grpc::Status st = s.start("zz:47:cc:00:00:12", 3600, &session);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() ==
        "mac: \"zz:47:cc:00:00:12\" is not an Ethernet address (44:47:cc:12:34:56)");
  CHECK(s.start(kCam, 0, &session).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  st = s.start(kCam, 31 * 24 * 3600, &session);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message().find("at most 720 hours") != std::string::npos);

  st = s.start(kCam, 3600, &session);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(session.mac() == kCam);
  CHECK(session.active());
  CHECK(session.end().seconds() - session.start().seconds() == 3600);
  s.record("cloud.vendor.example", "203.0.113.10", 443, Action::kReject);

  v1::ShowLearningRequest show;
  show.set_mac(kCam);
  v1::ShowLearningResponse shown;
  REQUIRE(s.call(&v1::LearnService::Stub::ShowLearning, show, &shown).ok());
  REQUIRE(shown.flows_size() == 1);
  CHECK(shown.flows(0).target() == "cloud.vendor.example");
  CHECK(shown.flows(0).by_name());
  CHECK(shown.flows(0).proto() == "tcp");
  CHECK(shown.flows(0).port() == 443);
  CHECK(shown.flows(0).verdict() == "reject");
  CHECK(shown.flows(0).address() == "203.0.113.10");

  v1::StopLearningRequest stop;
  stop.set_mac(kCam);
  v1::LearnSession stopped;
  REQUIRE(s.call(&v1::LearnService::Stub::StopLearning, stop, &stopped).ok());
  CHECK_FALSE(stopped.active());
  CHECK(s.call(&v1::LearnService::Stub::StopLearning, stop, &stopped).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  show.set_mac("44:47:cc:00:00:99");
  CHECK(s.call(&v1::LearnService::Stub::ShowLearning, show, &shown).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("a proposal is previewed with its findings, then applied as a revision") {
  LearnServer s;
  v1::LearnSession session;
  REQUIRE(s.start(kCam, 3600, &session).ok());
  s.record("cloud.vendor.example", "203.0.113.10", 443, Action::kReject);
  s.record("", "192.0.2.99", 443, Action::kReject);

  v1::ProposeProfileRequest req;
  req.set_mac(kCam);
  v1::ProposeProfileResponse r;
  grpc::Status st = s.call(&v1::LearnService::Stub::ProposeProfile, req, &r);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(r.valid());
  CHECK(r.profile() == "camera");  // the device's own
  CHECK(r.replaced());
  CHECK(r.flows_used() == 1);
  REQUIRE(r.findings_size() == 1);
  CHECK(r.findings(0).kind() == "hard-coded-ip");
  CHECK(r.findings(0).target() == "192.0.2.99");
  CHECK(r.diff().find("+      - {allow: [cloud.vendor.example], proto: tcp, ports: [443]}  # "
                      "learned: 1 connection") != std::string::npos);
  CHECK(r.diff().find("192.0.2.99") == std::string::npos);
  CHECK(s.box.commits.current() == 1);

  req.set_apply(true);
  st = s.call(&v1::LearnService::Stub::ProposeProfile, req, &r);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(r.revision().number() == 2);
  CHECK(r.revision().comment() == std::string("learning proposal for ") + kCam);
  CHECK(s.box.engine.installed.find("# the site's own comment\n") != std::string::npos);
  CHECK(s.box.engine.installed.find("cloud.vendor.example") != std::string::npos);

  // A device on the default profile needs a profile named for it.
  s.box.engine.seen[0].assignment = "default";
  s.box.engine.seen[0].profile = "quarantine";
  req.set_apply(false);
  CHECK(s.call(&v1::LearnService::Stub::ProposeProfile, req, &r).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
  req.set_profile("bad name");
  CHECK(s.call(&v1::LearnService::Stub::ProposeProfile, req, &r).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  req.set_profile("garage-cam");
  REQUIRE(s.call(&v1::LearnService::Stub::ProposeProfile, req, &r).ok());
  CHECK_FALSE(r.replaced());
  CHECK(r.diff().find("+  garage-cam:") != std::string::npos);
}

TEST_CASE("roles: an operator may preview a proposal, only an admin may apply one") {
  CHECK(roleToProposeProfile(false) == Role::kOperator);
  CHECK(roleToProposeProfile(true) == Role::kAdmin);
}

}  // namespace
}  // namespace muzzle

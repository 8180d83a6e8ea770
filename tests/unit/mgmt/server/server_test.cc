// The pieces of the server that need no network: status translation, listen-address check,
// role parsing, fleet files.
#include "mgmt/server/server.h"

#include <doctest/doctest.h>

#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/convert.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("every muzzle status code maps to its gRPC code, unclassified errors to INTERNAL") {
  CHECK(toGrpc(Status()).ok());
  CHECK(toGrpc(Status::error(StatusCode::kInvalidArgument, "x")).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(toGrpc(Status::error(StatusCode::kAborted, "x")).error_code() == grpc::StatusCode::ABORTED);
  CHECK(toGrpc(Status::error(StatusCode::kFailedPrecondition, "x")).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(toGrpc(Status::error(StatusCode::kPermissionDenied, "x")).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  CHECK(toGrpc(Status::error(StatusCode::kUnauthenticated, "x")).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(toGrpc(Status::error(StatusCode::kNotFound, "x")).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  CHECK(toGrpc(Status::error("disk full")).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(toGrpc(Status::error("disk full")).error_message() == "disk full");
}

TEST_CASE("a policy's violations travel in the error details and muzzlectl prints them one by one") {
  std::vector<v1::Violation> violations(2);
  violations[0].set_file("policy.yaml");
  violations[0].set_line(3);
  violations[0].set_field("profiles.cam.egress[0].ports[0]");
  violations[0].set_message("70000 is not a port");
  violations[1].set_file("policy.yaml");
  violations[1].set_message("the file is empty (expected a mapping of fields)");
  const Status refused = Status::error(StatusCode::kInvalidArgument, "policy.yaml:3: ...");
  const grpc::Status s = toGrpc(refused, violations);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "policy.yaml:3: ...");

  auto read = ctl::violationsOf(s);
  REQUIRE(read.has_value());
  REQUIRE(read->violations_size() == 2);
  CHECK(read->violations(0).line() == 3);
  CHECK(read->violations(0).field() == "profiles.cam.egress[0].ports[0]");
  CHECK(read->violations(1).line() == 0);

  const ctl::Outcome o = ctl::failed(s);
  CHECK(o.human ==
        "error: INVALID_ARGUMENT: the policy has 2 error(s); nothing was changed\n"
        "policy.yaml:3: profiles.cam.egress[0].ports[0]: 70000 is not a port\n"
        "policy.yaml: the file is empty (expected a mapping of fields)\n");
  CHECK(o.summary ==
        "INVALID_ARGUMENT: 2 error(s) in the policy, first: "
        "policy.yaml:3: profiles.cam.egress[0].ports[0]: 70000 is not a port");
  REQUIRE(o.result != nullptr);
  CHECK(ctl::toJson(*o.result, false).find("\"line\":3") != std::string::npos);
  CHECK(ctl::exitCodeOf(o.status) == ctl::kExitInvalid);
}

TEST_CASE("a refusal without violations carries no details, and an OK stays OK") {
  CHECK(toGrpc(Status(), {}).ok());
  const grpc::Status plain = toGrpc(Status::error(StatusCode::kAborted, "stale"), {});
  CHECK(plain.error_details().empty());
  CHECK_FALSE(ctl::violationsOf(plain).has_value());
  CHECK(ctl::failed(plain).human == "error: ABORTED: stale\n");
  CHECK(ctl::failed(plain).result == nullptr);
}

TEST_CASE("the management listener refuses wildcards and managed segments' addresses") {
  const std::vector<std::string> segs = {"198.18.10.1", "fd00:10::1"};
  CHECK(*checkListenAddress("198.18.0.1:7443", segs) == "198.18.0.1:7443");
  CHECK(*checkListenAddress("[fd00:99::1]:7443", segs) == "[fd00:99::1]:7443");
  auto seg = checkListenAddress("198.18.10.1:7443", {"198.18.10.1"});
  CHECK(seg.status().code() == StatusCode::kInvalidArgument);
  CHECK(seg.status().message() ==
        "management.tcp.listen: \"198.18.10.1:7443\" is 198.18.10.1, an address of a managed "
        "segment's "
        "interface; management never listens where the IoT devices are");
  CHECK(checkListenAddress("[fd00:10::1]:7443", {"fd00:10::1"}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("0.0.0.0:7443", {}).status().code() == StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("[::]:7443", {}).status().code() == StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("mgmt.example:7443", {}).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("every spelling of a segment's address or a wildcard is seen through") {
  const std::vector<std::string> segs = {"198.18.10.1", "fd00:10::1"};
  // Each of these is a segment address or a wildcard in another spelling the C library accepts.
  for (const char* listen : {
           "[::ffff:198.18.10.1]:7443",  // IPv4-mapped IPv6
           "[::FFFF:c612:0a01]:7443",    // the same, in hex and upper case
           "[0:0:0:0:0:ffff:198.18.10.1]:7443",
           "198.18.2561:7443",            // a.b.c: the last part is 16 bits
           "3323070977:7443",             // one 32-bit number
           "0xc6.0x12.0x0a.0x01:7443",    // hex parts
           "0306.022.012.01:7443",        // octal parts
           "[fd00:10:0:0:0:0:0:1]:7443",  // IPv6 written out
           "[FD00:10::0001]:7443",
           "[::ffff:0.0.0.0]:7443",  // mapped wildcard
           "[0:0::0]:7443",          // IPv6 wildcard, spelled out
           "[::0]:7443",
           "0:7443",  // 0.0.0.0
           "0.0:7443",
           "[::ffff:0:0]:7443",
       }) {
    CAPTURE(listen);
    CHECK(checkListenAddress(listen, segs).status().code() == StatusCode::kInvalidArgument);
  }
  // A mapped address of another interface is fine, and is bound in its plain IPv4 form.
  CHECK(*checkListenAddress("[::ffff:198.18.0.1]:7443", segs) == "198.18.0.1:7443");
  CHECK(*checkListenAddress("198.18.1:7443", segs) == "198.18.0.1:7443");
  CHECK(*checkListenAddress("[FD00:99:0::1]:07443", segs) == "[fd00:99::1]:7443");
  // Malformed: no port, a bare IPv6 address (gRPC would read a host on port 443), a bad port.
  for (const char* listen :
       {"198.18.0.1", "fd00:99::1", "[fd00:99::1]", "[fd00:99::1]7443",
        "198.18.0.1:", "198.18.0.1:65536", "198.18.0.1:http", " 198.18.0.1:7443", ""}) {
    CAPTURE(listen);
    CHECK(checkListenAddress(listen, segs).status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(checkListenAddress("0.0.0.0:7443", {}).status().message() ==
        "management.tcp.listen: \"0.0.0.0:7443\" listens on every interface (it means 0.0.0.0), "
        "managed "
        "segments included; give the address of a management interface");
}

TEST_CASE("roles: known names parse, unknown ones are refused; unix callers are local admins") {
  CHECK(*parseRole("viewer") == Role::kViewer);
  CHECK(parseRole("root").status().message() ==
        "\"root\" is not a role (admin, operator or viewer)");
  v1::TcpListener tcp;
  auto* b = tcp.add_roles();
  b->set_identity("ops");
  b->set_role("superuser");
  CHECK(Authorizer::create(tcp, "").status().code() == StatusCode::kInvalidArgument);
  auto a = Authorizer::create(v1::TcpListener{}, "");
  REQUIRE(a.ok());
  auto local = (*a)->identify("unix:/run/muzzle/muzzled.sock", nullptr);
  REQUIRE(local.ok());
  CHECK(local->role == Role::kAdmin);
  CHECK(local->who == "local");
  auto tcp_peer = (*a)->identify("ipv4:198.18.0.2:4000", nullptr);
  CHECK(tcp_peer.status().code() == StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace muzzle

// The pieces of the server that need no network: status translation, listen-address check,
// role parsing, fleet files.
#include <doctest/doctest.h>

#include "mgmt/server/auth.h"
#include "mgmt/server/convert.h"
#include "mgmt/server/server.h"

namespace muzzle {
namespace {

TEST_CASE("every muzzle status code maps to its gRPC code, unclassified errors to INTERNAL") {
  CHECK(toGrpc(Status()).ok());
  CHECK(toGrpc(Status::error(StatusCode::kInvalidArgument, "x")).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(toGrpc(Status::error(StatusCode::kAborted, "x")).error_code() == grpc::StatusCode::ABORTED);
  CHECK(toGrpc(Status::error(StatusCode::kFailedPrecondition, "x")).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(toGrpc(Status::error(StatusCode::kPermissionDenied, "x")).error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(toGrpc(Status::error(StatusCode::kUnauthenticated, "x")).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(toGrpc(Status::error(StatusCode::kNotFound, "x")).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(toGrpc(Status::error("disk full")).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(toGrpc(Status::error("disk full")).error_message() == "disk full");
}

TEST_CASE("the management listener refuses wildcards and managed segments' addresses") {
  CHECK(checkListenAddress("198.18.0.1:7443", {"198.18.10.1", "fd00:10::1"}).ok());
  CHECK(checkListenAddress("[fd00:99::1]:7443", {"198.18.10.1", "fd00:10::1"}).ok());
  Status seg = checkListenAddress("198.18.10.1:7443", {"198.18.10.1"});
  CHECK(seg.code() == StatusCode::kInvalidArgument);
  CHECK(seg.message() == "management.tcp.listen: 198.18.10.1:7443 is on a managed segment's interface; "
                         "management never listens where the IoT devices are");
  CHECK(checkListenAddress("[fd00:10::1]:7443", {"fd00:10::1"}).code() == StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("0.0.0.0:7443", {}).code() == StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("[::]:7443", {}).code() == StatusCode::kInvalidArgument);
  CHECK(checkListenAddress("mgmt.example:7443", {}).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("roles: known names parse, unknown ones are refused; unix callers are local admins") {
  CHECK(*parseRole("viewer") == Role::kViewer);
  CHECK(parseRole("root").status().message() == "\"root\" is not a role (admin, operator or viewer)");
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

// muzzlectl's words for failures that happen before any call runs.
#include "mgmt/ctl/output.h"

#include <doctest/doctest.h>

namespace muzzle::ctl {
namespace {

TEST_CASE("a local connection the box closed at once says who may use the socket") {
  grpc::Status closed(grpc::StatusCode::UNAVAILABLE,
                      "failed to connect to all addresses; last error: UNAVAILABLE: "
                      "unix:/run/muzzle/muzzled.sock: Broken pipe");
  CHECK(hintFor(closed).find("this user may not use its management socket") != std::string::npos);
  CHECK(exitCodeOf(closed) == kExitUnreachable);
  // A socket that is not there is not a refusal.
  grpc::Status missing(grpc::StatusCode::UNAVAILABLE,
                       "failed to connect to all addresses; last error: UNKNOWN: "
                       "unix:/run/muzzle/muzzled.sock: No such file or directory");
  CHECK(hintFor(missing).empty());
}

TEST_CASE("a failed TLS handshake points at --ca, --server-name and the client certificate") {
  grpc::Status tls(grpc::StatusCode::UNAVAILABLE,
                   "failed to connect to all addresses; last error: UNKNOWN: ipv4:198.18.1.1:7443: "
                   "Ssl handshake failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate "
                   "verify failed");
  CHECK(hintFor(tls).find("check --ca, --server-name") != std::string::npos);
  CHECK(hintFor(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate")).empty());
}

}  // namespace
}  // namespace muzzle::ctl

// muzzlectl's words for failures: before any call runs, and the errors a box sends back.
#include "mgmt/ctl/output.h"

#include <doctest/doctest.h>
#include <google/protobuf/duration.pb.h>

#include "google/rpc/status.pb.h"
#include "mgmt/ctl/invocation.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

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

TEST_CASE("error details that are not a google.rpc.Status, or hold no violations, are ignored") {
  grpc::Status garbage(grpc::StatusCode::INVALID_ARGUMENT, "bad", std::string("\xff\xff\x01", 3));
  CHECK_FALSE(violationsOf(garbage).has_value());
  CHECK(failed(garbage).human == "error: INVALID_ARGUMENT: bad\n");
  google::rpc::Status other;  // details of another kind: a Duration, say
  other.set_code(3);
  google::protobuf::Duration d;
  d.set_seconds(5);
  other.add_details()->PackFrom(d);
  grpc::Status foreign(grpc::StatusCode::INVALID_ARGUMENT, "bad", other.SerializeAsString());
  CHECK_FALSE(violationsOf(foreign).has_value());
}

TEST_CASE("a violation prints as file:line: field: message, leaving out what is unknown") {
  v1::Violation v;
  v.set_file("policy.yaml");
  v.set_message("m");
  CHECK(violationLine(v) == "policy.yaml: m");
  v.set_line(9);
  CHECK(violationLine(v) == "policy.yaml:9: m");
  v.set_field("devices[0].mac");
  CHECK(violationLine(v) == "policy.yaml:9: devices[0].mac: m");
}

}  // namespace
}  // namespace muzzle::ctl

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

TEST_CASE("byte counts read as people write them, in powers of 1000") {
  CHECK(byteText(0) == "0 B");
  CHECK(byteText(999) == "999 B");
  CHECK(byteText(1000) == "1.0 kB");
  CHECK(byteText(12345) == "12.3 kB");
  CHECK(byteText(999949) == "999.9 kB");
  CHECK(byteText(999950) == "1.0 MB");  // not "1000.0 kB"
  CHECK(byteText(30000000) == "30.0 MB");
  CHECK(byteText(UINT64_MAX) == "18.4 EB");
}

}  // namespace
}  // namespace muzzle::ctl

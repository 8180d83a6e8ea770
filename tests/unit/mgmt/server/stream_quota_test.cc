// Stream accounting: per client and in total, released however a stream ends.
#include "mgmt/server/stream_quota.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("a client gets its streams up to its limit, then RESOURCE_EXHAUSTED naming the key") {
  StreamQuota quota(StreamLimits{3, 100});
  std::vector<StreamQuota::Lease> held;
  for (int i = 0; i < 3; ++i) {
    auto lease = quota.acquire("dash");
    REQUIRE(lease.ok());
    held.push_back(std::move(lease).value());
  }
  auto refused = quota.acquire("dash");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kResourceExhausted);
  CHECK(refused.status().message() ==
        "dash already holds 3 streams open, its limit (management.max_streams_per_client: 3 in "
        "muzzled.yaml); close one first, or raise the limit");
  // Another client is not held back by dash's streams.
  CHECK(quota.acquire("alice").ok());
  CHECK(quota.openBy("dash") == 3);
  CHECK(quota.open() == 3);  // alice's lease above was a temporary, released at once
}

TEST_CASE("the total limit holds across clients") {
  StreamQuota quota(StreamLimits{10, 4});
  std::vector<StreamQuota::Lease> held;
  for (const char* who : {"a", "b", "c", "d"})
    held.push_back(std::move(quota.acquire(who)).value());
  auto refused = quota.acquire("e");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "muzzled already serves 4 streams, its limit (management.max_streams: 4 in muzzled.yaml); "
        "try again once others close, or raise the limit");
  held.pop_back();
  CHECK(quota.acquire("e").ok());
}

TEST_CASE("a lease gives its slot back when destroyed, released or moved from") {
  StreamQuota quota(StreamLimits{2, 2});
  {
    auto a = std::move(quota.acquire("dash")).value();
    StreamQuota::Lease b = std::move(quota.acquire("dash")).value();
    CHECK(quota.open() == 2);
    StreamQuota::Lease moved = std::move(a);  // one slot, now held by `moved`
    CHECK(quota.open() == 2);
    CHECK_FALSE(a.held());  // NOLINT(bugprone-use-after-move): the moved-from lease is empty
    b.release();
    b.release();  // twice is harmless
    CHECK(quota.open() == 1);
    moved = StreamQuota::Lease();  // assigning over a held lease releases it
    CHECK(quota.open() == 0);
    CHECK(quota.openBy("dash") == 0);
  }
  CHECK(quota.open() == 0);
  // After every stream closed, the client gets its full allowance again.
  auto x = quota.acquire("dash");
  auto y = quota.acquire("dash");
  CHECK((x.ok() && y.ok()));
}

TEST_CASE("streams are counted by certificate identity, 'local' for the socket, else the peer") {
  CHECK(clientOf(Principal{Role::kViewer, "dash", "ipv4:198.18.1.10:5000"}) == "dash");
  CHECK(clientOf(Principal{Role::kAdmin, "local", "unix"}) == "local");
  CHECK(clientOf(Principal{Role::kNone, "", "ipv4:198.18.1.10:5000"}) ==
        "peer ipv4:198.18.1.10:5000");
  v1::Management m;
  CHECK(streamLimitsOf(m).per_client == 16);
  CHECK(streamLimitsOf(m).total == 256);
  m.set_max_streams_per_client(2);
  m.set_max_streams(5);
  CHECK(streamLimitsOf(m).per_client == 2);
  CHECK(streamLimitsOf(m).total == 5);
}

}  // namespace
}  // namespace muzzle

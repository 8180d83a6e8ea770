// One muzzled per network namespace: the second taker of the lock is refused and told who holds
// it; the lock is free again once its holder is gone.
#include "mgmt/server/instance_lock.h"

#include <doctest/doctest.h>
#include <unistd.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("the instance lock is taken once; a second taker learns the holder's pid") {
  // A name of this test run's own, so it never meets a muzzled of this namespace.
  const std::string name = "muzzled-test-" + std::to_string(::getpid());
  {
    auto first = InstanceLock::acquire(name);
    REQUIRE(first.ok());
    auto second = InstanceLock::acquire(name);
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == StatusCode::kFailedPrecondition);
    const std::string& msg = second.status().message();
    CHECK(msg.rfind("another muzzled (pid " + std::to_string(::getpid()) + ", uid " +
                        std::to_string(::getuid()) + ") runs in this network namespace",
                    0) == 0);
    CHECK(msg.find("stop it first") != std::string::npos);
    // Moving the lock keeps it held.
    InstanceLock moved = std::move(first).value();
    CHECK_FALSE(InstanceLock::acquire(name).ok());
  }
  CHECK(InstanceLock::acquire(name).ok());
}

}  // namespace
}  // namespace muzzle

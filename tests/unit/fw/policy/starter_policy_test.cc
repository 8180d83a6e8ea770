// policies/starter.yaml, the policy `muzzlectl setup` starts a box with when none is given: an
// unknown device keeps working (the internet, the box's DNS), and what no home device needs is
// rejected by the rule that says so (another device on the segment, a UPnP port-forward
// request, a connection from outside).
#include <doctest/doctest.h>

#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/policy/packet_of.h"
#include "tests/unit/support/lab_site.h"
#include "tests/unit/support/site_policy.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::packet;

TEST_CASE("the starter policy: devices work, lateral movement and port forwards do not") {
  auto policy = compilePolicyFile(testing::kPoliciesDir + "/starter.yaml",
                                  testing::cameraSegmentSite(/*uplink=*/true), testing::kPoliciesDir);
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  const Endpoint cam{0, MacAddress::parse("44:47:cc:00:00:11"), false};
  const Endpoint other{0, MacAddress::parse("50:ec:50:00:00:21"), false};
  const Endpoint outside{};
  const Endpoint box{-1, std::nullopt, true};
  auto judge = [&](const PacketInfo& p, Endpoint src, Endpoint dst) {
    FlowView flow;
    flow.packet = &p;
    flow.src = src;
    flow.dst = dst;
    return decide(**policy, flow);
  };
  // An unlisted device (the default profile, `starter`) reaches the internet and the box's DNS.
  CHECK(judge(packet("198.18.10.11", "203.0.113.20", L4::kTcp, 443), cam, outside).action ==
        Action::kAllow);
  CHECK(judge(packet("198.18.10.11", "2001:db8:cafe::20", L4::kUdp, 8883), cam, outside).action ==
        Action::kAllow);
  CHECK(judge(packet("198.18.10.11", "198.18.10.1", L4::kUdp, 53), cam, box).action ==
        Action::kAllow);
  // Another device on the segment: rejected, by the rule that says so.
  auto lateral = judge(packet("198.18.10.11", "198.18.10.21", L4::kTcp, 80), cam, other);
  CHECK(lateral.action == Action::kReject);
  REQUIRE(lateral.rule != nullptr);
  CHECK(lateral.rule->label == "profiles.starter.egress[0]");
  // UPnP/SSDP towards the router: rejected.
  auto upnp = judge(packet("198.18.10.11", "239.255.255.250", L4::kUdp, 1900), cam, outside);
  CHECK(upnp.action == Action::kReject);
  // The box itself, but not for DNS, DHCP or time (its SSH): rejected.
  CHECK(judge(packet("198.18.10.11", "198.18.10.1", L4::kTcp, 22), cam, box).action ==
        Action::kReject);
  // From outside to a device: no inbound rule, rejected.
  CHECK(judge(packet("192.0.2.50", "198.18.10.11", L4::kTcp, 80), outside, cam).action ==
        Action::kReject);
}

}  // namespace
}  // namespace muzzle

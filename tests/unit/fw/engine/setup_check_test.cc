// checkSetup (fw/engine/setup_check.h): which choices of segments and uplinks an idle box takes,
// against a made-up set of interfaces. Every refusal names its field.
#include "fw/engine/setup_check.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

std::vector<HostInterface> box() {
  HostInterface lo{"lo", "", true, {"127.0.0.1/8", "::1/128"}, HostInterface::Kind::kLoopback,
                   false};
  HostInterface eth0{"eth0", "52:54:00:00:00:01", true, {"192.0.2.10/24"},
                     HostInterface::Kind::kEthernet, /*default_route=*/true};
  HostInterface eth1{"eth1", "52:54:00:00:00:02", true, {"198.18.0.1/24"},
                     HostInterface::Kind::kEthernet, false};
  HostInterface eth2{"eth2", "52:54:00:00:00:03", false, {}, HostInterface::Kind::kEthernet,
                     false};
  HostInterface mgmt{"mgmt0", "52:54:00:00:00:04", true, {"198.51.100.1/24"},
                     HostInterface::Kind::kEthernet, false};
  return {lo, eth0, eth1, eth2, mgmt};
}

std::string refusal(const SetupAsked& asked, const std::vector<ManagementListener>& listeners = {},
                    std::optional<IpAddress> caller = std::nullopt) {
  auto r = checkSetup(asked, box(), listeners, caller);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("a good choice: names filled in from the interface") {
  auto r = checkSetup({{{"", "eth1"}, {"iot", "eth2"}}, {"eth0"}}, box(), {}, std::nullopt);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->segments[0].name == "eth1");
  CHECK(r->segments[1].name == "iot");
  CHECK(r->uplinks == std::vector<std::string>{"eth0"});
  // eth2 has no link: said, not refused (devices are judged once it comes up).
  REQUIRE(r->warnings.size() == 1);
  CHECK(r->warnings[0].find("segments[1]: eth2 is down") == 0);
}

TEST_CASE("refused, each naming the field") {
  CHECK(refusal({{}, {"eth0"}}).find("segments: none given") == 0);
  const std::string unknown = refusal({{{"", "eth9"}}, {"eth0"}});
  CHECK(unknown.find("segments[0]: \"eth9\" is not an interface of this box") == 0);
  CHECK(unknown.find("it has: lo, eth0, eth1, eth2, mgmt0") != std::string::npos);
  CHECK(refusal({{{"", "lo"}}, {"eth0"}}).find("segments[0]: lo is the loopback interface") == 0);
  CHECK(refusal({{{"", "eth1"}}, {"lo"}}).find("uplinks[0]: lo is the loopback") == 0);
  CHECK(refusal({{{"", "eth1"}}, {"eth1"}}).find("uplinks[0]: \"eth1\" is also segments[0]") == 0);
  CHECK(refusal({{{"a", "eth1"}, {"b", "eth1"}}, {"eth0"}})
            .find("segments[1]: \"eth1\" is already segments[0]") == 0);
  CHECK(refusal({{{"a", "eth1"}, {"a", "eth2"}}, {"eth0"}})
            .find("segments[1].name: \"a\" is already segments[0]'s name") == 0);
  CHECK(refusal({{{"", "eth1"}}, {"eth0", "eth0"}})
            .find("uplinks[1]: \"eth0\" is already uplinks[0]") == 0);
  CHECK(refusal({{{"no spaces", "eth1"}}, {"eth0"}}).find("segments[0].name") == 0);
  CHECK(refusal({{{"", "eth9"}}, {"eth8"}}).find("\nuplinks[0]: \"eth8\"") != std::string::npos);
}

TEST_CASE("a segment never carries a management listener or the caller's own connection") {
  CHECK(refusal({{{"", "mgmt0"}}, {"eth0"}},
                {{"management.tcp.listen", "198.51.100.1:7443"}})
            .find("segments[0]: mgmt0 has 198.51.100.1, where management.tcp.listen "
                  "(198.51.100.1:7443) listens") == 0);
  CHECK(refusal({{{"", "eth1"}}, {"eth0"}}, {}, IpAddress::parse("198.18.0.77"))
            .find("segments[0]: your own connection (from 198.18.0.77) arrives through eth1") == 0);
  // A caller elsewhere, a listener elsewhere: fine.
  auto ok = checkSetup({{{"", "eth1"}}, {"eth0"}}, box(),
                       {{"management.tcp.listen", "198.51.100.1:7443"}},
                       IpAddress::parse("198.51.100.7"));
  CHECK_MESSAGE(ok.ok(), ok.status().message());
}

TEST_CASE("the interface holding the default route is warned about, and no uplink too") {
  auto r = checkSetup({{{"", "eth0"}}, {}}, box(), {}, std::nullopt);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(r->warnings.size() == 2);
  CHECK(r->warnings[0].find("segments[0]: eth0 holds the box's default route") == 0);
  CHECK(r->warnings[1].find("uplinks: none named") == 0);
}

TEST_CASE("the box's own interfaces: loopback is found, listed by name") {
  const auto list = listHostInterfaces();
  bool lo = false;
  for (const HostInterface& h : list) {
    if (h.name == "lo") {
      lo = true;
      CHECK(h.kind == HostInterface::Kind::kLoopback);
      CHECK(kindName(h.kind) == std::string("loopback"));
    }
  }
  CHECK(lo);
  for (size_t i = 1; i < list.size(); ++i) CHECK(list[i - 1].name < list[i].name);
}

}  // namespace
}  // namespace muzzle

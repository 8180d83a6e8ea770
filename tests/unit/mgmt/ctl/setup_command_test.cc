// `muzzlectl setup`, parsed without a box: --segment's two spellings, what goes with what, and
// the usage errors; the box answers the rest (tests/scenario/idle_setup.sh).
#include "mgmt/ctl/commands/setup.h"

#include <doctest/doctest.h>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/output.h"
#include "tests/unit/mgmt/ctl/parse_support.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

using testing::parse;
using testing::Parsed;

const std::string kPolicy = std::string(MUZZLE_SOURCE_DIR) + "/policies/starter.yaml";

TEST_CASE("setup: --segment IFACE or NAME=IFACE") {
  auto plain = parseSegmentArg("eth1");
  REQUIRE(plain.ok());
  CHECK(plain->name().empty());
  CHECK(plain->interface() == "eth1");
  auto named = parseSegmentArg("cameras=br-cam");
  REQUIRE(named.ok());
  CHECK(named->name() == "cameras");
  CHECK(named->interface() == "br-cam");
  CHECK(parseSegmentArg("").status().message().find("no interface") != std::string::npos);
  CHECK(parseSegmentArg("cameras=").status().message().find("no interface") != std::string::npos);
  CHECK(parseSegmentArg("=eth1").status().message().find("no name before '='") !=
        std::string::npos);
}

TEST_CASE("setup: the command lines that parse into a command") {
  for (std::vector<std::string> args : {
           std::vector<std::string>{"setup"},
           std::vector<std::string>{"setup", "--json"},
           std::vector<std::string>{"setup", "--segment", "eth1", "--uplink", "eth0"},
           std::vector<std::string>{"setup", "--segment", "cams=eth1", "--segment", "eth2",
                                    "--uplink", "eth0", "--policy", kPolicy, "--dry-run"},
       }) {
    CommandLine cli;
    CAPTURE(args.size());
    Parsed p = parse(cli, args);
    CHECK_FALSE(p.exit.has_value());
    CHECK(p.err.empty());
    CHECK(cli.invocation().command);
  }
}

TEST_CASE("setup: usage errors before any box is asked") {
  CommandLine no_segment;
  Parsed p = parse(no_segment, {"setup", "--uplink", "eth0"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("go with --segment") != std::string::npos);
  CommandLine bad;
  p = parse(bad, {"setup", "--segment", "=eth1"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("no name before '='") != std::string::npos);
  CommandLine missing;
  p = parse(missing, {"setup", "--segment", "eth1", "--policy", "/nonexistent/policy.yaml"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("--policy") != std::string::npos);
}

TEST_CASE("setup: answers split into words") {
  CHECK(wordsOf("eth1 eth2") == std::vector<std::string>{"eth1", "eth2"});
  CHECK(wordsOf(" cams=eth1,  eth2\n") == std::vector<std::string>{"cams=eth1", "eth2"});
  CHECK(wordsOf("").empty());
}

TEST_CASE("setup: the interface table marks what matters") {
  v1::ListInterfacesResponse r;
  v1::NetworkInterface* i = r.add_interfaces();
  i->set_name("eth0");
  i->set_kind("ethernet");
  i->set_up(true);
  i->set_mac("52:54:00:00:00:01");
  i->add_addresses("192.0.2.10/24");
  i->set_default_route(true);
  v1::NetworkInterface* j = r.add_interfaces();
  j->set_name("eth2");
  j->set_kind("bridge");
  const std::string t = interfaceTable(r.interfaces());
  CHECK(t.find("eth0") != std::string::npos);
  CHECK(t.find("192.0.2.10/24") != std::string::npos);
  CHECK(t.find("default route") != std::string::npos);
  CHECK(t.find("DOWN") != std::string::npos);
  CHECK(t.find("bridge") != std::string::npos);
}

}  // namespace
}  // namespace muzzle::ctl

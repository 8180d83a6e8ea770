// muzzlectl's command line, parsed without a box: where the global options may stand, and what a
// bad command line gives.
#include "mgmt/ctl/command_line.h"

#include <doctest/doctest.h>

#include <sstream>
#include <vector>

#include "mgmt/ctl/output.h"
#include "tests/unit/mgmt/ctl/parse_support.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

const std::string kPolicy = std::string(MUZZLE_SOURCE_DIR) + "/policies/site-example.yaml";

using testing::parse;
using testing::Parsed;

TEST_CASE("--json is the same before and after the command") {
  for (const auto& args : {std::vector<std::string>{"--json", "devices"},
                           std::vector<std::string>{"devices", "--json"},
                           std::vector<std::string>{"devices", "44:47:cc:00:00:11", "--json"},
                           std::vector<std::string>{"policy", "history", "--json"},
                           std::vector<std::string>{"policy", "--json", "history"}}) {
    CAPTURE(args.back());
    CommandLine cli;
    Parsed p = parse(cli, args);
    CHECK_FALSE(p.exit.has_value());
    CHECK(p.err.empty());
    CHECK(cli.invocation().options.json);
    CHECK(cli.invocation().command);
  }
  CommandLine plain;
  CHECK_FALSE(parse(plain, {"devices"}).exit.has_value());
  CHECK_FALSE(plain.invocation().options.json);
}

TEST_CASE("the box options are the same before and after the command") {
  const std::vector<std::string> globals = {
      "--socket",      "/tmp/box.sock", "--target",  "198.18.0.1:7443",
      "--targets",     "/tmp/fleet",    "--cert",    "me.pem",
      "--key",         "me.key",        "--ca",      "ca.pem",
      "--server-name", "gw1",           "--timeout", "3"};
  for (const bool after : {false, true}) {
    CAPTURE(after);
    std::vector<std::string> args = {"status"};
    args.insert(after ? args.end() : args.begin(), globals.begin(), globals.end());
    CommandLine cli;
    CHECK_FALSE(parse(cli, args).exit.has_value());
    const GlobalOptions& o = cli.invocation().options;
    CHECK(o.socket == "/tmp/box.sock");
    CHECK(o.target == "198.18.0.1:7443");
    CHECK(o.targets_file == "/tmp/fleet");
    CHECK(o.fleet());
    CHECK(o.tls.cert == "me.pem");
    CHECK(o.tls.key == "me.key");
    CHECK(o.tls.ca == "ca.pem");
    CHECK(o.tls.server_name == "gw1");
    CHECK(o.timeout_s == 3);
  }
  // After a nested command and its own options too.
  CommandLine cli;
  CHECK_FALSE(parse(cli, {"policy", "apply", kPolicy, "--confirm", "5m", "--socket", "/tmp/s",
                          "--json", "--comment", "why"})
                  .exit.has_value());
  CHECK(cli.invocation().options.socket == "/tmp/s");
  CHECK(cli.invocation().options.json);
}

TEST_CASE("the default is the local socket, no fleet, human output") {
  CommandLine cli;
  CHECK_FALSE(parse(cli, {"status"}).exit.has_value());
  CHECK(cli.invocation().options.socket == "/run/muzzle/muzzled.sock");
  CHECK_FALSE(cli.invocation().options.fleet());
  CHECK_FALSE(cli.invocation().options.json);
  CHECK_FALSE(cli.invocation().streams);
}

TEST_CASE("a bad command line is a usage error, said on stderr") {
  for (const auto& args :
       {std::vector<std::string>{}, std::vector<std::string>{"devices", "--bogus"},
        std::vector<std::string>{"policy"},
        std::vector<std::string>{"policy", "apply", "/nonexistent/policy.yaml"},
        std::vector<std::string>{"status", "--timeout", "soon"}}) {
    CAPTURE(args.size());
    CommandLine cli;
    Parsed p = parse(cli, args);
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == kExitUsage);
    CHECK_FALSE(p.err.empty());
  }
  CommandLine help;
  Parsed p = parse(help, {"devices", "--help"});
  REQUIRE(p.exit.has_value());
  CHECK(*p.exit == 0);
  CHECK(p.out.find("MAC") != std::string::npos);
}

TEST_CASE("policy apply --confirm past the API's limit is refused, not wrapped") {
  CommandLine ok;
  CHECK_FALSE(parse(ok, {"policy", "apply", kPolicy, "--confirm", "1193046h"}).exit.has_value());
  CHECK(ok.invocation().command);

  for (const char* bad : {"1193047h", "10x", "-5m", ""}) {
    CAPTURE(bad);
    CommandLine cli;
    Parsed p = parse(cli, {"policy", "apply", kPolicy, "--confirm", bad});
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == kExitUsage);
    CHECK(p.err.find("--confirm \"" + std::string(bad) + "\"") != std::string::npos);
    CHECK_FALSE(cli.invocation().command);
  }
}

TEST_CASE("events --after takes a sequence or the resume token EPOCH:SEQUENCE") {
  for (const char* good : {"7", "0", "123456789:42", "18446744073709551615:1"}) {
    CAPTURE(good);
    CommandLine cli;
    CHECK_FALSE(parse(cli, {"events", "--after", good}).exit.has_value());
    CHECK(cli.invocation().command);
  }
  for (const char* bad : {"", "x", "-1", "1:", ":1", "1:2:3", "18446744073709551616", "7 "}) {
    CAPTURE(bad);
    CommandLine cli;
    Parsed p = parse(cli, {"events", "--after", bad});
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == kExitUsage);
    CHECK(p.err.find("EPOCH:SEQUENCE") != std::string::npos);
  }
}

TEST_CASE("events streams; its options stay its own") {
  CommandLine cli;
  CHECK_FALSE(parse(cli, {"events", "-f", "--after", "7", "--json"}).exit.has_value());
  CHECK(cli.invocation().streams);
  CHECK(cli.invocation().options.json);
}

}  // namespace
}  // namespace muzzle::ctl

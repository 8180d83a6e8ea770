// `muzzlectl learn`, parsed without a box: start needs a duration that parses and is not zero,
// --confirm only with --apply; the box answers the rest (bad MAC, too long: tests/scenario/learn.sh).
#include <doctest/doctest.h>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/output.h"
#include "tests/unit/mgmt/ctl/parse_support.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

using testing::parse;
using testing::Parsed;

TEST_CASE("learn: start, stop, show and propose parse into a command") {
  for (std::vector<std::string> args : {
           std::vector<std::string>{"learn", "start", "44:47:cc:00:00:12", "--for", "24h"},
           std::vector<std::string>{"learn", "start", "44:47:cc:00:00:12", "--for", "90m", "--observe"},
           std::vector<std::string>{"learn", "stop", "44:47:cc:00:00:12"},
           std::vector<std::string>{"learn", "show", "44:47:cc:00:00:12", "--json"},
           std::vector<std::string>{"learn", "propose", "44:47:cc:00:00:12", "--profile", "garage-cam",
                                    "--apply", "--confirm", "10m", "--expect", "3"},
       }) {
    CommandLine cli;
    CAPTURE(args.size());
    CHECK_FALSE(parse(cli, args).exit.has_value());
    CHECK(cli.invocation().command);
  }
}

TEST_CASE("learn: usage errors before any box is asked") {
  CommandLine no_for;
  CHECK(parse(no_for, {"learn", "start", "44:47:cc:00:00:12"}).exit == kExitUsage);
  CommandLine zero;
  Parsed p = parse(zero, {"learn", "start", "44:47:cc:00:00:12", "--for", "0"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("at least 1s") != std::string::npos);
  CommandLine bad;
  p = parse(bad, {"learn", "start", "44:47:cc:00:00:12", "--for", "1y"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("is not a duration") != std::string::npos);
  CommandLine confirm;
  p = parse(confirm, {"learn", "propose", "44:47:cc:00:00:12", "--confirm", "10m"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("only with --apply") != std::string::npos);
}

}  // namespace
}  // namespace muzzle::ctl

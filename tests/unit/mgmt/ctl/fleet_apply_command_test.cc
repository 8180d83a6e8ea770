// `muzzlectl fleet apply` without a box: its command line, where each setting comes from, the
// confirm window check, and the exit codes of what fails before any box answers.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/commands/fleet_apply.h"
#include "mgmt/ctl/output.h"
#include "mgmt/ctl/run.h"
#include "tests/unit/mgmt/ctl/parse_support.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

using testing::parse;
using testing::Parsed;

constexpr char kPolicy[] =
    "version: 1\n"
    "defaults: {profile: quarantine}\n"
    "profiles:\n"
    "  quarantine:\n"
    "    egress: []\n";

// A fleet directory of one box behind a unix socket nobody listens on.
struct FleetDirFixture {
  explicit FleetDirFixture(const std::string& rollout = "") {
    std::ofstream(dir / "policy.yaml") << kPolicy;
    std::ofstream(dir / "fleet.yaml") << "version: 1\n"
                                         "groups:\n"
                                         "  - name: all\n"
                                         "    policy: policy.yaml\n"
                                         "boxes:\n"
                                         "  - name: gw-01\n"
                                         "    target: unix:" +
                                             (dir / "nobody.sock").string() + "\n" + rollout;
  }
  muzzle::testing::TempDir dir{"fleet_apply_test"};
};

struct Ran {
  int exit = -1;
  std::string out, err;
};

Ran runArgs(const std::vector<std::string>& args) {
  CommandLine cli;
  Parsed p = parse(cli, args);
  Ran r;
  if (p.exit) {
    r.exit = *p.exit;
    r.out = p.out;
    r.err = p.err;
    return r;
  }
  std::ostringstream out, err;
  r.exit = run(cli.invocation(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST_CASE("fleet apply parses into a command that runs itself") {
  CommandLine cli;
  Parsed p = parse(cli, {"fleet", "apply", "/srv/fleet", "--waves", "1,rest", "--confirm", "15m",
                         "--parallel", "4", "--window", "5s", "--comment", "why", "--restart",
                         "--state", "/tmp/state.json", "--json", "--timeout", "3"});
  CHECK_FALSE(p.exit.has_value());
  CHECK(p.err.empty());
  CHECK(cli.invocation().whole);
  CHECK_FALSE(cli.invocation().command);
  CHECK(cli.invocation().options.json);
  CHECK(cli.invocation().options.timeout_s == 3);
}

TEST_CASE("fleet apply: a bad command line is a usage error naming what is wrong") {
  for (const auto& [args, said] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"fleet", "apply"}, "DIR"},
           {{"fleet", "apply", "d", "--waves", "1,x"}, "\"x\""},
           {{"fleet", "apply", "d", "--waves", "rest,1"}, "last"},
           {{"fleet", "apply", "d", "--confirm", "10x"}, "--confirm \"10x\""},
           {{"fleet", "apply", "d", "--confirm", "0"}, "--confirm is 0"},
           {{"fleet", "apply", "d", "--window", "0s"}, "--window is 0"},
           {{"fleet", "apply", "d", "--parallel", "0"}, "--parallel"},
           {{"fleet", "apply", "d", "--bogus"}, "--bogus"}}) {
    const auto& said_shown = said;  // a variable for CAPTURE: clang before 16 cannot capture a binding
    CAPTURE(said_shown);
    CommandLine cli;
    Parsed p = parse(cli, args);
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == kExitUsage);
    CHECK(p.err.find(said) != std::string::npos);
    CHECK_FALSE(cli.invocation().whole);
  }
}

TEST_CASE("fleet and fleet apply --help document the exit codes") {
  for (const auto& args : {std::vector<std::string>{"fleet", "apply", "--help"},
                           std::vector<std::string>{"fleet", "--help"}}) {
    CAPTURE(args.size());
    CommandLine cli;
    Parsed p = parse(cli, args);
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == 0);
    CHECK(p.out.find("Exit codes of fleet apply") != std::string::npos);
    CHECK(p.out.find("11 the rollout halted") != std::string::npos);
    CHECK(p.out.find("130 interrupted") != std::string::npos);
  }
}

TEST_CASE("rollout settings: the command line, else fleet.yaml, else the defaults") {
  v1::Fleet file;
  FleetApplyArgs args;
  args.dir = "/srv/fleet";
  auto o = rolloutOptions(args, file);
  REQUIRE(o.ok());
  CHECK(o->waves == "1,10%,rest");
  CHECK(o->confirm_seconds == 600);
  CHECK(o->parallel == 16);
  CHECK(o->window == std::chrono::seconds(10));
  CHECK(o->deny_rate_multiple == 3.0);
  CHECK(o->deny_rate_floor == 1.0);
  CHECK_FALSE(o->restart);
  CHECK(rolloutStatePath(args) == "/srv/fleet/.fleet-rollout.json");

  file.mutable_rollout()->set_waves("2,rest");
  file.mutable_rollout()->set_confirm("20m");
  file.mutable_rollout()->set_parallel(8);
  file.mutable_health()->set_window("30s");
  file.mutable_health()->set_deny_rate_multiple(5);
  file.mutable_health()->set_deny_rate_floor(0.5);
  o = rolloutOptions(args, file);
  REQUIRE(o.ok());
  CHECK(o->waves == "2,rest");
  CHECK(o->confirm_seconds == 1200);
  CHECK(o->parallel == 8);
  CHECK(o->window == std::chrono::seconds(30));
  CHECK(o->deny_rate_multiple == 5.0);
  CHECK(o->deny_rate_floor == 0.5);

  args.waves = "1,50%";
  args.confirm = "1h";
  args.parallel = 2;
  args.window = "5s";
  args.restart = true;
  args.comment = "issue 16";
  args.state = "/tmp/s.json";
  o = rolloutOptions(args, file);
  REQUIRE(o.ok());
  CHECK(o->waves == "1,50%");
  CHECK(o->confirm_seconds == 3600);
  CHECK(o->parallel == 2);
  CHECK(o->window == std::chrono::seconds(5));
  CHECK(o->restart);
  CHECK(o->comment == "issue 16");
  CHECK(rolloutStatePath(args) == "/tmp/s.json");
}

TEST_CASE("a bad rollout or health value in fleet.yaml is refused naming its key") {
  FleetApplyArgs args;
  for (const auto& [set, key] :
       std::vector<std::pair<std::function<void(v1::Fleet&)>, std::string>>{
           {[](v1::Fleet& f) { f.mutable_rollout()->set_waves("1,,rest"); }, "rollout.waves"},
           {[](v1::Fleet& f) { f.mutable_rollout()->set_confirm("soon"); }, "rollout.confirm"},
           {[](v1::Fleet& f) { f.mutable_health()->set_window("10 s"); }, "health.window"},
           {[](v1::Fleet& f) { f.mutable_health()->set_window("0"); }, "health.window"},
           {[](v1::Fleet& f) { f.mutable_health()->set_deny_rate_floor(-1); }, "deny_rate_floor"}}) {
    const auto& key_shown = key;  // a variable for CAPTURE: clang before 16 cannot capture a binding
    CAPTURE(key_shown);
    v1::Fleet file;
    set(file);
    auto o = rolloutOptions(args, file);
    REQUIRE_FALSE(o.ok());
    CHECK(o.status().message().find("fleet.yaml: ") == 0);
    CHECK(o.status().message().find(key) != std::string::npos);
  }
}

TEST_CASE("the confirm window must outlast the wave's health windows") {
  fleet::RolloutOptions o;  // 600 s, 10 s windows, 16 at once, 1,10%,rest
  CHECK(confirmWindowProblem(o, 32).empty());  // largest wave 27: 2 rounds of 2 x 10 s + 60 s
  o.confirm_seconds = 99;
  const std::string problem = confirmWindowProblem(o, 32);
  CHECK(problem.find("give --confirm 100s or more") != std::string::npos);
  CHECK(problem.find("27 boxes, 16 at once") != std::string::npos);
  o.confirm_seconds = 100;
  CHECK(confirmWindowProblem(o, 32).empty());
  o.parallel = 1;  // 27 rounds
  CHECK(confirmWindowProblem(o, 32).find("give --confirm 600s or more") != std::string::npos);
  o.confirm_seconds = 90'000;
  CHECK(confirmWindowProblem(o, 32).find("24h") != std::string::npos);
}

TEST_CASE("fleet apply: what fails before any box answers, and its exit code") {
  SUBCASE("no fleet directory: 3") {
    Ran r = runArgs({"fleet", "apply", "/nonexistent/fleet"});
    CHECK(r.exit == kExitInvalid);
    CHECK(r.err.find("/nonexistent/fleet") != std::string::npos);
  }
  SUBCASE("a confirm window too short: 2, saying what to raise") {
    FleetDirFixture f;
    Ran r = runArgs({"fleet", "apply", f.dir.path, "--confirm", "30s"});
    CHECK(r.exit == kExitUsage);
    CHECK(r.err.find("give --confirm 80s or more") != std::string::npos);
  }
  SUBCASE("fleet.yaml's rollout.confirm too short: 2 as well") {
    FleetDirFixture f("rollout: {confirm: 30s}\n");
    Ran r = runArgs({"fleet", "apply", f.dir.path});
    CHECK(r.exit == kExitUsage);
  }
  SUBCASE("a damaged state file: 3, naming it") {
    FleetDirFixture f;
    std::ofstream(f.dir / ".fleet-rollout.json") << "{garbage";
    Ran r = runArgs({"fleet", "apply", f.dir.path});
    CHECK(r.exit == kExitInvalid);
    CHECK(r.err.find((f.dir / ".fleet-rollout.json").string()) != std::string::npos);
  }
  SUBCASE("a box nobody answers for: the rollout halts, 11") {
    FleetDirFixture f;
    Ran r = runArgs({"fleet", "apply", f.dir.path, "--timeout", "2"});
    INFO(r.out, r.err);
    CHECK(r.exit == kExitRolloutHalted);
    CHECK(r.out.find("wave 1/1: 1 box: gw-01") != std::string::npos);
    CHECK(r.out.find("gw-01: FAILED: unreachable: GetPolicy: UNAVAILABLE") != std::string::npos);
    CHECK(r.out.find("rollout halted at wave 1/1: gw-01: unreachable") != std::string::npos);
    CHECK(std::filesystem::exists(f.dir / ".fleet-rollout.json"));
  }
  SUBCASE("--json: the final state on stdout, progress on stderr") {
    FleetDirFixture f;
    Ran r = runArgs({"fleet", "apply", f.dir.path, "--timeout", "2", "--json"});
    CHECK(r.exit == kExitRolloutHalted);
    CHECK(r.out.find("\"desired_sha256\"") != std::string::npos);
    CHECK(r.out.find("wave 1/1") == std::string::npos);
    CHECK(r.err.find("wave 1/1") != std::string::npos);
  }
}

}  // namespace
}  // namespace muzzle::ctl

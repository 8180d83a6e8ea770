// `muzzlectl fleet plan|devices|events` without a box: --select, a box's plan row from its
// answer, the device filters, the events resume points and state file; and the commands run
// against boxes that are down.
#include "mgmt/ctl/fleet_reads.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/output.h"
#include "mgmt/ctl/run.h"
#include "tests/unit/mgmt/ctl/parse_support.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

using muzzle::testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

constexpr char kPolicy[] =
    "version: 1\n"
    "defaults: {profile: quarantine}\n"
    "profiles:\n"
    "  quarantine:\n"
    "    egress:\n"
    "      - allow: [gateway]\n"
    "        proto: udp\n"
    "        ports: [53]\n";

// Three boxes whose sockets are in `dir` (and do not exist: every box is down).
std::string fleetYaml(const std::string& dir) {
  return "version: 1\n"
         "groups:\n"
         "  - name: sites\n"
         "    select: {role: gateway}\n"
         "    policy: policies/site.yaml\n"
         "boxes:\n"
         "  - name: north-01\n"
         "    target: unix:" + dir + "/north-01.sock\n"
         "    labels: {role: gateway, site: north, region: eu}\n"
         "  - name: north-02\n"
         "    target: unix:" + dir + "/north-02.sock\n"
         "    labels: {role: gateway, site: north, region: eu}\n"
         "  - name: south-01\n"
         "    target: unix:" + dir + "/south-01.sock\n"
         "    labels: {role: gateway, site: south, region: us}\n";
}

struct Fleet {
  TempDir dir{"fleet-reads"};
  Fleet() {
    write(dir / "fleet.yaml", fleetYaml(dir.path));
    write(dir / "policies/site.yaml", kPolicy);
  }
  fleet::FleetDir load() const {
    auto fleet = fleet::FleetDir::load(dir.path);
    REQUIRE_MESSAGE(fleet.ok(), fleet.status().message());
    return std::move(*fleet);
  }
};

// ---- --select

TEST_CASE("--select takes LABEL=VALUE, the value may be empty") {
  auto s = parseSelectors({"site=north", "region=eu", "note="});
  REQUIRE(s.ok());
  CHECK(s->size() == 3);
  CHECK(s->at("site") == "north");
  CHECK(s->at("note").empty());
  CHECK(parseSelectors({"site=north", "site=north"}).ok());  // the same twice is harmless
}

TEST_CASE("a bad --select says which and what is expected") {
  for (const char* bad : {"site", "=north", ""}) {
    CAPTURE(bad);
    auto s = parseSelectors({bad});
    REQUIRE_FALSE(s.ok());
    CHECK(contains(s.status().message(), "--select \"" + std::string(bad) + "\""));
    CHECK(contains(s.status().message(), "LABEL=VALUE"));
  }
  auto both = parseSelectors({"site=north", "site=south"});
  REQUIRE_FALSE(both.ok());
  CHECK(contains(both.status().message(), "no box can match both"));
}

TEST_CASE("--select picks the boxes with every label, in fleet.yaml's order") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  auto all = selectMembers(fleet, {});
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
  auto north = selectMembers(fleet, {{"site", "north"}});
  REQUIRE(north.ok());
  REQUIRE(north->size() == 2);
  CHECK((*north)[0]->name == "north-01");
  CHECK((*north)[1]->name == "north-02");
  auto us = selectMembers(fleet, {{"region", "us"}, {"site", "south"}});
  REQUIRE(us.ok());
  REQUIRE(us->size() == 1);
  CHECK((*us)[0]->name == "south-01");
}

TEST_CASE("a --select no box matches is an error naming it, not an empty answer") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  auto none = selectMembers(fleet, {{"site", "nrth"}});
  REQUIRE_FALSE(none.ok());
  CHECK(contains(none.status().message(), "--select site=nrth"));
  CHECK(contains(none.status().message(), "fleet.yaml"));
}

// ---- fleet plan

v1::GetPolicyResponse running(uint64_t revision, const std::string& text) {
  v1::GetPolicyResponse r;
  r.mutable_revision()->set_number(revision);
  r.mutable_revision()->set_sha256("abc");
  r.set_content(text);
  return r;
}

TEST_CASE("a box running its desired text is in sync; another text is drift, counted") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  const fleet::Member& m = fleet.members()[0];
  FleetPlanRow same = planRow(m, grpc::Status::OK, running(4, *m.text), true);
  CHECK(same.state() == kPlanInSync);
  CHECK(same.running_revision() == 4);
  CHECK(same.added() == 0);
  CHECK(same.removed() == 0);
  CHECK(same.diff().empty());
  CHECK(same.desired_sha256() == m.sha256);

  std::string other = *m.text;
  other.replace(other.find("ports: [53]"), 11, "ports: [53, 853]");
  other += "# old\n# older\n";
  FleetPlanRow drift = planRow(m, grpc::Status::OK, running(5, other), true);
  CHECK(drift.state() == kPlanDrift);
  CHECK(drift.added() == 1);
  CHECK(drift.removed() == 3);
  CHECK(drift.counted());
  CHECK(contains(drift.diff(), "--- north-01 running r5\n+++ north-01 desired\n"));
  CHECK(contains(drift.diff(), "+        ports: [53]\n"));
  CHECK(planRow(m, grpc::Status::OK, running(5, other), false).diff().empty());
}

TEST_CASE("a box with a commit awaiting confirmation is pending, whatever its text") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  const fleet::Member& m = fleet.members()[1];
  v1::GetPolicyResponse r = running(7, *m.text);
  r.mutable_pending()->set_revision(7);
  r.mutable_pending()->set_rollback_to(6);
  r.mutable_pending()->mutable_deadline()->set_seconds(1'800'000'000);
  FleetPlanRow row = planRow(m, grpc::Status::OK, r, false);
  CHECK(row.state() == kPlanPending);
  CHECK(row.pending_revision() == 7);
  CHECK(contains(row.detail(), "r7 awaits confirmation until 2027-01-15T08:00:00Z, else back to r6"));
}

TEST_CASE("a box that cannot be reached is unreachable; any other failure is an error") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  const fleet::Member& m = fleet.members()[2];
  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    FleetPlanRow row = planRow(m, grpc::Status(code, "connect failed"), {}, false);
    CHECK(row.state() == kPlanUnreachable);
    CHECK(row.running_revision() == 0);
    CHECK(contains(row.detail(), "connect failed"));
  }
  FleetPlanRow denied =
      planRow(m, grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer"), {}, false);
  CHECK(denied.state() == kPlanError);
  CHECK(contains(denied.detail(), "PERMISSION_DENIED: viewer"));
}

TEST_CASE("plan's exit: 10 for a failed box before 12 for drift, drift only when asked") {
  auto rows = [](std::initializer_list<const char*> states) {
    std::vector<FleetPlanRow> out;
    for (const char* s : states) {
      out.emplace_back();
      out.back().set_state(s);
    }
    return out;
  };
  CHECK(planExit(rows({kPlanInSync, kPlanInSync}), true) == kExitOk);
  CHECK(planExit(rows({kPlanInSync, kPlanDrift}), false) == kExitOk);
  CHECK(planExit(rows({kPlanInSync, kPlanDrift}), true) == kExitDrift);
  CHECK(planExit(rows({kPlanPending}), true) == kExitDrift);
  CHECK(planExit(rows({kPlanDrift, kPlanUnreachable}), true) == kExitFleetFailed);
  CHECK(planExit(rows({kPlanError}), false) == kExitFleetFailed);
  CHECK(planSummary(rows({kPlanInSync, kPlanDrift, kPlanDrift, kPlanUnreachable})) ==
        "4 boxes: 1 in-sync, 2 drift, 0 pending, 1 unreachable, 0 error");
}

TEST_CASE("the plan table has a row per box with its changes") {
  Fleet f;
  const fleet::FleetDir fleet = f.load();
  std::vector<FleetPlanRow> rows = {
      planRow(fleet.members()[0], grpc::Status::OK, running(3, "version: 1\n"), false),
      planRow(fleet.members()[2], grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"), {}, false)};
  const std::string text = planTable(rows);
  std::istringstream lines(text);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(header.starts_with("box "));
  CHECK(contains(first, "north-01"));
  CHECK(contains(first, " sites "));
  CHECK(contains(first, " drift "));
  CHECK(contains(first, " r3 "));
  CHECK(contains(first, " +7 -0 "));
  CHECK(contains(second, "south-01"));
  CHECK(contains(second, " unreachable "));
}

// ---- fleet devices

v1::DeviceInfo device(const std::string& vendor, const std::string& profile, bool listed,
                      bool quarantined) {
  v1::DeviceInfo d;
  d.set_mac("44:47:cc:00:00:11");
  d.set_vendor(vendor);
  d.set_profile(profile);
  d.set_listed(listed);
  d.set_quarantined(quarantined);
  d.set_assignment(listed ? "listed" : "default");
  return d;
}

TEST_CASE("device filters: vendor in any case, profile, not-profile, new, quarantined") {
  const v1::DeviceInfo cam = device("Hangzhou Hikvision Digital", "camera", true, false);
  const v1::DeviceInfo stray = device("Espressif Inc.", "quarantine", false, false);
  const v1::DeviceInfo held = device("HIKVISION", "quarantine", true, true);
  // A filter with one or two conditions (the rest: any).
  auto filter = [](std::string vendor, std::string profile, std::string not_profile,
                   bool only_new = false, bool only_quarantined = false) {
    DeviceFilter f;
    f.vendor = std::move(vendor);
    f.profile = std::move(profile);
    f.not_profile = std::move(not_profile);
    f.only_new = only_new;
    f.only_quarantined = only_quarantined;
    return f;
  };
  CHECK(matches({}, cam));
  CHECK(matches(filter("hikvision", "", ""), cam));
  CHECK(matches(filter("hikvision", "", ""), held));
  CHECK_FALSE(matches(filter("hikvision", "", ""), stray));
  CHECK(matches(filter("", "camera", ""), cam));
  CHECK_FALSE(matches(filter("", "camera", ""), held));
  CHECK(matches(filter("hik", "", "quarantine"), cam));
  CHECK_FALSE(matches(filter("hik", "", "quarantine"), held));
  CHECK(matches(filter("", "", "", true), stray));
  CHECK_FALSE(matches(filter("", "", "", true), cam));
  CHECK(matches(filter("", "", "", false, true), held));
  CHECK_FALSE(matches(filter("", "", "", false, true), stray));
  CHECK_FALSE(matches(filter("nothing like it", "", ""), device("", "x", false, false)));
}

TEST_CASE("the devices table has a site column only when asked") {
  FleetDeviceRow row;
  row.set_box("north-01");
  (*row.mutable_labels())["site"] = "north";
  *row.mutable_device() = device("Hikvision", "camera", true, true);
  row.mutable_device()->add_ips("192.0.2.10");
  const std::string with = devicesTable({row}, true);
  CHECK(with.starts_with("box       site   mac "));
  CHECK(contains(with, "north-01  north  44:47:cc:00:00:11"));
  CHECK(contains(with, "camera (q)"));
  CHECK(contains(with, "192.0.2.10"));
  const std::string without = devicesTable({row}, false);
  CHECK(without.starts_with("box       mac "));
  CHECK_FALSE(contains(without, "north  "));
}

// ---- fleet events

TEST_CASE("the resume point follows events, and a gap moves it past what is lost") {
  v1::Event e;
  e.set_epoch(77);
  e.set_sequence(12);
  CHECK(resumeAfter(e) == ResumePoint{77, 12});
  v1::Event lost;
  lost.set_epoch(77);
  lost.mutable_gap()->set_first_missing(13);
  lost.mutable_gap()->set_first_available(40);
  CHECK(resumeAfter(lost) == ResumePoint{77, 39});
  v1::Event restarted;  // a new run of muzzled, holding its events from 1
  restarted.set_epoch(99);
  restarted.mutable_gap()->set_restarted(true);
  restarted.mutable_gap()->set_first_missing(13);
  restarted.mutable_gap()->set_first_available(1);
  CHECK(resumeAfter(restarted) == ResumePoint{99, 0});
}

TEST_CASE("a box is tried again after 1 s, doubling to 30 s") {
  const std::vector<int> expected = {1, 1, 2, 4, 8, 16, 30, 30, 30};
  for (unsigned tries = 0; tries < expected.size(); ++tries) {
    CAPTURE(tries);
    CHECK(retryDelay(tries).count() == expected[tries]);
  }
  CHECK(retryDelay(1000) == kMaxRetryDelay);
}

TEST_CASE("the events state is written atomically and read back") {
  TempDir dir("fleet-events-state");
  const std::string path = (dir / ".fleet-events.json").string();
  auto none = readEventsState(path);
  REQUIRE(none.ok());  // no file yet: every box from the start
  CHECK(none->boxes().empty());

  FleetEventsState state;
  state.set_version(1);
  (*state.mutable_boxes())["north-01"].set_epoch(18446744073709551615u);
  (*state.mutable_boxes())["north-01"].set_sequence(42);
  REQUIRE(writeEventsState(path, state).ok());
  auto back = readEventsState(path);
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK(back->boxes().at("north-01").epoch() == 18446744073709551615u);
  CHECK(back->boxes().at("north-01").sequence() == 42);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);  // no temp file left behind
}

TEST_CASE("a damaged events state file is refused with its name and what to do") {
  TempDir dir("fleet-events-damaged");
  const std::string path = (dir / "state.json").string();
  struct Case {
    const char* what;
    std::string text;
    const char* says;
  };
  const std::string big(kMaxEventsStateBytes + 1, ' ');
  for (const Case& c : std::vector<Case>{
           {"not JSON", "{\"version\": 1, \"boxes\": {", "not a fleet events state file"},
           {"torn", "", "not a fleet events state file"},
           {"unknown key", "{\"version\": 1, \"cursor\": 5}", "not a fleet events state file"},
           {"negative", "{\"version\": 1, \"boxes\": {\"a\": {\"sequence\": -1}}}",
            "not a fleet events state file"},
           {"another version", "{\"version\": 2}", "version 2"},
           {"no version", "{\"boxes\": {}}", "version 0"},
           {"too large", big, "state.json"}}) {
    CAPTURE(c.what);
    write(path, c.text);
    auto state = readEventsState(path);
    REQUIRE_FALSE(state.ok());
    CHECK(state.status().code() == StatusCode::kInvalidArgument);
    CHECK(contains(state.status().message(), path));
    CHECK(contains(state.status().message(), c.says));
    CHECK(contains(state.status().message(), "--from-start"));
  }
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);
  auto folder = readEventsState(path);
  REQUIRE_FALSE(folder.ok());
  CHECK(contains(folder.status().message(), path));
  std::filesystem::remove(path);
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);  // refused by what it is, never blocking
  auto fifo = readEventsState(path);
  REQUIRE_FALSE(fifo.ok());
  CHECK(contains(fifo.status().message(), path));
}

// ---- the commands, against boxes that are down

struct Ran {
  int exit;
  std::string out, err;
};

Ran runCommand(std::vector<std::string> args) {
  CommandLine cli;
  auto p = testing::parse(cli, args);
  REQUIRE_MESSAGE(!p.exit.has_value(), p.err);
  std::ostringstream out, err;
  const int exit = run(cli.invocation(), out, err);
  return {exit, out.str(), err.str()};
}

TEST_CASE("fleet plan lists boxes that are down as unreachable and exits 10") {
  Fleet f;
  Ran r = runCommand({"fleet", "plan", f.dir.path, "--select", "site=north", "--timeout", "2"});
  CHECK(r.exit == kExitFleetFailed);
  CHECK(contains(r.out, "north-01"));
  CHECK(contains(r.out, "north-02"));
  CHECK_FALSE(contains(r.out, "south-01"));  // not selected, not asked
  CHECK(contains(r.out, "2 boxes: 0 in-sync, 0 drift, 0 pending, 2 unreachable, 0 error"));
  CHECK(contains(r.err, "north-01 (unix:" + f.dir.path + "/north-01.sock): unreachable: UNAVAILABLE"));

  Ran json = runCommand({"fleet", "plan", f.dir.path, "--json", "--fail-on-drift"});
  CHECK(json.exit == kExitFleetFailed);
  std::istringstream lines(json.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    FleetPlanRow row;
    REQUIRE(google::protobuf::util::JsonStringToMessage(line, &row).ok());
    CHECK(row.state() == kPlanUnreachable);
    CHECK(row.group() == "sites");
    ++n;
  }
  CHECK(n == 3);
}

TEST_CASE("fleet devices reports the boxes that did not answer and exits 10") {
  Fleet f;
  Ran r = runCommand({"fleet", "devices", f.dir.path, "--vendor", "hikvision", "--timeout", "2"});
  CHECK(r.exit == kExitFleetFailed);
  CHECK(r.out.starts_with("box  site  mac"));  // the header, no device
  CHECK(contains(r.err, "south-01 (unix:" + f.dir.path + "/south-01.sock): not listed: UNAVAILABLE"));
  CHECK(contains(r.err, "3 of 3 boxes did not answer"));
}

TEST_CASE("fleet events without --follow reports boxes that are down; the state stays") {
  Fleet f;
  const std::string state = (f.dir / ".fleet-events.json").string();
  write(state, "{\"version\": 1, \"boxes\": {\"north-01\": {\"epoch\": \"5\", \"sequence\": \"9\"},"
               " \"gone\": {\"epoch\": \"1\", \"sequence\": \"1\"}}}");
  Ran r = runCommand({"fleet", "events", f.dir.path, "--timeout", "2"});
  CHECK(r.exit == kExitFleetFailed);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "[north-01] (unix:" + f.dir.path + "/north-01.sock) UNAVAILABLE"));
  auto kept = readEventsState(state);
  REQUIRE(kept.ok());
  CHECK(kept->boxes().at("north-01").sequence() == 9);  // nothing was seen: nothing moved
}

TEST_CASE("fleet events refuses a damaged state file, naming it; --from-start goes on") {
  Fleet f;
  const std::string state = (f.dir / "my-state.json").string();
  write(state, "{\"version\": 1, \"boxes\": [1, 2]}");
  Ran r = runCommand({"fleet", "events", f.dir.path, "--state", state});
  CHECK(r.exit == kExitInvalid);
  CHECK(contains(r.err, state + ": not a fleet events state file"));
  Ran fresh = runCommand({"fleet", "events", f.dir.path, "--state", state, "--from-start",
                          "--timeout", "2"});
  CHECK(fresh.exit == kExitFleetFailed);  // the boxes are down, but it went to them
  CHECK_FALSE(contains(fresh.err, "not a fleet events state file"));
}

TEST_CASE("fleet commands: a bad --select or --parallel is a usage error") {
  for (const auto& args :
       {std::vector<std::string>{"fleet", "devices", "/tmp/f", "--select", "site"},
        std::vector<std::string>{"fleet", "plan", "/tmp/f", "--select", "=x"},
        std::vector<std::string>{"fleet", "events", "/tmp/f", "--parallel", "0"},
        std::vector<std::string>{"fleet", "plan"}}) {
    CAPTURE(args.back());
    CommandLine cli;
    auto p = testing::parse(cli, args);
    REQUIRE(p.exit.has_value());
    CHECK(*p.exit == kExitUsage);
  }
  CommandLine cli;
  auto p = testing::parse(cli, {"fleet", "devices", "/tmp/f", "--select", "site"});
  CHECK(contains(p.err, "LABEL=VALUE"));
}

TEST_CASE("a --select that matches no box exits 2 and names it") {
  Fleet f;
  Ran r = runCommand({"fleet", "devices", f.dir.path, "--select", "site=nrth"});
  CHECK(r.exit == kExitUsage);
  CHECK(contains(r.err, "--select site=nrth"));
}

TEST_CASE("fleet's help lists every fleet exit code") {
  CommandLine cli;
  auto p = testing::parse(cli, {"fleet", "--help"});
  REQUIRE(p.exit.has_value());
  CHECK(*p.exit == 0);
  for (const char* code : {"0 ok", "2 usage", "3 the fleet directory", "10 some boxes failed",
                           "11 a rollout halted", "12 drift"}) {
    CAPTURE(code);
    CHECK(contains(p.out, code));
  }
}

}  // namespace
}  // namespace muzzle::ctl

// The rollout procedure (mgmt/fleet/rollout.h) against fake boxes: waves, the health gate,
// halting, bounded concurrency, the state file and resuming. Time is the fake sleeper's: a
// window "passes" by moving the fake clock the boxes' samples are stamped with, never by
// sleeping.
#include "mgmt/fleet/rollout.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "mgmt/fleet/rollout_state.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::fleet {
namespace MUZZLE_UNITY_ID {

using Step = v1::RolloutBoxState;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr const char* kDeadline = "2026-12-03T21:00:00Z";

// Fake time, shared by the sleeper and every box's samples.
struct FakeClock {
  std::atomic<int64_t> ms{1'000'000};
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point(milliseconds(ms.load()));
  }
};

// The fleet's side: every box, what was done to them in order, and how many calls ran at once.
struct FakeFleet;

// One box as muzzled would answer. Guarded by `mu` (the rollout may call several links of the
// same box from different threads only if it breaks its contract; `busy` catches that).
struct FakeBox {
  std::mutex mu;
  std::string name;
  std::string desired;  // what the rollout will apply (the "new" text)
  std::string text = "old policy";
  uint64_t revision = 4;
  uint64_t pending = 0;
  double rate_old = 0.0, rate_new = 0.0;  // denials a second under the old text, the desired one
  double denied = 0.0;
  int64_t last_ms = -1;
  uint32_t queues = 2;
  bool reachable = true;
  bool unreachable_after_apply = false;
  std::string refuse_apply;    // non-empty: ApplyPolicy fails with this (kInvalidArgument)
  bool refuse_confirm = false;  // ConfirmCommit fails (kFailedPrecondition)
  bool policy_error_after_apply = false;
  uint64_t epoch = 77, sequence = 100;
  std::vector<uint64_t> policy_errors;  // sequences of policy-error events
  int applies = 0, confirms = 0, calls = 0;
  std::atomic<bool> busy{false};
  bool overlapped = false;

  // The box's commit-confirmed deadline passed: it goes back to what ran before.
  void rollBack() {
    std::lock_guard<std::mutex> lock(mu);
    text = "old policy";
    ++revision;
    pending = 0;
  }
};

struct FakeFleet {
  FakeClock clock;
  std::vector<std::shared_ptr<FakeBox>> boxes;
  std::mutex log_mu;
  std::vector<std::string> log;  // "apply gw-00", "confirm gw-00", in order
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::atomic<int> connects{0};
  milliseconds hold{0};  // real time each call takes (the concurrency test)

  explicit FakeFleet(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto b = std::make_shared<FakeBox>();
      b->name = "gw-" + std::string(i < 10 ? "0" : "") + std::to_string(i);
      b->desired = "new policy for " + b->name;
      boxes.push_back(b);
    }
  }
  void record(const std::string& what) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.push_back(what);
  }
  long indexOf(const std::string& what) {
    std::lock_guard<std::mutex> lock(log_mu);
    auto it = std::find(log.begin(), log.end(), what);
    return it == log.end() ? -1 : it - log.begin();
  }
  int totalCalls() {
    int n = 0;
    for (auto& b : boxes) n += b->calls;
    return n;
  }
};

class FakeLink : public BoxLink {
 public:
  FakeLink(FakeFleet& fleet, std::shared_ptr<FakeBox> box) : fleet_(fleet), box_(std::move(box)) {}

  Result<BoxSample> sample() override {
    Call call(*this);
    if (!box_->reachable) return unreachable();
    const int64_t now = fleet_.clock.ms.load();
    if (box_->last_ms >= 0) {
      const double rate = box_->text == box_->desired ? box_->rate_new : box_->rate_old;
      box_->denied += rate * static_cast<double>(now - box_->last_ms) / 1000.0;
    }
    box_->last_ms = now;
    BoxSample s;
    s.denied = static_cast<uint64_t>(box_->denied + 1e-6);
    s.queues = box_->queues;
    s.revision = box_->revision;
    s.pending_revision = box_->pending;
    s.event_epoch = box_->epoch;
    s.last_event_sequence = box_->sequence;
    s.at = fleet_.clock.now();
    return s;
  }
  Result<Policy> policy() override {
    Call call(*this);
    if (!box_->reachable) return unreachable();
    return Policy{box_->revision, box_->text, box_->pending};
  }
  Result<Applied> apply(const std::string& text, uint32_t confirm_seconds,
                        const std::string& comment) override {
    Call call(*this);
    (void)comment;
    if (!box_->reachable) return unreachable();
    if (!box_->refuse_apply.empty()) {
      return Status::error(StatusCode::kInvalidArgument, box_->refuse_apply);
    }
    if (box_->pending) return Status::error(StatusCode::kFailedPrecondition, "pending");
    CHECK(confirm_seconds > 0);
    fleet_.record("apply " + box_->name);
    ++box_->applies;
    Applied a;
    a.previous_revision = box_->revision;
    a.revision = ++box_->revision;
    a.deadline = kDeadline;
    box_->text = text;
    box_->pending = a.revision;
    ++box_->sequence;  // event=policy-applied
    if (box_->policy_error_after_apply) box_->policy_errors.push_back(++box_->sequence);
    if (box_->unreachable_after_apply) box_->reachable = false;
    return a;
  }
  Status confirm(uint64_t revision) override {
    Call call(*this);
    if (!box_->reachable) return unreachable();
    if (box_->refuse_confirm || box_->pending != revision) {
      return Status::error(StatusCode::kFailedPrecondition, "nothing pending to confirm");
    }
    fleet_.record("confirm " + box_->name);
    ++box_->confirms;
    box_->pending = 0;
    return Status();
  }
  Result<bool> policyErrorSince(uint64_t epoch, uint64_t sequence) override {
    Call call(*this);
    if (!box_->reachable) return unreachable();
    if (epoch != box_->epoch) return true;  // restarted: assume the worst
    for (uint64_t s : box_->policy_errors) {
      if (s > sequence) return true;
    }
    return false;
  }

 private:
  // One call: holds the box's lock, counts the calls running at once across the fleet.
  struct Call {
    explicit Call(FakeLink& l) : link(l), lock(l.box_->mu) {
      if (link.box_->busy.exchange(true)) link.box_->overlapped = true;
      ++link.box_->calls;
      const int now = ++link.fleet_.in_flight;
      int seen = link.fleet_.max_in_flight.load();
      while (now > seen && !link.fleet_.max_in_flight.compare_exchange_weak(seen, now)) {
      }
      if (link.fleet_.hold.count() > 0) std::this_thread::sleep_for(link.fleet_.hold);
    }
    ~Call() {
      --link.fleet_.in_flight;
      link.box_->busy = false;
    }
    FakeLink& link;
    std::lock_guard<std::mutex> lock;
  };
  Status unreachable() const {
    return Status::error(StatusCode::kUnavailable, "connection refused");
  }

  FakeFleet& fleet_;
  std::shared_ptr<FakeBox> box_;
};

// Moves the fake clock by each window; stops the rollout (returns false) from the
// `stop_at`-th non-zero sleep on, as SIGINT in muzzlectl does.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock, int stop_at = -1) : clock_(clock), stop_at_(stop_at) {}
  bool sleepFor(milliseconds d) override {
    if (stopped_) return false;
    if (d.count() == 0) return true;
    const int n = ++sleeps_;
    if (stop_at_ > 0 && n >= stop_at_) {
      stopped_ = true;
      return false;
    }
    clock_.ms += d.count();
    return true;
  }
  int sleeps() const { return sleeps_; }

 private:
  FakeClock& clock_;
  int stop_at_;
  std::atomic<int> sleeps_{0};
  std::atomic<bool> stopped_{false};
};

// A folder of its own for each test's state file.
struct TempDir : muzzle::testing::TempDir {
  TempDir() : muzzle::testing::TempDir("rollout_test") {}
  std::string file(const std::string& name) const { return (*this / name).string(); }
};

std::vector<RolloutBox> boxesOf(FakeFleet& fleet) {
  std::vector<RolloutBox> out;
  for (auto& b : fleet.boxes) {
    out.push_back(RolloutBox{b->name, b->desired, [&fleet, b] {
                               ++fleet.connects;
                               return std::make_unique<FakeLink>(fleet, b);
                             }});
  }
  return out;
}

struct Run {
  RolloutResult result;
  std::vector<std::string> lines;
  bool has(const std::string& text) const {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  std::string all() const {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

// A saved state of a rollout of `fleet` started earlier with `waves`, no box in it yet.
v1::RolloutState savedState(FakeFleet& fleet, const std::string& waves) {
  v1::RolloutState s;
  s.set_desired_sha256(desiredSha256(boxesOf(fleet)));
  s.set_waves(waves);
  s.set_confirm_seconds(600);
  s.set_started("2026-12-03T20:00:00Z");
  return s;
}

// One box of a saved state, its events last seen at 77:100.
Step* addSaved(v1::RolloutState& s, const std::string& name, uint32_t wave, Step::Step step,
               uint64_t revision) {
  Step* b = s.add_boxes();
  b->set_name(name);
  b->set_wave(wave);
  b->set_step(step);
  b->set_revision(revision);
  b->set_event_epoch(77);
  b->set_event_sequence(100);
  return b;
}

RolloutOptions options(const std::string& waves, uint32_t parallel = 4) {
  RolloutOptions o;
  o.waves = waves;
  o.parallel = parallel;
  o.confirm_seconds = 600;
  o.window = milliseconds(10'000);
  o.comment = "rollout test";
  return o;
}

Run rollout(FakeFleet& fleet, const RolloutOptions& o, const std::string& state_path,
            Sleeper* sleeper = nullptr) {
  FakeSleeper fake(fleet.clock);
  Run run;
  std::mutex mu;
  std::atomic<bool> inside{false};
  bool reentered = false;
  run.result = runRollout(boxesOf(fleet), o, state_path, sleeper ? *sleeper : fake,
                          [&](const std::string& line) {
                            if (inside.exchange(true)) reentered = true;
                            {
                              std::lock_guard<std::mutex> lock(mu);
                              run.lines.push_back(line);
                            }
                            inside = false;
                          });
  CHECK_FALSE(reentered);  // progress is serialised
  for (auto& b : fleet.boxes) CHECK_FALSE(b->overlapped);  // one call at a time per box
  return run;
}

Step::Step stepOf(const RolloutResult& r, size_t i) {
  return r.state.boxes(static_cast<int>(i)).step();
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("wave sizes: counts, percentages of the whole fleet rounded up, rest") {
  auto sizes = [](const std::string& spec, size_t n) {
    auto r = waveSizes(spec, n);
    REQUIRE(r.ok());
    return *r;
  };
  using V = std::vector<size_t>;
  CHECK(sizes("1,10%,rest", 32) == V{1, 4, 27});
  CHECK(sizes("1,10%,rest", 10) == V{1, 1, 8});
  CHECK(sizes("1,10%,rest", 1) == V{1});  // waves past the fleet's end are dropped
  CHECK(sizes("1,10%,rest", 0) == V{});
  CHECK(sizes("2,2", 10) == V{2, 2, 6});  // boxes left after the last wave: one more wave
  CHECK(sizes("50%", 3) == V{2, 1});
  CHECK(sizes("1%", 3) == V{1, 2});  // at least one box
  CHECK(sizes("rest", 5) == V{5});
  CHECK(sizes("1, 25% ,rest", 8) == V{1, 2, 5});
  CHECK(sizes("1,1,1", 2) == V{1, 1});
  CHECK(sizes("100%", 7) == V{7});

  for (const auto& [spec, bad] : std::vector<std::pair<std::string, std::string>>{
           {"1,x,rest", "\"x\""},
           {"rest,1", "\"rest\" must be the last"},
           {"0", "\"0\""},
           {"", "\"\""},
           {"1,,2", "\"\""},
           {"101%", "\"101%\""},
           {"-1", "\"-1\""},
           {"5m", "\"5m\""},
           {"99999999999", "\"99999999999\""}}) {
    // A variable for CAPTURE (a lambda): clang before 16 cannot capture a binding.
    const std::string& waves = spec;
    CAPTURE(waves);
    auto r = waveSizes(spec, 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(bad) != std::string::npos);
    CHECK(r.status().message().find("waves \"" + spec + "\"") != std::string::npos);
  }
}

BoxSample at(int64_t ms, uint64_t denied) {
  BoxSample s;
  s.denied = denied;
  s.at = std::chrono::steady_clock::time_point(milliseconds(ms));
  return s;
}

TEST_CASE("deny rate: fails above both multiple x before and the floor") {
  // before: 0 denials in 10 s
  GateInput in{at(0, 0), at(10'000, 0), at(20'000, 0), at(30'000, 5)};
  CHECK(denyRateProblem(in, 3.0, 1.0).empty());  // 0.5/s: under the floor
  in.after_end = at(30'000, 98);
  CHECK(denyRateProblem(in, 3.0, 1.0) == "deny rate 9.8/s, was 0.0/s (limit 3x, floor 1.0/s)");
  in.after_end = at(30'000, 10);
  CHECK(denyRateProblem(in, 3.0, 1.0).empty());  // exactly the floor passes
  // before: 10/s; after 30/s is the limit, 31/s is over it
  in = GateInput{at(0, 0), at(10'000, 100), at(20'000, 1000), at(30'000, 1300)};
  CHECK(denyRateProblem(in, 3.0, 1.0).empty());
  in.after_end = at(30'000, 1310);
  CHECK(denyRateProblem(in, 3.0, 1.0) == "deny rate 31.0/s, was 10.0/s (limit 3x, floor 1.0/s)");
  CHECK(denyRateProblem(in, 2.5, 1.0) == "deny rate 31.0/s, was 10.0/s (limit 2.5x, floor 1.0/s)");
  // A counter that went down (muzzled restarted): counted from zero.
  in = GateInput{at(0, 0), at(10'000, 0), at(20'000, 5000), at(30'000, 50)};
  CHECK(denyRateProblem(in, 3.0, 1.0) == "deny rate 5.0/s, was 0.0/s (limit 3x, floor 1.0/s)");
  // Samples at the same instant: no division by zero.
  in = GateInput{at(0, 0), at(0, 0), at(0, 0), at(0, 0)};
  CHECK(denyRateProblem(in, 3.0, 1.0).empty());
}

TEST_CASE("three waves: each box applied, gated and confirmed, a wave after the other") {
  TempDir dir;
  FakeFleet fleet(10);
  fleet.boxes[5]->text = fleet.boxes[5]->desired;  // already runs it
  fleet.boxes[3]->rate_old = 10.0;
  fleet.boxes[3]->rate_new = 25.0;  // under 3x
  Run run = rollout(fleet, options("1,10%,rest"), dir.file("state.json"));
  INFO(run.all());
  CHECK(run.result.done);
  CHECK_FALSE(run.result.halted);
  for (size_t i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(stepOf(run.result, i) == Step::STEP_CONFIRMED);
    CHECK(fleet.boxes[i]->applies == (i == 5 ? 0 : 1));
    CHECK(fleet.boxes[i]->confirms == (i == 5 ? 0 : 1));
    CHECK(fleet.boxes[i]->pending == 0);
  }
  CHECK(run.result.state.boxes(5).unchanged());
  CHECK(run.result.state.boxes(0).wave() == 1);
  CHECK(run.result.state.boxes(1).wave() == 2);
  CHECK(run.result.state.boxes(9).wave() == 3);
  // The canary is confirmed before the next wave is touched, and so on.
  CHECK(fleet.indexOf("confirm gw-00") < fleet.indexOf("apply gw-01"));
  CHECK(fleet.indexOf("confirm gw-01") < fleet.indexOf("apply gw-02"));
  for (size_t i = 2; i < 10; ++i) {
    if (i == 5) continue;
    CHECK(fleet.indexOf("confirm gw-01") < fleet.indexOf("apply " + fleet.boxes[i]->name));
  }
  CHECK(run.has("wave 1/3: 1 box: gw-00"));
  CHECK(run.has("gw-00: applied revision 5 (was 4), rolls back at 2026-12-03T21:00:00Z unless "
                "confirmed"));
  CHECK(run.has("gw-00: healthy (deny rate 0.0/s, was 0.0/s)"));
  CHECK(run.has("gw-03: healthy (deny rate 25.0/s, was 10.0/s)"));
  CHECK(run.has("gw-05: already runs its policy (revision 4)"));
  CHECK(run.has("wave 1/3: confirmed 1 box"));
  CHECK(run.has("wave 3/3: 8 boxes: gw-02, gw-03"));
  CHECK(run.has("wave 3/3: confirmed 8 boxes"));
  CHECK(run.lines.back() == "rollout done: 10 boxes confirmed (1 already ran their policy)");
  // Saved as it went, and finished.
  auto saved = loadRolloutState(dir.file("state.json"));
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  CHECK_FALSE((*saved)->finished().empty());
  CHECK((*saved)->boxes(9).step() == Step::STEP_CONFIRMED);
  CHECK((*saved)->desired_sha256() == desiredSha256(boxesOf(fleet)));
  CHECK((*saved)->comment() == "rollout test");
}

TEST_CASE("a canary that fails its health gate halts: not confirmed, later waves untouched") {
  TempDir dir;
  FakeFleet fleet(10);
  fleet.boxes[0]->rate_new = 9.8;
  Run run = rollout(fleet, options("1,10%,rest"), dir.file("state.json"));
  INFO(run.all());
  CHECK(run.result.halted);
  CHECK_FALSE(run.result.done);
  CHECK(fleet.boxes[0]->applies == 1);
  CHECK(fleet.boxes[0]->confirms == 0);
  CHECK(fleet.boxes[0]->pending == 5);  // left to roll back by itself
  CHECK(stepOf(run.result, 0) == Step::STEP_FAILED);
  CHECK(run.result.state.boxes(0).detail() ==
        "deny rate 9.8/s, was 0.0/s (limit 3x, floor 1.0/s)");
  CHECK(run.result.state.halted() == "gw-00: deny rate 9.8/s, was 0.0/s (limit 3x, floor 1.0/s)");
  for (size_t i = 1; i < 10; ++i) {
    CHECK(fleet.boxes[i]->calls == 0);
    CHECK(stepOf(run.result, i) == Step::STEP_WAITING);
  }
  CHECK(run.has("gw-00: HEALTH GATE FAILED: deny rate 9.8/s, was 0.0/s (limit 3x, floor 1.0/s)"));
  CHECK(run.lines.back() ==
        "rollout halted at wave 1/3: gw-00: deny rate 9.8/s, was 0.0/s (limit 3x, floor 1.0/s); "
        "1 box left unconfirmed rolls back by itself by 2026-12-03T21:00:00Z; 9 boxes untouched");
  auto saved = loadRolloutState(dir.file("state.json"));
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  CHECK((*saved)->halted() == run.result.state.halted());
}

TEST_CASE("a policy-error event since the apply fails the gate") {
  TempDir dir;
  FakeFleet fleet(3);
  fleet.boxes[0]->policy_error_after_apply = true;
  Run run = rollout(fleet, options("1,rest"), dir.file("state.json"));
  CHECK(run.result.halted);
  CHECK(run.has("gw-00: HEALTH GATE FAILED: a policy-error event since the apply"));
  CHECK(fleet.boxes[0]->confirms == 0);
  CHECK(fleet.boxes[1]->calls == 0);
}

TEST_CASE("a box unreachable after its apply halts its wave; nothing of the wave is confirmed") {
  TempDir dir;
  FakeFleet fleet(6);
  fleet.boxes[1]->unreachable_after_apply = true;
  // parallel 1: gw-02 of the same wave comes after gw-01 and is not started.
  Run run = rollout(fleet, options("1,2,rest", 1), dir.file("state.json"));
  INFO(run.all());
  CHECK(run.result.halted);
  CHECK(fleet.boxes[0]->confirms == 1);  // the canary's wave had passed
  CHECK(stepOf(run.result, 0) == Step::STEP_CONFIRMED);
  CHECK(fleet.boxes[1]->applies == 1);
  CHECK(fleet.boxes[1]->confirms == 0);
  CHECK(stepOf(run.result, 1) == Step::STEP_FAILED);
  CHECK(run.result.state.boxes(1).detail().find("unreachable") != std::string::npos);
  CHECK(fleet.boxes[2]->applies == 0);
  CHECK(stepOf(run.result, 2) == Step::STEP_WAITING);
  for (size_t i = 3; i < 6; ++i) CHECK(fleet.boxes[i]->calls == 0);
  CHECK(run.has("gw-01: HEALTH GATE FAILED: unreachable: connection refused"));
  CHECK(run.lines.back().find("rollout halted at wave 2/3: gw-01: unreachable") == 0);
  CHECK(run.lines.back().find("4 boxes untouched") != std::string::npos);
}

TEST_CASE("boxes of a failed wave that passed their gate are not confirmed either") {
  TempDir dir;
  FakeFleet fleet(4);
  fleet.boxes[3]->rate_new = 50.0;  // the last of the wave fails; the others pass first
  Run run = rollout(fleet, options("rest", 1), dir.file("state.json"));
  CHECK(run.result.halted);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(fleet.boxes[i]->applies == 1);
    CHECK(fleet.boxes[i]->confirms == 0);
    CHECK(stepOf(run.result, i) == Step::STEP_APPLIED);
    CHECK(run.result.state.boxes(static_cast<int>(i)).detail() ==
          "passed its gate; not confirmed: the rollout halted");
  }
  CHECK(run.lines.back().find("4 boxes left unconfirmed roll back by themselves by " +
                              std::string(kDeadline) + "; 0 boxes untouched") !=
        std::string::npos);
}

TEST_CASE("an apply the box refuses halts the rollout") {
  TempDir dir;
  FakeFleet fleet(5);
  fleet.boxes[0]->refuse_apply = "policy.yaml:3: profiles: unknown preset \"camra\"";
  Run run = rollout(fleet, options("1,rest"), dir.file("state.json"));
  CHECK(run.result.halted);
  CHECK(stepOf(run.result, 0) == Step::STEP_FAILED);
  CHECK(run.result.state.boxes(0).detail() ==
        "apply refused: policy.yaml:3: profiles: unknown preset \"camra\"");
  CHECK(run.has("gw-00: FAILED: apply refused: policy.yaml:3"));
  CHECK(run.lines.back().find("no box left unconfirmed; 4 boxes untouched") != std::string::npos);
  for (size_t i = 1; i < 5; ++i) CHECK(fleet.boxes[i]->calls == 0);
}

TEST_CASE("a confirm that fails halts the rollout") {
  TempDir dir;
  FakeFleet fleet(3);
  fleet.boxes[0]->refuse_confirm = true;
  Run run = rollout(fleet, options("1,rest"), dir.file("state.json"));
  CHECK(run.result.halted);
  CHECK(stepOf(run.result, 0) == Step::STEP_FAILED);
  CHECK(run.has("gw-00: FAILED: confirm failed: nothing pending to confirm"));
  CHECK(fleet.boxes[1]->calls == 0);
}

TEST_CASE("a box with someone else's commit pending fails before anything is applied to it") {
  TempDir dir;
  FakeFleet fleet(2);
  fleet.boxes[0]->pending = 4;
  Run run = rollout(fleet, options("1,rest"), dir.file("state.json"));
  CHECK(run.result.halted);
  CHECK(fleet.boxes[0]->applies == 0);
  CHECK(run.result.state.boxes(0).detail().find("revision 4 awaits confirmation") == 0);
}

TEST_CASE("no more than `parallel` boxes are worked on at once") {
  TempDir dir;
  FakeFleet fleet(12);
  fleet.hold = milliseconds(3);
  Run run = rollout(fleet, options("rest", 3), dir.file("state.json"));
  CHECK(run.result.done);
  CHECK(fleet.max_in_flight.load() <= 3);
  CHECK(fleet.max_in_flight.load() >= 2);  // and they did overlap
  CHECK(fleet.connects.load() == 12);      // one link per box, kept for its confirm
}

TEST_CASE("an interrupted rollout resumes: the applied box is confirmed without a second apply") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(3);
  // parallel 1: the canary takes sleeps 1 and 2; gw-01 sleeps (3), is applied, and is stopped at
  // sleep 4, in its health window.
  FakeSleeper stopping(fleet.clock, 4);
  Run first = rollout(fleet, options("1,rest", 1), state, &stopping);
  INFO(first.all());
  CHECK_FALSE(first.result.done);
  CHECK_FALSE(first.result.halted);
  CHECK(stepOf(first.result, 0) == Step::STEP_CONFIRMED);
  CHECK(stepOf(first.result, 1) == Step::STEP_APPLIED);
  CHECK(stepOf(first.result, 2) == Step::STEP_WAITING);
  CHECK(first.lines.back().find("rollout interrupted in wave 2/2: state saved in " + state) == 0);
  CHECK(fleet.boxes[1]->pending == 5);
  CHECK(fleet.boxes[2]->applies == 0);

  Run second = rollout(fleet, options("1,rest", 1), state);
  INFO(second.all());
  CHECK(second.result.done);
  CHECK(second.has("resuming the rollout started at"));
  CHECK(fleet.boxes[0]->applies == 1);  // skipped
  CHECK(fleet.boxes[0]->confirms == 1);
  CHECK(fleet.boxes[1]->applies == 1);  // not applied again
  CHECK(fleet.boxes[1]->confirms == 1);
  CHECK(fleet.boxes[2]->applies == 1);
  CHECK(second.has("gw-01: revision 5 still awaits confirmation"));
  CHECK(second.lines.back() == "rollout done: 3 boxes confirmed (0 already ran their policy)");
}

TEST_CASE("resume from a saved state: confirmed skipped, pending gated, rolled back applied again") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(4);
  v1::RolloutState s = savedState(fleet, "1,rest");
  auto add = [&](const std::string& name, uint32_t wave, Step::Step step, uint64_t revision) {
    addSaved(s, name, wave, step, revision)->set_deadline(kDeadline);
  };
  add("gw-00", 1, Step::STEP_CONFIRMED, 5);
  add("gw-01", 2, Step::STEP_APPLIED, 5);
  add("gw-02", 2, Step::STEP_APPLIED, 5);
  add("gw-03", 2, Step::STEP_WAITING, 0);
  REQUIRE(saveRolloutState(state, s).ok());
  // gw-00 was confirmed; gw-01 still pending with our revision 5; gw-02 rolled back to 6.
  fleet.boxes[0]->text = fleet.boxes[0]->desired;
  fleet.boxes[0]->revision = 5;
  fleet.boxes[1]->text = fleet.boxes[1]->desired;
  fleet.boxes[1]->revision = 5;
  fleet.boxes[1]->pending = 5;
  fleet.boxes[2]->revision = 6;

  Run run = rollout(fleet, options("1,rest"), state);
  INFO(run.all());
  CHECK(run.result.done);
  CHECK(fleet.boxes[0]->calls == 0);
  CHECK(fleet.boxes[1]->applies == 0);
  CHECK(fleet.boxes[1]->confirms == 1);
  CHECK(fleet.boxes[2]->applies == 1);
  CHECK(fleet.boxes[2]->confirms == 1);
  CHECK(fleet.boxes[2]->revision == 7);
  CHECK(fleet.boxes[3]->applies == 1);
  CHECK(run.has("gw-00: confirmed earlier"));
  CHECK(run.has("gw-02: revision 5 was rolled back (the box runs revision 6): applying again"));
  CHECK(run.has("resuming the rollout started at 2026-12-03T20:00:00Z: 1 box confirmed, 2 applied"));
}

TEST_CASE("resume: a run killed between its apply and the save finds the pending apply its own") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(2);
  v1::RolloutState s = savedState(fleet, "1,rest");
  // What the state said when the kill came: the intent, revision not known yet.
  Step* killed = addSaved(s, "gw-00", 1, Step::STEP_APPLIED, 0);
  killed->set_previous_revision(4);
  killed->set_detail("applying");
  addSaved(s, "gw-01", 2, Step::STEP_WAITING, 0);
  REQUIRE(saveRolloutState(state, s).ok());
  // The apply did reach the box: revision 5, the desired text, pending.
  fleet.boxes[0]->text = fleet.boxes[0]->desired;
  fleet.boxes[0]->revision = 5;
  fleet.boxes[0]->pending = 5;

  Run run = rollout(fleet, options("1,rest"), state);
  INFO(run.all());
  CHECK(run.result.done);
  CHECK(fleet.boxes[0]->applies == 0);  // not applied a second time
  CHECK(fleet.boxes[0]->confirms == 1);
  CHECK(run.has("gw-00: revision 5 (the desired text) awaits confirmation: applied by the interrupted run"));
  CHECK(fleet.boxes[1]->applies == 1);
}

TEST_CASE("a second rollout on the same state file is refused while the first runs") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(2);
  const int held = ::open((state + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);  // as the first muzzlectl holds it
  Run second = rollout(fleet, options("1,rest"), state);
  CHECK(second.result.halted);
  CHECK(second.has("another fleet apply runs this rollout"));
  CHECK(fleet.boxes[0]->calls == 0);
  CHECK(fleet.boxes[1]->calls == 0);
  ::close(held);
  Run third = rollout(fleet, options("1,rest"), state);  // the first one ended
  CHECK(third.result.done);
}

TEST_CASE("an apply is recorded as intended before it is sent") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(1);
  // Refused apply: the state had the intent first, then the failure.
  fleet.boxes[0]->refuse_apply = "bad policy";
  Run run = rollout(fleet, options("1"), state);
  CHECK(run.result.halted);
  CHECK(stepOf(run.result, 0) == Step::STEP_FAILED);
  CHECK(run.result.state.boxes(0).previous_revision() == 4);
}

TEST_CASE("resume: a box confirmed by someone else meanwhile counts as confirmed") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(2);
  FakeSleeper stopping(fleet.clock, 2);  // the canary is stopped in its health window
  Run first = rollout(fleet, options("1,rest"), state, &stopping);
  REQUIRE(stepOf(first.result, 0) == Step::STEP_APPLIED);
  fleet.boxes[0]->pending = 0;  // `muzzlectl policy confirm` on the box
  Run second = rollout(fleet, options("1,rest"), state);
  CHECK(second.result.done);
  CHECK(second.has("gw-00: revision 5 was confirmed meanwhile"));
  CHECK(fleet.boxes[0]->applies == 1);
  CHECK(fleet.boxes[0]->confirms == 0);
}

TEST_CASE("a halted rollout is not resumed; --restart or a new desired state starts over") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(3);
  fleet.boxes[0]->rate_new = 20.0;
  Run first = rollout(fleet, options("1,rest"), state);
  REQUIRE(first.result.halted);
  const int calls = fleet.totalCalls();

  Run again = rollout(fleet, options("1,rest"), state);
  CHECK(again.result.halted);
  CHECK_FALSE(again.result.done);
  CHECK(fleet.totalCalls() == calls);  // no box touched
  CHECK(again.lines.back().find("rollout halted earlier: gw-00: deny rate 20.0/s") == 0);
  CHECK(again.lines.back().find("fix the fleet directory") != std::string::npos);
  CHECK(again.lines.back().find("pass --restart") != std::string::npos);

  // The box rolled back at its deadline; the admin fixed what made the denials and restarts.
  fleet.boxes[0]->rollBack();
  fleet.boxes[0]->rate_new = 0.0;
  RolloutOptions restart = options("1,rest");
  restart.restart = true;
  Run third = rollout(fleet, restart, state);
  INFO(third.all());
  CHECK(third.result.done);
  CHECK(fleet.boxes[0]->applies == 2);
}

TEST_CASE("a changed desired state is a new rollout, replacing the old state") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(3);
  fleet.boxes[0]->rate_new = 20.0;
  REQUIRE(rollout(fleet, options("1,rest"), state).result.halted);
  fleet.boxes[0]->rollBack();
  fleet.boxes[0]->desired = "fixed policy for gw-00";  // the admin edited the fleet directory
  fleet.boxes[0]->rate_new = 0.0;
  Run run = rollout(fleet, options("1,rest"), state);
  INFO(run.all());
  CHECK(run.result.done);
  CHECK(run.has("was for another desired state"));
  auto saved = loadRolloutState(state);
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  CHECK((*saved)->halted().empty());
  CHECK((*saved)->desired_sha256() == desiredSha256(boxesOf(fleet)));
}

TEST_CASE("a running rollout with other waves is not resumed with these") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(3);
  FakeSleeper stopping(fleet.clock, 2);
  REQUIRE_FALSE(rollout(fleet, options("1,rest"), state, &stopping).result.done);
  const int calls = fleet.totalCalls();
  Run run = rollout(fleet, options("2,rest"), state);
  CHECK(run.result.halted);
  CHECK(fleet.totalCalls() == calls);
  CHECK(run.lines.back().find("run with --waves 1,rest to resume it") != std::string::npos);
}

TEST_CASE("a damaged or oversized state file is refused with its name; no box is touched") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(2);
  SUBCASE("not JSON") {
    std::ofstream(state) << "{\"desired_sha256\": ";
  }
  SUBCASE("an unknown field") {
    std::ofstream(state) << "{\"desired_sha256\": \"ab\", \"nonsense\": 1}";
  }
  SUBCASE("a box without a wave") {
    std::ofstream(state) << "{\"boxes\": [{\"name\": \"gw-00\"}]}";
  }
  SUBCASE("oversized") {
    std::ofstream out(state);
    out << "{\"comment\": \"" << std::string(kMaxRolloutStateBytes, 'x') << "\"}";
  }
  SUBCASE("a folder") {
    fs::create_directory(state);
  }
  auto loaded = loadRolloutState(state);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message().find(state) != std::string::npos);
  Run run = rollout(fleet, options("1,rest"), state);
  CHECK(run.result.halted);
  CHECK(run.result.state.halted().find(state) != std::string::npos);
  CHECK(run.has(state));
  CHECK(fleet.totalCalls() == 0);
}

TEST_CASE("a state of another fleet with the same digest is refused") {
  TempDir dir;
  const std::string state = dir.file("state.json");
  FakeFleet fleet(2);
  v1::RolloutState s;
  s.set_desired_sha256(desiredSha256(boxesOf(fleet)));
  s.set_waves("1,rest");
  Step* b = s.add_boxes();
  b->set_name("gw-00");
  b->set_wave(1);
  REQUIRE(saveRolloutState(state, s).ok());
  Run run = rollout(fleet, options("1,rest"), state);
  CHECK(run.result.halted);
  CHECK(run.has("its boxes are not this fleet's"));
  CHECK(fleet.totalCalls() == 0);
}

TEST_CASE("no state file: nullopt; a state file that cannot be written halts before any box") {
  TempDir dir;
  auto none = loadRolloutState(dir.file("missing.json"));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  FakeFleet fleet(2);
  Run run = rollout(fleet, options("1,rest"), dir.file("no-such-folder/state.json"));
  CHECK(run.result.halted);
  // Its lock, next to it, cannot be made either: refused there, before the state is read.
  CHECK(run.has("cannot lock " + dir.file("no-such-folder/state.json") + ".lock"));
  CHECK(fleet.totalCalls() == 0);
  // Locked, but the state cannot be written (a folder where the file should be).
  std::filesystem::create_directory(dir.file("taken"));
  RolloutOptions fresh = options("1,rest");
  fresh.restart = true;  // not read first (reading a folder is refused on its own)
  Run unwritable = rollout(fleet, fresh, dir.file("taken"));
  INFO(unwritable.all());
  CHECK(unwritable.result.halted);
  CHECK(unwritable.has("rollout halted before it began"));
  CHECK(fleet.totalCalls() == 0);
}

TEST_CASE("bad waves and a zero confirm window are refused before any box") {
  TempDir dir;
  FakeFleet fleet(2);
  Run bad = rollout(fleet, options("1,x"), dir.file("state.json"));
  CHECK(bad.result.halted);
  CHECK(bad.has("\"x\""));
  RolloutOptions o = options("1,rest");
  o.confirm_seconds = 0;
  Run zero = rollout(fleet, o, dir.file("state.json"));
  CHECK(zero.result.halted);
  CHECK(fleet.totalCalls() == 0);
  CHECK_FALSE(fs::exists(dir.file("state.json")));
}

TEST_CASE("the digest covers names and texts, unambiguously") {
  FakeFleet a(2), b(2);
  CHECK(desiredSha256(boxesOf(a)) == desiredSha256(boxesOf(b)));
  b.boxes[1]->desired += " ";
  CHECK(desiredSha256(boxesOf(a)) != desiredSha256(boxesOf(b)));
  // "ab" + "c" is not "a" + "bc"
  std::vector<RolloutBox> x{{"ab", "c", nullptr}}, y{{"a", "bc", nullptr}};
  CHECK(desiredSha256(x) != desiredSha256(y));
}

}  // namespace
}  // namespace muzzle::fleet

// Shared by the revision tests: a fake engine whose posted work runs on the test's thread (the
// test plays the engine thread) and whose compiles can be held at a gate, and a Box (store,
// audit, log, committer) over a state folder that outlives restarts.
#pragma once

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "fw/common/sha256.h"
#include "fw/policy/policy_loader.h"
#include "mgmt/revisions/policy_committer.h"
#include "tests/unit/support/memory_file.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::testing {

constexpr const char* kPolicyA = R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
)";
constexpr const char* kPolicyB = R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}
)";
constexpr const char* kPolicyC = R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 123]}]}
)";
constexpr const char* kBadPolicy = R"(version: 1
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [70000]}]}
)";

// How long a test waits for something another thread does before it gives up. Not a timed
// assertion: on success nothing waits anywhere near this long.
constexpr auto kPatience = std::chrono::seconds(10);

// Holds compiles back until opened. A compile that finds it closed waits (at most kPatience, so
// a broken test fails instead of hanging).
class Gate {
 public:
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
    entered_ = 0;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait_for(lock, kPatience, [this] { return open_; });
  }
  // Waits until `n` compiles reached the gate.
  bool waitEntered(int n = 1) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return entered_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int entered_ = 0;
};

// Compiles for real (without a box), "installs" by remembering the text.
class FakeEngine : public EngineControl {
 public:
  void post(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
    cv_.notify_all();
  }
  // Runs posted work on this thread (the engine thread, for the test) until `done()` holds;
  // false if it still does not after kPatience.
  bool runUntil(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + kPatience;
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        // What `done()` waits for may come from another thread that posts nothing here (a
        // worker, a gRPC callback): wait in short slices, so it is seen at once, not at
        // kPatience (that cost the web console's tests ~10 s per request).
        if (!cv_.wait_for(lock, std::chrono::milliseconds(2), [this] { return !posted_.empty(); })) {
          if (std::chrono::steady_clock::now() >= give_up) return done();
          continue;
        }
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
      fn();
    }
    return true;
  }
  // Runs what is posted now, without waiting for more.
  void runPending() {
    while (true) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (posted_.empty()) return;
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
      fn();
    }
  }
  Result<PolicyContext> policyContext() override { return PolicyContext{}; }
  PolicyCompileResult compilePolicy(std::string_view text, std::string_view label,
                                    const PolicyContext& context) const override {
    gate.pass();
    auto c = compilePolicyText(text, label, context.site);
    if (!c.ok()) return c.withCode(StatusCode::kInvalidArgument);
    std::lock_guard<std::mutex> lock(mu_);
    checked_text[(*c)->digest] = std::string(text);
    ++compiles;
    return c;
  }
  Result<uint32_t> applyPolicy(std::shared_ptr<const CompiledPolicy> compiled,
                               std::chrono::steady_clock::duration) override {
    if (fail_install) return Status::error("kernel said no");
    std::lock_guard<std::mutex> lock(mu_);
    installed = checked_text.at(compiled->digest);
    policy = std::move(compiled);
    return ++generation;
  }
  Result<uint32_t> applyPolicyText(std::string_view text, std::string_view label) override {
    auto c = checkPolicyText(text, label);
    if (!c.ok()) return c.status();
    return applyPolicy(*c, {});
  }
  std::shared_ptr<const CompiledPolicy> installedPolicy() const override { return policy; }
  EngineStatus engineStatus() const override { return {}; }
  std::vector<DeviceRecord> devicesSeen() const override { return seen; }
  const DaemonConfig& config() const override { return config_; }
  // Learning mode, on a recorder of its own (the Daemon's is the Judge's).
  Status startLearning(MacAddress mac, std::chrono::seconds duration, bool observe) override {
    return learning.start(mac, duration, observe);
  }
  Status stopLearning(MacAddress mac) override {
    if (!learning.stop(mac)) return Status::error(StatusCode::kNotFound, mac.toString() + " is not learning");
    return Status();
  }
  Result<LearnReport> learnReport(MacAddress mac) const override {
    auto session = learning.session(mac);
    if (!session) return Status::error(StatusCode::kNotFound, mac.toString() + " has no learning session");
    return LearnReport{*session, learning.flows(mac)};
  }

  mutable Gate gate;
  std::string installed;
  mutable std::map<std::string, std::string> checked_text;  // digest -> the text compiled
  mutable int compiles = 0;
  std::shared_ptr<const CompiledPolicy> policy;
  uint32_t generation = 0;
  bool fail_install = false;
  DaemonConfig config_;
  std::vector<DeviceRecord> seen;  // what devicesSeen() answers
  ManualClock learn_clock;
  FlowRecorder learning{learn_clock};

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
};

inline std::string writeSeed(const std::string& dir, const char* text) {
  std::string path = dir + "/seed.yaml";
  std::ofstream(path) << text;
  return path;
}

// One box: store, audit, log and committer over a state dir that outlives restarts.
struct Box {
  explicit Box(const std::string& dir, ManualClock& clock,
               size_t keep = RevisionStore::kDefaultKeep)
      : dir(dir),
        store(dir, keep),
        audit(dir),
        log(out.get(), clock),
        commits(engine, store, audit, log, clock, state) {}
  std::string logText() {
    log.flush();  // lines reach the file on the log's delivery thread
    return out.text();
  }
  // Boots from `seed` (written to the state folder as seed.yaml) and returns the text that runs:
  // the seed on a fresh folder, else what the folder holds. The test stops if boot fails.
  std::string boot(const char* seed = kPolicyA) {
    auto text = commits.boot(writeSeed(dir, seed));
    REQUIRE(text.ok());
    return *text;
  }

  // Runs a committer call that answers through a callback, as the engine thread would, and
  // returns its answer.
  template <typename T>
  T await(const std::function<void(std::function<void(T)>)>& call) {
    std::optional<T> out;
    call([&](T r) { out.emplace(std::move(r)); });
    REQUIRE(engine.runUntil([&] { return out.has_value(); }));
    return std::move(*out);
  }
  // apply() with the whole reply: the outcome, or the refusal and its violations.
  CommitReply applyReply(const std::string& text, uint64_t expected = 0, uint32_t confirm = 0,
                         const std::string& comment = "",
                         const Caller& caller = {"admin-1", "unix"}) {
    return await<CommitReply>(
        [&](auto done) { commits.apply(text, expected, confirm, comment, caller, done); });
  }
  Result<CommitOutcome> apply(const std::string& text, uint64_t expected = 0, uint32_t confirm = 0,
                              const std::string& comment = "",
                              const Caller& caller = {"admin-1", "unix"}) {
    return applyReply(text, expected, confirm, comment, caller).outcome;
  }
  CommitReply rollbackReply(uint64_t to, uint64_t expected = 0,
                            const Caller& caller = {"admin-1", "unix"}) {
    return await<CommitReply>([&](auto done) { commits.rollback(to, expected, "", caller, done); });
  }
  Result<CommitOutcome> rollback(uint64_t to, uint64_t expected = 0,
                                 const Caller& caller = {"admin-1", "unix"}) {
    return rollbackReply(to, expected, caller).outcome;
  }
  Result<ValidateOutcome> validate(const std::string& text) {
    return await<Result<ValidateOutcome>>([&](auto done) { commits.validate(text, done); });
  }
  // Ticks; a rollback it starts compiles on the compile thread (see rolledBack()).
  void tick() {
    commits.tick();
    engine.runPending();
  }
  // Ticks and waits for the rollback that tick starts to land.
  bool tickAndRollBack() {
    commits.tick();
    return engine.runUntil([&] { return !commits.pending(); });
  }

  const std::string dir;  // the state folder
  MemoryFile out;         // where the box's EventLog writes
  FakeEngine engine;
  RevisionStore store;
  AuditLog audit;
  EventLog log;
  StateReport state;
  PolicyCommitter commits;
};

// A state folder and a clock for a test that starts boxes over them one after the other (a
// restart is a new Box). For TEST_CASE_FIXTURE.
struct StateFolder {
  TempDir dir;
  ManualClock clock;
};

// A box on a fresh state folder, booted from the seed kPolicyA: revision 1 is current. For
// TEST_CASE_FIXTURE.
struct SeededBox : StateFolder {
  SeededBox() { box.boot(); }
  Box box{dir.path, clock};
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

const Caller kAdmin{"admin-1", "unix"};

}  // namespace muzzle::testing

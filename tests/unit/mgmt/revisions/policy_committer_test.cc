// PolicyCommitter, RevisionStore and AuditLog against a fake engine and a ManualClock: revisions,
// optimistic concurrency, commit-confirmed (timeout and crash), the audit hash chain.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "fw/policy/policy_loader.h"
#include "mgmt/revisions/policy_committer.h"
#include "mgmt/revisions/text_diff.h"

namespace muzzle {
namespace {

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

// Compiles for real (without a box), "installs" by remembering the text.
class FakeEngine : public EngineControl {
 public:
  void post(std::function<void()> fn) override { fn(); }
  Result<std::shared_ptr<const CompiledPolicy>> checkPolicyText(std::string_view text,
                                                                std::string_view label) override {
    auto c = compilePolicyText(text, label, SiteFacts{});
    if (!c.ok()) return c.status().withCode(StatusCode::kInvalidArgument);
    checked_text[(*c)->digest] = std::string(text);
    ++compiles;
    return c;
  }
  Result<uint32_t> applyPolicy(std::shared_ptr<const CompiledPolicy> compiled,
                               std::chrono::steady_clock::duration) override {
    if (fail_install) return Status::error("kernel said no");
    installed = checked_text.at(compiled->digest);
    policy = std::move(compiled);
    return ++generation;
  }
  Result<uint32_t> applyPolicyText(std::string_view text, std::string_view label) override {
    if (fail_install) return Status::error("kernel said no");
    auto c = checkPolicyText(text, label);
    if (!c.ok()) return c.status();
    installed = std::string(text);
    policy = *c;
    return ++generation;
  }
  std::shared_ptr<const CompiledPolicy> installedPolicy() const override { return policy; }
  EngineStatus engineStatus() const override { return {}; }
  std::vector<v1::DeviceRecord> devicesSeen() const override { return {}; }
  const DaemonConfig& config() const override { return config_; }

  std::string installed;
  std::map<std::string, std::string> checked_text;  // digest -> the text checkPolicyText compiled
  int compiles = 0;
  std::shared_ptr<const CompiledPolicy> policy;
  uint32_t generation = 0;
  bool fail_install = false;
  DaemonConfig config_;
};

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/muzzle-mgmt-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// One box: store, audit, log and committer over a state dir that outlives restarts.
struct Box {
  explicit Box(const std::string& dir, ManualClock& clock)
      : store(dir), audit(dir), log(sink(), clock), commits(engine, store, audit, log, clock) {}
  static FILE* sink() {
    static FILE* f = std::fopen("/dev/null", "w");
    return f;
  }
  FakeEngine engine;
  RevisionStore store;
  AuditLog audit;
  EventLog log;
  PolicyCommitter commits;
};

std::string writeSeed(const std::string& dir, const char* text) {
  std::string path = dir + "/seed.yaml";
  std::ofstream(path) << text;
  return path;
}

const Caller kAdmin{"admin-1", "unix"};

TEST_CASE("boot seeds revision 1 from the policy file, and later boots keep the current revision") {
  TempDir dir;
  ManualClock clock;
  {
    Box box(dir.path, clock);
    auto text = box.commits.boot(writeSeed(dir.path, kPolicyA));
    REQUIRE(text.ok());
    CHECK(*text == kPolicyA);
    CHECK(box.commits.current() == 1);
    REQUIRE(box.commits.apply(kPolicyB, 1, 0, "b", kAdmin).ok());
  }
  Box again(dir.path, clock);
  auto text = again.commits.boot(writeSeed(dir.path, kPolicyC));  // the seed is ignored now
  REQUIRE(text.ok());
  CHECK(*text == kPolicyB);
  CHECK(again.commits.current() == 2);
}

TEST_CASE("apply: new revision, stale expected_revision is ABORTED, bad policy INVALID_ARGUMENT") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());

  const int compiles_before = box.engine.compiles;
  auto ok = box.commits.apply(kPolicyB, 1, 0, "more ports", kAdmin);
  REQUIRE(ok.ok());
  CHECK(ok->revision.number() == 2);
  // Checked once and that same compiled policy installed: a second compile would double the
  // time from SIGHUP to the swap.
  CHECK(box.engine.compiles == compiles_before + 1);
  CHECK(ok->previous_revision == 1);
  CHECK(ok->revision.author() == "admin-1");
  CHECK(box.engine.installed == kPolicyB);

  auto stale = box.commits.apply(kPolicyC, 1, 0, "", kAdmin);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().code() == StatusCode::kAborted);
  CHECK(stale.status().message() == "expected revision 1, but the box is at revision 2; re-read the policy and try again");

  auto bad = box.commits.apply(kBadPolicy, 0, 0, "", kAdmin);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() == "policy.yaml:3: profiles.quarantine.egress[0].ports[0]: 70000 is not a port");
  CHECK(box.commits.current() == 2);
  CHECK(box.store.latest() == 2);  // nothing written
  CHECK(box.engine.installed == kPolicyB);

  auto same = box.commits.apply(kPolicyB, 0, 0, "", kAdmin);
  REQUIRE(same.ok());
  CHECK(same->unchanged);
  CHECK(box.store.latest() == 2);
  // What was compiled to see it is unchanged, for SIGHUP to install again without a second
  // compile.
  REQUIRE(same->compiled != nullptr);
  CHECK(same->compiled->digest == box.engine.policy->digest);
}

TEST_CASE("validate reports violations with file, line and field, and a diff") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  ValidateOutcome bad = box.commits.validate(kBadPolicy);
  CHECK_FALSE(bad.valid);
  REQUIRE(bad.violations.size() == 1);
  CHECK(bad.violations[0].file() == "policy.yaml");
  CHECK(bad.violations[0].line() == 3);
  CHECK(bad.violations[0].field() == "profiles.quarantine.egress[0].ports[0]");
  CHECK(bad.violations[0].message() == "70000 is not a port");
  ValidateOutcome good = box.commits.validate(kPolicyB);
  CHECK(good.valid);
  CHECK(good.base_revision == 1);
  CHECK(good.diff ==
        "--- revision 1\n+++ proposed\n@@ -1,3 +1,3 @@\n version: 1\n profiles:\n"
        "-  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}\n"
        "+  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}\n");
  CHECK(box.commits.validate(kPolicyA).diff.empty());
}

TEST_CASE("validate of text that is not UTF-8: a violation with the line, and no diff") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  ValidateOutcome bad = box.commits.validate("version: 1\nprofiles: {quarantine\xff: {}}\n");
  CHECK_FALSE(bad.valid);
  REQUIRE(bad.violations.size() == 1);
  CHECK(bad.violations[0].line() == 2);
  CHECK(bad.violations[0].message() ==
        "byte 22 of this line (0xff) is not UTF-8; save the file as UTF-8");
  // Every string field of the response must stay UTF-8, or no client can read it.
  CHECK(bad.diff.empty());
}

TEST_CASE("commit-confirmed: confirmed in time stays; not confirmed rolls back on the clock") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());

  auto c = box.commits.apply(kPolicyB, 1, 60, "try", kAdmin);
  REQUIRE(c.ok());
  REQUIRE(c->pending);
  CHECK(c->pending->rollback_to() == 1);
  CHECK(box.engine.installed == kPolicyB);  // takes effect at once

  SUBCASE("confirmed") {
    auto another = box.commits.apply(kPolicyC, 0, 0, "", kAdmin);
    CHECK(another.status().code() == StatusCode::kFailedPrecondition);
    clock.advance(std::chrono::seconds(59));
    box.commits.tick();
    CHECK(box.commits.confirm(3, kAdmin).status().code() == StatusCode::kFailedPrecondition);
    REQUIRE(box.commits.confirm(0, kAdmin).ok());
    clock.advance(std::chrono::seconds(10));
    box.commits.tick();
    CHECK(box.commits.current() == 2);
    CHECK(box.engine.installed == kPolicyB);
    CHECK_FALSE(box.commits.pending());
    CHECK(box.commits.confirm(0, kAdmin).status().code() == StatusCode::kFailedPrecondition);
  }
  SUBCASE("not confirmed") {
    clock.advance(std::chrono::seconds(59));
    box.commits.tick();
    CHECK(box.commits.current() == 2);
    clock.advance(std::chrono::seconds(1));
    box.commits.tick();
    CHECK(box.commits.current() == 3);  // a new revision with revision 1's text
    CHECK(*box.store.content(3) == kPolicyA);
    CHECK(box.engine.installed == kPolicyA);
    CHECK_FALSE(box.commits.pending());
    AuditChain chain = box.audit.read();
    REQUIRE(chain.entries.size() == 3);
    CHECK(chain.entries[2].action() == "auto-rollback");
    CHECK(chain.entries[2].who() == "muzzled");
    CHECK(chain.entries[2].old_revision() == 2);
    CHECK(chain.entries[2].new_revision() == 3);
  }
}

TEST_CASE("a crash inside the confirmation window ends in a rollback at the next boot") {
  TempDir dir;
  ManualClock clock;
  {
    Box box(dir.path, clock);
    REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
    REQUIRE(box.commits.apply(kPolicyB, 1, 300, "risky", kAdmin).ok());
    // The process dies here: no tick, no confirm.
  }
  Box after(dir.path, clock);
  auto text = after.commits.boot(writeSeed(dir.path, kPolicyC));
  REQUIRE(text.ok());
  CHECK(*text == kPolicyA);
  CHECK(after.commits.current() == 3);
  CHECK_FALSE(after.commits.pending());
  CHECK(after.audit.read().entries.back().action() == "auto-rollback");
}

TEST_CASE("a refused install leaves the store as it was") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  box.engine.fail_install = true;
  auto c = box.commits.apply(kPolicyB, 0, 30, "", kAdmin);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() == "installing revision 2: kernel said no");
  CHECK(box.commits.current() == 1);
  CHECK_FALSE(box.commits.pending());
}

TEST_CASE("rollback: to the parent by default, to a named revision, unknown is NOT_FOUND") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  CHECK(box.commits.rollback(0, 0, "", kAdmin).status().code() == StatusCode::kFailedPrecondition);
  REQUIRE(box.commits.apply(kPolicyB, 0, 0, "", kAdmin).ok());
  REQUIRE(box.commits.apply(kPolicyC, 0, 0, "", kAdmin).ok());
  auto back = box.commits.rollback(0, 3, "", kAdmin);
  REQUIRE(back.ok());
  CHECK(back->revision.number() == 4);
  CHECK(box.engine.installed == kPolicyB);
  CHECK(box.commits.rollback(1, 3, "", kAdmin).status().code() == StatusCode::kAborted);
  REQUIRE(box.commits.rollback(1, 4, "", kAdmin).ok());
  CHECK(box.engine.installed == kPolicyA);
  CHECK(box.commits.rollback(99, 0, "", kAdmin).status().code() == StatusCode::kNotFound);
}

TEST_CASE("only the last revisions are kept, never the current one") {
  TempDir dir;
  ManualClock clock;
  FakeEngine engine;
  RevisionStore store(dir.path, 3);
  AuditLog audit(dir.path);
  EventLog log(Box::sink(), clock);
  PolicyCommitter commits(engine, store, audit, log, clock);
  REQUIRE(commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  const char* texts[] = {kPolicyB, kPolicyC, kPolicyA, kPolicyB};
  for (const char* t : texts) REQUIRE(commits.apply(t, 0, 0, "", kAdmin).ok());
  auto list = store.list();
  REQUIRE(list.size() == 3);
  CHECK(list[0].number() == 5);
  CHECK(list[2].number() == 3);
  CHECK(store.content(1).status().code() == StatusCode::kNotFound);
}

TEST_CASE("the audit chain verifies, and an edited or removed line breaks it there") {
  TempDir dir;
  ManualClock clock;
  Box box(dir.path, clock);
  REQUIRE(box.commits.boot(writeSeed(dir.path, kPolicyA)).ok());
  REQUIRE(box.commits.apply(kPolicyB, 0, 0, "first", kAdmin).ok());
  REQUIRE(box.commits.apply(kPolicyC, 0, 0, "second", kAdmin).ok());
  AuditChain chain = box.audit.read();
  CHECK(chain.ok);
  REQUIRE(chain.entries.size() == 3);
  CHECK(chain.entries[1].comment() == "first");
  CHECK(chain.entries[1].prev_hash() == chain.entries[0].hash());

  std::ifstream in(box.audit.path());
  std::stringstream text;
  text << in.rdbuf();
  std::string content = text.str();
  SUBCASE("edited") {
    content.replace(content.find("\"first\""), 7, "\"forst\"");
    std::ofstream(box.audit.path()) << content;
    AuditChain broken = box.audit.read();
    CHECK_FALSE(broken.ok);
    CHECK(broken.error == box.audit.path() + ":2: hash does not match the entry (entry edited)");
  }
  SUBCASE("removed") {
    size_t first_end = content.find('\n');
    size_t second_end = content.find('\n', first_end + 1);
    content.erase(first_end + 1, second_end - first_end);
    std::ofstream(box.audit.path()) << content;
    AuditChain broken = box.audit.read();
    CHECK_FALSE(broken.ok);
    CHECK(broken.error == box.audit.path() +
                              ":2: prev_hash does not match the line before (lines removed or reordered)");
  }
}

TEST_CASE("unified diff: hunks with context, insertions at the end, identical texts") {
  CHECK(unifiedDiff("a\nb\n", "a\nb\n", "x", "y").empty());
  CHECK(unifiedDiff("a\n", "a\nb\n", "x", "y") == "--- x\n+++ y\n@@ -1,1 +1,2 @@\n a\n+b\n");
  CHECK(unifiedDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", "x", "y") ==
        "--- x\n+++ y\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n");
}

}  // namespace
}  // namespace muzzle

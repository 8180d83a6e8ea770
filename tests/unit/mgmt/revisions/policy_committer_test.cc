// PolicyCommitter, RevisionStore and AuditLog against a fake engine and a ManualClock: revisions,
// optimistic concurrency, commit-confirmed (timeout and crash), audit before every change.
#include "mgmt/revisions/text_diff.h"
#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

TEST_CASE_FIXTURE(
    StateFolder,
    "boot seeds revision 1 from the policy file, and later boots keep the current revision") {
  {
    Box box(dir.path, clock);
    CHECK(box.boot() == kPolicyA);
    CHECK(box.commits.current() == 1);
    REQUIRE(box.apply(kPolicyB, 1, 0, "b").ok());
  }
  Box again(dir.path, clock);
  CHECK(again.boot(kPolicyC) == kPolicyB);  // the seed is ignored now
  CHECK(again.commits.current() == 2);
  CHECK(again.state.ok());
}

TEST_CASE_FIXTURE(
    SeededBox,
    "apply: new revision, stale expected_revision is ABORTED, bad policy INVALID_ARGUMENT") {
  const int compiles_before = box.engine.compiles;
  auto ok = box.apply(kPolicyB, 1, 0, "more ports");
  REQUIRE(ok.ok());
  CHECK(ok->revision.number() == 2);
  // Checked once and that same compiled policy installed: a second compile would double the
  // time from SIGHUP to the swap.
  CHECK(box.engine.compiles == compiles_before + 1);
  CHECK(ok->previous_revision == 1);
  CHECK(ok->revision.author() == "admin-1");
  CHECK(box.engine.installed == kPolicyB);

  auto stale = box.apply(kPolicyC, 1);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().code() == StatusCode::kAborted);
  CHECK(stale.status().message() ==
        "expected revision 1, but the box is at revision 2; re-read the policy and try again");

  auto bad = box.apply(kBadPolicy);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() ==
        "policy.yaml:3: profiles.quarantine.egress[0].ports[0]: 70000 is not a port");
  CHECK(box.commits.current() == 2);
  CHECK(box.store.latest() == 2);  // nothing written
  CHECK(box.engine.installed == kPolicyB);

  auto same = box.apply(kPolicyB);
  REQUIRE(same.ok());
  CHECK(same->unchanged);
  CHECK(box.store.latest() == 2);
  // What was compiled to see it is unchanged, for SIGHUP to install again without a second
  // compile.
  REQUIRE(same->compiled != nullptr);
  CHECK(same->compiled->digest == box.engine.policy->digest);
}

TEST_CASE_FIXTURE(
    SeededBox, "expected_revision is checked again after the compile: the box may have moved on") {
  // Both are accepted for compiling at revision 1; the first to commit wins.
  std::optional<Result<CommitOutcome>> first, second;
  box.commits.apply(kPolicyB, 1, 0, "", kAdmin, [&](CommitReply r) { first.emplace(r.outcome); });
  box.commits.apply(kPolicyC, 1, 0, "", kAdmin,
                    [&](CommitReply r) { second.emplace(r.outcome); });
  REQUIRE(box.engine.runUntil([&] { return first && second; }));
  REQUIRE(first->ok());
  REQUIRE_FALSE(second->ok());
  CHECK(second->status().code() == StatusCode::kAborted);
  CHECK(box.engine.installed == kPolicyB);
  CHECK(box.commits.current() == 2);
}

TEST_CASE_FIXTURE(SeededBox, "validate reports violations with file, line and field, and a diff") {
  auto bad = box.validate(kBadPolicy);
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->valid);
  REQUIRE(bad->violations.size() == 1);
  CHECK(bad->violations[0].file() == "policy.yaml");
  CHECK(bad->violations[0].line() == 3);
  CHECK(bad->violations[0].field() == "profiles.quarantine.egress[0].ports[0]");
  CHECK(bad->violations[0].message() == "70000 is not a port");
  auto good = box.validate(kPolicyB);
  REQUIRE(good.ok());
  CHECK(good->valid);
  CHECK(good->base_revision == 1);
  CHECK(good->diff ==
        "--- revision 1\n+++ proposed\n@@ -1,3 +1,3 @@\n version: 1\n profiles:\n"
        "-  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}\n"
        "+  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}\n");
  CHECK(box.validate(kPolicyA)->diff.empty());
}

TEST_CASE_FIXTURE(SeededBox,
                  "validate of text that is not UTF-8: a violation with the line, and no diff") {
  auto bad = box.validate("version: 1\nprofiles: {quarantine\xff: {}}\n");
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->valid);
  REQUIRE(bad->violations.size() == 1);
  CHECK(bad->violations[0].line() == 2);
  CHECK(bad->violations[0].message() ==
        "byte 22 of this line (0xff) is not UTF-8; save the file as UTF-8");
  // Every string field of the response must stay UTF-8, or no client can read it.
  CHECK(bad->diff.empty());
}

TEST_CASE_FIXTURE(
    SeededBox, "commit-confirmed: confirmed in time stays; not confirmed rolls back on the clock") {
  auto c = box.apply(kPolicyB, 1, 60, "try");
  REQUIRE(c.ok());
  REQUIRE(c->pending);
  CHECK(c->pending->rollback_to() == 1);
  CHECK(box.engine.installed == kPolicyB);  // takes effect at once

  SUBCASE("confirmed") {
    auto another = box.apply(kPolicyC);
    CHECK(another.status().code() == StatusCode::kFailedPrecondition);
    clock.advance(std::chrono::seconds(59));
    box.tick();
    CHECK(box.commits.confirm(3, kAdmin).status().code() == StatusCode::kFailedPrecondition);
    REQUIRE(box.commits.confirm(0, kAdmin).ok());
    clock.advance(std::chrono::seconds(10));
    box.tick();
    CHECK(box.commits.current() == 2);
    CHECK(box.engine.installed == kPolicyB);
    CHECK_FALSE(box.commits.pending());
    CHECK(box.commits.confirm(0, kAdmin).status().code() == StatusCode::kFailedPrecondition);
  }
  SUBCASE("not confirmed") {
    clock.advance(std::chrono::seconds(59));
    box.tick();
    CHECK(box.commits.current() == 2);
    clock.advance(std::chrono::seconds(1));
    REQUIRE(box.tickAndRollBack());
    CHECK(box.commits.current() == 3);  // a new revision with revision 1's text
    CHECK(*box.store.content(3) == kPolicyA);
    CHECK(box.engine.installed == kPolicyA);
    CHECK_FALSE(box.commits.pending());
    AuditChain chain = box.commits.auditChain();
    CHECK(chain.ok);
    REQUIRE(chain.entries.size() == 3);
    CHECK(chain.entries[2].action() == "auto-rollback");
    CHECK(chain.entries[2].who() == "muzzled");
    CHECK(chain.entries[2].old_revision() == 2);
    CHECK(chain.entries[2].new_revision() == 3);
  }
}

TEST_CASE_FIXTURE(StateFolder,
                  "a crash inside the confirmation window ends in a rollback at the next boot") {
  {
    Box box(dir.path, clock);
    box.boot();
    REQUIRE(box.apply(kPolicyB, 1, 300, "risky").ok());
    // The process dies here: no tick, no confirm.
  }
  Box after(dir.path, clock);
  CHECK(after.boot(kPolicyC) == kPolicyA);
  CHECK(after.commits.current() == 3);
  CHECK_FALSE(after.commits.pending());
  CHECK(after.audit.last()->action() == "auto-rollback");
  CHECK(after.state.ok());  // an ordinary rollback, not damage
}

TEST_CASE_FIXTURE(SeededBox,
                  "a refused install leaves the store as it was, and the audit log says so") {
  box.engine.fail_install = true;
  auto c = box.apply(kPolicyB, 0, 30);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() == "installing revision 2: kernel said no");
  CHECK(box.commits.current() == 1);
  CHECK_FALSE(box.commits.pending());
  AuditChain chain = box.commits.auditChain();
  CHECK(chain.ok);
  REQUIRE(chain.entries.size() == 3);
  CHECK(chain.entries[1].action() == "apply");
  CHECK(chain.entries[2].action() == "apply-failed");
  CHECK(chain.entries[2].old_revision() == 2);
  CHECK(chain.entries[2].new_revision() == 1);
  CHECK(chain.entries[2].comment() == "installing revision 2: kernel said no");
}

TEST_CASE_FIXTURE(SeededBox, "a change that cannot be audited is refused and not applied") {
  // audit.log as a folder: it cannot be opened for appending, while revisions can be written.
  const std::string log_text = readFile(box.audit.path());
  std::filesystem::remove(box.audit.path());
  std::filesystem::create_directory(box.audit.path());
  auto c = box.apply(kPolicyB, 0, 0, "unaudited");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::kFailedPrecondition);
  CHECK(c.status().message().find("cannot apply revision 2: the state folder " + dir.path +
                                  " cannot be written (" + box.audit.path() + ": cannot open") ==
        0);
  CHECK(c.status().message().find("nothing was changed and the box keeps revision 1") !=
        std::string::npos);
  CHECK(box.engine.installed.empty());  // boot leaves the install to the engine's start
  CHECK(box.commits.current() == 1);
  CHECK(box.store.latest() == 1);
  CHECK_FALSE(std::filesystem::exists(box.store.policyPath(2)));
  CHECK_FALSE(box.state.writable());
  CHECK(box.logText().find("event=state-unwritable") != std::string::npos);

  SUBCASE("confirm is refused the same way") {
    std::filesystem::remove(box.audit.path());
    writeFile(box.audit.path(), log_text);
    REQUIRE(box.audit.open().ok());
    REQUIRE(box.apply(kPolicyB, 0, 60).ok());
    std::filesystem::remove(box.audit.path());
    std::filesystem::create_directory(box.audit.path());
    auto confirmed = box.commits.confirm(0, kAdmin);
    CHECK(confirmed.status().code() == StatusCode::kFailedPrecondition);
    CHECK(box.commits.pending());  // still pending: the confirmation was not recorded
  }
  SUBCASE("once it can be written again, changes go through and the problem clears") {
    std::filesystem::remove(box.audit.path());
    writeFile(box.audit.path(), log_text);
    REQUIRE(box.audit.open().ok());
    REQUIRE(box.apply(kPolicyB).ok());
    CHECK(box.state.ok());
    CHECK(box.commits.auditChain().ok);
  }
}

TEST_CASE_FIXTURE(
    StateFolder,
    "a revision whose audit entry was written but which never became current is logged as "
    "interrupted") {
  {
    Box box(dir.path, clock);
    box.boot();
    // Apply's audit entry for revision 2, as if muzzled died right after writing it.
    v1::AuditEntry e;
    e.set_who("admin-1");
    e.set_action("apply");
    e.set_old_revision(1);
    e.set_new_revision(2);
    REQUIRE(box.audit.append(e).ok());
  }
  Box after(dir.path, clock);
  after.boot();
  CHECK(after.commits.current() == 1);
  REQUIRE(after.audit.last());
  CHECK(after.audit.last()->action() == "interrupted");
  CHECK(after.audit.last()->comment() ==
        "muzzled stopped before revision 2 took effect; revision 1 stayed current");
  CHECK(after.commits.auditChain().ok);
}

TEST_CASE_FIXTURE(SeededBox,
                  "rollback: to the parent by default, to a named revision, unknown is NOT_FOUND") {
  CHECK(box.rollback(0).status().code() == StatusCode::kFailedPrecondition);
  REQUIRE(box.apply(kPolicyB).ok());
  REQUIRE(box.apply(kPolicyC).ok());
  auto back = box.rollback(0, 3);
  REQUIRE(back.ok());
  CHECK(back->revision.number() == 4);
  CHECK(box.engine.installed == kPolicyB);
  CHECK(box.rollback(1, 3).status().code() == StatusCode::kAborted);
  REQUIRE(box.rollback(1, 4).ok());
  CHECK(box.engine.installed == kPolicyA);
  CHECK(box.rollback(99).status().code() == StatusCode::kNotFound);
}

TEST_CASE_FIXTURE(
    SeededBox,
    "edit: the change is made off the engine thread and ABORTED when another change lands first") {
  auto addCamera = [](const char* name, const char* mac) {
    return [name, mac](const std::string& text) -> Result<std::string> {
      const std::string entry =
          std::string("  - {name: ") + name + ", mac: \"" + mac + "\", profile: quarantine}\n";
      return text + (text.find("devices:") == std::string::npos ? "devices:\n" : "") + entry;
    };
  };
  auto edited = box.await<CommitReply>([&](auto done) {
    box.commits.edit(addCamera("cam", "44:47:cc:00:00:11"), "device-set", "", 0, kAdmin, done);
  }).outcome;
  REQUIRE(edited.ok());
  CHECK(edited->revision.number() == 2);
  CHECK(box.engine.policy->devices.size() == 1);
  // The text the change returned is the revision, as it was written.
  CHECK(*box.store.content(2) == std::string(kPolicyA) +
                                     "devices:\n  - {name: cam, mac: \"44:47:cc:00:00:11\", "
                                     "profile: quarantine}\n");

  std::optional<Result<CommitOutcome>> applied, raced;
  box.commits.apply(kPolicyB, 0, 0, "", kAdmin,
                    [&](CommitReply r) { applied.emplace(r.outcome); });
  box.commits.edit(addCamera("cam2", "44:47:cc:00:00:12"), "device-set", "", 0, kAdmin,
                   [&](CommitReply r) { raced.emplace(r.outcome); });
  REQUIRE(box.engine.runUntil([&] { return applied && raced; }));
  REQUIRE(applied->ok());
  CHECK(raced->status().code() == StatusCode::kAborted);
  CHECK(raced->status().message() ==
        "revision 3 became current while this change to revision 2 was prepared; try again");
}

TEST_CASE_FIXTURE(SeededBox,
                  "edit: a change's error and a text that does not compile are refused (with the "
                  "violations); a confirm window (bounded) makes it pending; pending refuses") {
  auto edit = [&](std::string text, uint32_t confirm) {
    return box.await<CommitReply>([&](auto done) {
      box.commits.edit(
          [text](const std::string&) -> Result<std::string> {
            if (text.empty()) return Status::error(StatusCode::kNotFound, "no such device");
            return text;
          },
          "device-set", "", confirm, kAdmin, done);
    });
  };
  CHECK(edit("", 0).outcome.status().message() == "no such device");
  CommitReply bad = edit(kBadPolicy, 0);
  CHECK(bad.outcome.status().code() == StatusCode::kInvalidArgument);
  REQUIRE(bad.violations.size() == 1);
  CHECK(bad.violations[0].line() == 3);
  CHECK(box.commits.current() == 1);
  CHECK(edit(kPolicyA, 0).outcome->unchanged);  // the same text: no new revision

  auto pending = edit(kPolicyB, 60).outcome;
  REQUIRE(pending.ok());
  REQUIRE(pending->pending);
  CHECK(pending->pending->rollback_to() == 1);
  CHECK(edit(kPolicyC, 0).outcome.status().code() == StatusCode::kFailedPrecondition);
  CHECK(edit(kPolicyC, PolicyCommitter::kMaxConfirmSeconds + 1).outcome.status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE_FIXTURE(StateFolder, "only the last revisions are kept, never the current one") {
  Box box(dir.path, clock, 3);
  box.boot();
  const char* texts[] = {kPolicyB, kPolicyC, kPolicyA, kPolicyB};
  for (const char* t : texts) REQUIRE(box.apply(t).ok());
  auto list = box.store.list();
  REQUIRE(list.size() == 3);
  CHECK(list[0].number() == 5);
  CHECK(list[2].number() == 3);
  CHECK(box.store.content(1).status().code() == StatusCode::kNotFound);
}

TEST_CASE("unified diff: hunks with context, insertions at the end, identical texts") {
  CHECK(unifiedDiff("a\nb\n", "a\nb\n", "x", "y").empty());
  CHECK(unifiedDiff("a\n", "a\nb\n", "x", "y") == "--- x\n+++ y\n@@ -1,1 +1,2 @@\n a\n+b\n");
  CHECK(unifiedDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", "x", "y") ==
        "--- x\n+++ y\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n");
}

}  // namespace
}  // namespace muzzle

// Damaged or unwritable state at boot: the box still starts from something intact (the newest
// intact revision, else the configured policy), keeps every damaged file, says so loudly, and a
// state folder that cannot be written runs from memory and refuses changes.
#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

// Revisions 1 (A, the seed), 2 (B), 3 (C, current), then a restart.
struct ThreeRevisions : StateFolder {
  ThreeRevisions() {
    Box box(dir.path, clock);
    box.boot();
    REQUIRE(box.apply(kPolicyB).ok());
    REQUIRE(box.apply(kPolicyC).ok());
    revisions = dir.path + "/revisions";
  }
  std::vector<std::string> damagedFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path)) {
      if (e.path().filename().string().find(".damaged-") != std::string::npos) {
        out.push_back(e.path().filename().string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string revisions;
};

TEST_CASE_FIXTURE(ThreeRevisions,
                  "a garbled current pointer: the newest intact revision runs, as a new revision") {
  const char* garbled[] = {"", "3x\n", "\x7f\x45\x4c\x46", "99\n"};
  uint64_t newest = 3;
  for (const char* text : garbled) {
    CAPTURE(text);
    writeFile(revisions + "/current", text);
    Box box(dir.path, clock);
    CHECK(box.boot() == kPolicyC);
    const uint64_t now = box.commits.current();
    CHECK(now == box.store.latest());
    CHECK(*box.store.content(now) == kPolicyC);
    CHECK(box.audit.last()->action() == "fallback");
    CHECK(box.commits.auditChain().ok);
    // Loud: a log line with the fallback, and the status keeps it.
    CHECK(box.logText().find("event=state-damaged file=" + revisions + "/current") !=
          std::string::npos);
    // The newest before this boot: 3 the first time, then the fallback each boot made. (After
    // "99", the next number is 100: a number a pointer named is never handed out.)
    CHECK(box.logText().find("fallback_revision=" + std::to_string(newest)) != std::string::npos);
    CHECK_FALSE(box.state.ok());
    CHECK(box.state.fallbackRevision() == newest);
    newest = now;
    REQUIRE(box.state.problems().size() == 1);
    CHECK(box.state.problems()[0].kind == StateProblem::Kind::kDamaged);
    // Kept for inspection, byte for byte.
    REQUIRE(box.state.problems()[0].kept_as.starts_with(revisions + "/current.damaged-"));
    CHECK(readFile(box.state.problems()[0].kept_as) == text);
    std::filesystem::remove(box.state.problems()[0].kept_as);
  }
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "a damaged current revision: set aside, its parent runs, numbers keep growing") {
  SUBCASE("torn text") { writeFile(revisions + "/r00000003.policy", "version: 1\nprof"); }
  SUBCASE("garbled metadata") { writeFile(revisions + "/r00000003.meta", "{\"number\": "); }
  Box box(dir.path, clock);
  CHECK(box.boot() == kPolicyB);
  // Revision 3 was set aside, but its number is never handed out again.
  CHECK(box.commits.current() == 4);
  CHECK(*box.store.content(4) == kPolicyB);
  CHECK_FALSE(box.store.has(3));
  CHECK(damagedFiles().size() == 2);  // r00000003.meta and .policy, both kept
  CHECK(box.state.fallbackRevision() == 2);
  CHECK(box.logText().find("event=state-damaged file=" + revisions + "/r00000003.meta") !=
        std::string::npos);
  REQUIRE(box.apply(kPolicyC).ok());
  CHECK(box.commits.current() == 5);
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "an intact revision that no longer compiles: kept in place, its parent runs") {
  // As if a stricter muzzled now refuses what revision 3 says, or a list it names is gone: its
  // checksum still matches, so the metadata is rewritten to match the new text.
  {
    Box box(dir.path, clock);
    box.boot();
    REQUIRE(box.apply(kBadPolicy).status().code() == StatusCode::kInvalidArgument);
  }
  v1::Revision meta;
  {
    Box box(dir.path, clock);
    box.boot();
    meta = *box.store.revision(3);
  }
  writeFile(revisions + "/r00000003.policy", kBadPolicy);
  meta.set_sha256(sha256Hex(kBadPolicy));
  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(meta, &json).ok());
  writeFile(revisions + "/r00000003.meta", json);

  Box box(dir.path, clock);
  CHECK(box.boot() == kPolicyB);
  CHECK(box.store.has(3));  // not damaged: nothing set aside
  CHECK(damagedFiles().empty());
  REQUIRE(box.state.problems().size() == 1);
  CHECK(box.state.problems()[0].kind == StateProblem::Kind::kNotCompiling);
  CHECK(box.state.problems()[0].problem.find("revision 3 does not compile: policy.yaml:3:") == 0);
}

TEST_CASE_FIXTURE(
    StateFolder, "the fallback follows what ran (parents), not a revision that was never current") {
  {
    Box box(dir.path, clock);
    box.boot();
    box.engine.fail_install = true;
    REQUIRE_FALSE(box.apply(kPolicyB).ok());  // revision 2: written, refused by the kernel
    box.engine.fail_install = false;
    REQUIRE(box.apply(kPolicyC).ok());  // revision 3, parent 1
  }
  writeFile(dir.path + "/revisions/r00000003.policy", "torn");
  Box box(dir.path, clock);
  CHECK(box.boot() == kPolicyA);
  CHECK(box.state.fallbackRevision() == 1);
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "boot hands over the policy it compiled for the text it chose, compiled once") {
  SUBCASE("the current revision") {
    Box box(dir.path, clock);
    CHECK(box.boot() == kPolicyC);
    auto [policy, took] = box.commits.takeBootPolicy();
    REQUIRE(policy != nullptr);
    CHECK(box.engine.checked_text.at(policy->digest) == kPolicyC);
    CHECK(box.engine.compiles == 1);
    CHECK(took.count() > 0);
    CHECK(box.commits.takeBootPolicy().first == nullptr);  // moved out
  }
  SUBCASE("a fallback: the parent's, not the damaged revision's") {
    writeFile(revisions + "/r00000003.policy", "version: 1\nprof");
    Box box(dir.path, clock);
    CHECK(box.boot() == kPolicyB);
    auto [policy, took] = box.commits.takeBootPolicy();
    REQUIRE(policy != nullptr);
    CHECK(box.engine.checked_text.at(policy->digest) == kPolicyB);
  }
}

TEST_CASE_FIXTURE(ThreeRevisions, "nothing intact left: the configured policy runs") {
  for (const char* n : {"1", "2", "3"}) {
    writeFile(revisions + "/r0000000" + n + ".meta", "not json");
  }
  Box box(dir.path, clock);
  CHECK(box.boot(kPolicyB) == kPolicyB);
  CHECK(box.commits.current() == 4);
  CHECK(box.state.problems().size() == 3);
  CHECK(box.logText().find("fallback_policy=" + dir.path + "/seed.yaml") != std::string::npos);
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "a garbled pending file: set aside, and the unconfirmed commit rolled back") {
  {
    Box box(dir.path, clock);
    box.boot();
    REQUIRE(box.apply(kPolicyA, 0, 300, "risky").ok());  // revision 4 pends, rollback to 3
  }
  writeFile(revisions + "/pending", "{\"revision\": \"4\", \"rollba");
  Box box(dir.path, clock);
  CHECK(box.boot() == kPolicyC);  // revision 3's text: what the commit would roll back to
  CHECK_FALSE(box.commits.pending());
  CHECK(box.commits.current() == 5);
  CHECK(damagedFiles().size() == 1);
  CHECK(box.state.problems()[0].file == revisions + "/pending");
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "the damage stays in the status until an admin applies a new revision") {
  writeFile(revisions + "/current", "garbage");
  Box box(dir.path, clock);
  box.boot();
  CHECK_FALSE(box.state.ok());
  // An unchanged apply is no new revision.
  REQUIRE(box.apply(kPolicyC)->unchanged);
  CHECK_FALSE(box.state.ok());
  REQUIRE(box.apply(kPolicyA).ok());
  CHECK(box.state.ok());
  CHECK(box.state.fallbackRevision() == 0);
  // Restarting now finds nothing wrong.
  Box again(dir.path, clock);
  again.boot();
  CHECK(again.state.ok());
  CHECK(again.logText().find("state-damaged") == std::string::npos);
}

TEST_CASE_FIXTURE(
    StateFolder,
    "a fresh box whose state folder cannot be written runs the configured policy and refuses "
    "changes") {
  // /proc takes no new folder or file, as a read-only or full state folder would.
  const std::string state_dir = "/proc/muzzle-state-cannot-exist";
  Box box(state_dir, clock);
  auto started = box.commits.boot(writeSeed(dir.path, kPolicyA));
  REQUIRE(started.ok());
  CHECK(*started == kPolicyA);
  CHECK(box.commits.current() == 0);
  CHECK_FALSE(box.state.writable());
  CHECK(box.logText().find("event=state-unwritable file=" + state_dir) != std::string::npos);

  // Read-only calls work; changes are refused with what to do.
  auto v = box.validate(kPolicyB);
  REQUIRE(v.ok());
  CHECK(v->valid);
  auto refused = box.apply(kPolicyB);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("cannot apply revision 1: the state folder " + state_dir +
                                        " cannot be written (") == 0);
  CHECK(refused.status().message().find("(cannot create " + state_dir + "/revisions: ") !=
        std::string::npos);
  CHECK(refused.status().message().find("the box keeps the policy it started with. Make " +
                                        state_dir + " writable and give it free space") !=
        std::string::npos);
  CHECK(box.engine.installed.empty());
  CHECK(box.commits.current() == 0);
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "a pointer naming a number past 8 digits: the revisions after it open again") {
  // Found by revision_fuzz: the next number was 5225225226, written as r5225225226.meta, and
  // the next start did not read that name back, so the box lost every later revision.
  writeFile(revisions + "/current", "5225225225\n");
  uint64_t fallback = 0;
  {
    Box box(dir.path, clock);
    CHECK(box.boot() == kPolicyC);
    fallback = box.commits.current();
    CHECK(fallback == 5225225226);
  }
  Box again(dir.path, clock);
  CHECK(again.boot() == kPolicyC);
  CHECK(again.state.ok());
  CHECK(again.commits.current() == fallback);
  REQUIRE(again.apply(kPolicyB).ok());
  CHECK(again.commits.current() == fallback + 1);
  CHECK(again.commits.auditChain().ok);
  // Only the spelling the store writes is a revision: a zero-padded 9-digit name is not.
  writeFile(revisions + "/r000000002.meta", "not json");
  RevisionStore store(dir.path);
  CHECK(store.open().empty());
  CHECK_FALSE(store.has(0));
  CHECK(store.latest() == fallback + 1);
}

TEST_CASE_FIXTURE(ThreeRevisions,
                  "a pointer naming the last number: a new revision is refused, never misnamed") {
  writeFile(revisions + "/current",
            std::to_string(RevisionStore::kMaxRevisionNumber) + "\n");
  RevisionStore store(dir.path);
  REQUIRE(store.open().size() == 1);  // the pointer names a revision that is missing
  auto refused = store.prepare(kPolicyB, "test", "", 3);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        revisions + ": revision numbers up to 999999999999999999 are used; move the folder "
                    "aside to number revisions from 1 again");
}

TEST_CASE_FIXTURE(
    ThreeRevisions,
    "an intact box whose folder cannot be written says so at start and runs its revision") {
  // Its probe cannot be written (as on a read-only or full folder); everything else reads fine.
  std::filesystem::create_directory(dir.path + "/.write-probe.tmp");
  Box box(dir.path, clock);
  CHECK(box.boot() == kPolicyC);
  CHECK(box.commits.current() == 3);
  CHECK_FALSE(box.state.writable());
  CHECK(box.logText().find("event=state-unwritable file=" + dir.path) != std::string::npos);
  std::filesystem::remove(dir.path + "/.write-probe.tmp");
  REQUIRE(box.apply(kPolicyA).ok());  // writable again: the change goes through, the report clears
  CHECK(box.state.ok());
}

TEST_CASE_FIXTURE(
    StateFolder,
    "a folder that stops taking writes inside a confirmation window: the rollback happens anyway") {
  {
    Box box(dir.path, clock);
    box.boot();
    REQUIRE(box.apply(kPolicyB, 0, 30).ok());
    // The next revision's text cannot be written any more.
    std::filesystem::create_directory(dir.path + "/revisions/r00000003.policy.tmp");
    clock.advance(std::chrono::seconds(30));
    REQUIRE(box.tickAndRollBack());
    CHECK(box.engine.installed == kPolicyA);  // not locked out
    CHECK(box.commits.current() == 1);
    CHECK_FALSE(box.state.writable());
    CHECK(box.logText().find(
              "event=policy-rolled-back from=2 to_text_of=1 reason=\"not confirmed in time\" "
              "stored=\"no: cannot auto-rollback revision 3") != std::string::npos);
    CHECK(std::filesystem::exists(dir.path + "/revisions/pending"));
  }
  // Writable again at the next start: it rolls back for good, as a new revision.
  std::filesystem::remove(dir.path + "/revisions/r00000003.policy.tmp");
  Box after(dir.path, clock);
  CHECK(after.boot() == kPolicyA);
  CHECK_FALSE(after.commits.pending());
  CHECK(after.audit.last()->action() == "auto-rollback");
}

}  // namespace
}  // namespace muzzle

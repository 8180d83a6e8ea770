// The audit log's hash chain and its anchors outside the log (audit.head, each revision's
// metadata): every way of tampering with it is reported, and an append that cannot be anchored
// leaves the log as it was.
#include <sys/stat.h>

#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

// A box with four audit entries: seed, two applies, a confirm.
struct Audited : SeededBox {
  Audited() {
    REQUIRE(box.apply(kPolicyB, 0, 0, "first").ok());
    REQUIRE(box.apply(kPolicyC, 0, 60, "second").ok());
    REQUIRE(box.commits.confirm(0, kAdmin).ok());
    REQUIRE(box.commits.auditChain().ok);
    REQUIRE(box.commits.auditChain().entries.size() == 4);
    text = readFile(box.audit.path());
  }
  // The log's first `n` lines.
  std::string firstLines(size_t n) const {
    size_t end = 0;
    for (size_t i = 0; i < n; ++i) end = text.find('\n', end) + 1;
    return text.substr(0, end);
  }
  std::string text;
};

TEST_CASE_FIXTURE(Audited, "an edited or removed line breaks the chain at that line") {
  SUBCASE("edited") {
    std::string content = text;
    content.replace(content.find("\"first\""), 7, "\"forst\"");
    writeFile(box.audit.path(), content);
    AuditChain broken = box.commits.auditChain();
    CHECK_FALSE(broken.ok);
    CHECK(broken.error == box.audit.path() + ":2: hash does not match the entry (entry edited)");
  }
  SUBCASE("removed") {
    const size_t first_end = text.find('\n');
    const size_t second_end = text.find('\n', first_end + 1);
    std::string content = text;
    content.erase(first_end + 1, second_end - first_end);
    writeFile(box.audit.path(), content);
    AuditChain broken = box.commits.auditChain();
    CHECK_FALSE(broken.ok);
    CHECK(broken.error ==
          box.audit.path() +
              ":2: prev_hash does not match the line before (lines removed or reordered)");
  }
}

TEST_CASE_FIXTURE(Audited, "entries cut from the end are caught by audit.head") {
  // The last entry (the confirm) is anchored only by audit.head: no revision was made for it.
  writeFile(box.audit.path(), firstLines(3));
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.entries.size() == 3);
  CHECK(broken.error.find(box.audit.path() + " ends at entry 3, but audit.head records entry 4") ==
        0);
  CHECK(broken.error.find("entries were cut from its end") != std::string::npos);
}

TEST_CASE_FIXTURE(
    Audited, "cut entries are caught by the revisions' anchors even when audit.head goes too") {
  writeFile(box.audit.path(), firstLines(2));
  std::filesystem::remove(box.audit.headPath());
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  // Revision 3's metadata recorded entry 3, its own.
  CHECK(broken.error.find(box.audit.path() + " ends at entry 2, but revision 3 records entry 3") ==
        0);
}

TEST_CASE_FIXTURE(Audited, "a deleted audit.log is caught") {
  std::filesystem::remove(box.audit.path());
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error.find(box.audit.path() + " is missing, but audit.head records entry 4") == 0);
  CHECK(broken.error.find("the log was deleted") != std::string::npos);
  std::filesystem::remove(box.audit.headPath());
  broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error.find(box.audit.path() + " is missing, but revision 3 records entry 3") == 0);
}

TEST_CASE_FIXTURE(Audited, "a FIFO in the log's place is reported at once, never waited on") {
  std::filesystem::remove(box.audit.path());
  REQUIRE(::mkfifo(box.audit.path().c_str(), 0600) == 0);
  AuditChain broken = box.commits.auditChain();  // opening a FIFO to read would wait for a writer
  CHECK_FALSE(broken.ok);
  CHECK(broken.error == box.audit.path() + ": not a regular file; move it aside");
  v1::AuditEntry entry;
  entry.set_action("apply");
  auto appended = box.audit.append(entry);
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.status().message().find("not a regular file") != std::string::npos);
}

TEST_CASE_FIXTURE(Audited, "a log replaced by another valid chain of the same length is caught") {
  // Another box's log, with its own valid chain of four entries.
  Audited other;
  writeFile(box.audit.path(), other.text);
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error.find(box.audit.path() + ": entry 4 is not the one audit.head recorded") == 0);
  CHECK(broken.error.find("the log was rewritten or replaced") != std::string::npos);
}

TEST_CASE_FIXTURE(
    Audited,
    "a log replaced by a shorter valid chain, with a matching head, is caught by the revisions") {
  // Someone rebuilds a valid two-entry log and a head that agrees with it.
  Audited other;
  writeFile(box.audit.path(), other.firstLines(2));
  writeFile(box.audit.headPath(), readFile(other.box.audit.headPath()).substr(0, 0) + "2 " +
                                      other.box.commits.auditChain().entries[1].hash() + "\n");
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error.find("revision 3 records entry 3") != std::string::npos);
}

TEST_CASE_FIXTURE(Audited, "a damaged audit.head is reported") {
  writeFile(box.audit.headPath(), "garbage");
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error == box.audit.headPath() + ": damaged: not '<sequence> <hash>'");
}

TEST_CASE_FIXTURE(Audited,
                  "a head claiming a sequence past 18 digits is damage, and the next entry does "
                  "not wrap to 0") {
  // The head is the newest anchor: a damaged one claiming 2^64 - 1 made the next entry 0, and
  // the head written with it ("0 <hash>") was then refused by the log's own reader.
  const std::string last_hash = box.commits.auditChain().entries.back().hash();
  writeFile(box.audit.headPath(), "18446744073709551615 " + last_hash + "\n");
  AuditChain broken = box.commits.auditChain();
  CHECK_FALSE(broken.ok);
  CHECK(broken.error == box.audit.headPath() + ": damaged: not '<sequence> <hash>'");
  Box restarted(dir.path, clock);
  restarted.boot();
  REQUIRE(restarted.apply(kPolicyB).ok());
  AuditChain after = restarted.commits.auditChain();
  REQUIRE(after.entries.size() == 5);
  CHECK(after.entries.back().sequence() == 5);
  CHECK_MESSAGE(after.ok, after.error);
}

TEST_CASE_FIXTURE(Audited,
                  "a broken chain is reported at boot, and changes are still audited after it") {
  writeFile(box.audit.path(), firstLines(3));
  Box restarted(dir.path, clock);
  restarted.boot();
  CHECK(restarted.logText().find("event=audit-broken file=" + box.audit.path()) !=
        std::string::npos);
  CHECK_FALSE(restarted.state.ok());
  REQUIRE(restarted.state.problems().size() == 1);
  CHECK(restarted.state.problems()[0].kind == StateProblem::Kind::kAuditBroken);
  REQUIRE(restarted.apply(kPolicyB).ok());
  // The new entry follows the anchored entry 4, not the cut log's last line: the gap stays in
  // the chain for good, instead of a new head papering over it.
  AuditChain after = restarted.commits.auditChain();
  REQUIRE(after.entries.size() == 4);
  CHECK(after.entries.back().action() == "apply");
  CHECK(after.entries.back().sequence() == 5);
  CHECK_FALSE(after.ok);
  CHECK(after.error ==
        box.audit.path() +
            ":4: prev_hash does not match the line before (lines removed or reordered)");
}

TEST_CASE_FIXTURE(
    StateFolder,
    "a torn last line (a crash mid-append) stays visible, and the next entry starts on its own "
    "line") {
  {
    Box box(dir.path, clock);
    box.boot();
    std::ofstream(box.audit.path(), std::ios::app) << "abc {\"sequ";  // no newline
  }
  Box box(dir.path, clock);
  box.boot();
  REQUIRE(box.apply(kPolicyB).ok());
  AuditChain chain = box.commits.auditChain();
  CHECK_FALSE(chain.ok);
  CHECK(chain.error == box.audit.path() + ":2: not '<hash> <entry>'");
  REQUIRE(chain.entries.size() == 2);
  CHECK(chain.entries[1].action() == "apply");
  CHECK(chain.entries[1].prev_hash() == chain.entries[0].hash());
}

TEST_CASE_FIXTURE(
    SeededBox,
    "a hash that is not 64 hex digits (hostile bytes) is reported, never carried into the next "
    "entry nor quoted") {
  // A line whose hash field is 64 bytes of garbage, invalid UTF-8 among them: the next entry's
  // prev_hash must not become those bytes (protobuf refuses to encode non-UTF-8 strings).
  const std::string garbage = std::string(32, '\xff') + std::string(32, 'Z');
  const std::string original = readFile(box.audit.path());
  writeFile(box.audit.path(), original + garbage + " {\"sequence\": \"2\"}\n");
  SUBCASE("in the log") {
    AuditChain chain = box.commits.auditChain();
    CHECK_FALSE(chain.ok);
    CHECK(chain.error == box.audit.path() + ":2: hash is not 64 hexadecimal digits");
    Box restarted(dir.path, clock);
    restarted.boot();
    REQUIRE(restarted.apply(kPolicyB).ok());
    AuditChain after = restarted.commits.auditChain();
    REQUIRE(after.entries.size() == 2);
    CHECK(after.entries[1].prev_hash() == after.entries[0].hash());
  }
  SUBCASE("in audit.head") {
    writeFile(box.audit.path(), original);
    writeFile(box.audit.headPath(), "1 " + garbage + "\n");
    AuditChain chain = box.commits.auditChain();
    CHECK_FALSE(chain.ok);
    CHECK(chain.error == box.audit.headPath() + ": damaged: not '<sequence> <hash>'");
    CHECK(chain.error.find('\xff') == std::string::npos);
  }
}

TEST_CASE_FIXTURE(
    SeededBox, "an append whose head cannot be written is cut off again: the log stays as it was") {
  const std::string before = readFile(box.audit.path());
  // audit.head.tmp as a folder: the head's atomic write cannot create its temp file.
  std::filesystem::create_directory(box.audit.headPath() + ".tmp");
  v1::AuditEntry e;
  e.set_action("apply");
  auto appended = box.audit.append(e);
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.status().message().find("cannot create " + box.audit.headPath() + ".tmp") == 0);
  CHECK(readFile(box.audit.path()) == before);
  std::filesystem::remove(box.audit.headPath() + ".tmp");
  REQUIRE(box.audit.append(e).ok());
  CHECK(box.commits.auditChain().ok);
  CHECK(box.commits.auditChain().entries.size() == 2);
}

}  // namespace
}  // namespace muzzle

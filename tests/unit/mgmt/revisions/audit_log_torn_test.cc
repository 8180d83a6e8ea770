// AuditLog after a torn or hand-edited file: the next entry starts on a line of its own, so it
// reads back and an intact chain stays intact (found by audit_fuzz).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mgmt/revisions/audit_log.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

v1::AuditEntry change(const char* action) {
  v1::AuditEntry e;
  e.set_who("alice");
  e.set_action(action);
  return e;
}

TEST_CASE("an entry after a last line without its newline starts a line of its own") {
  TempDir dir;
  AuditLog log(dir.path);
  REQUIRE(log.open().ok());
  REQUIRE(log.append(change("apply")).ok());
  REQUIRE(log.append(change("confirm")).ok());
  std::string text = readAll(log.path());
  REQUIRE(text.back() == '\n');
  text.pop_back();  // torn just before the newline
  std::ofstream(log.path(), std::ios::trunc) << text;
  REQUIRE(log.read().ok);  // the last line is whole, only unterminated

  AuditLog reopened(dir.path);
  REQUIRE(reopened.open().ok());
  REQUIRE(reopened.append(change("rollback")).ok());
  const AuditChain chain = reopened.read();
  CHECK_MESSAGE(chain.ok, chain.error);
  REQUIRE(chain.entries.size() == 3);
  CHECK(chain.entries[2].action() == "rollback");
  CHECK(chain.entries[2].sequence() == 3);
}

TEST_CASE("an entry after a torn partial line is still read; the torn line is the break") {
  TempDir dir;
  AuditLog log(dir.path);
  REQUIRE(log.open().ok());
  REQUIRE(log.append(change("apply")).ok());
  std::ofstream(log.path(), std::ios::app) << "0123456789abcdef {\"sequ";  // a crash mid-write

  AuditLog reopened(dir.path);
  REQUIRE(reopened.open().ok());
  REQUIRE(reopened.append(change("confirm")).ok());
  const AuditChain chain = reopened.read();
  CHECK_FALSE(chain.ok);
  CHECK(chain.error == reopened.path() + ":2: not '<hash> <entry>'");
  REQUIRE(chain.entries.size() == 2);
  CHECK(chain.entries[1].action() == "confirm");
  CHECK(chain.entries[1].prev_hash() == chain.entries[0].hash());
}

}  // namespace
}  // namespace muzzle

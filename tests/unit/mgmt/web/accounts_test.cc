// The console's accounts (mgmt/web/accounts.h): yescrypt hashes in a 0600 file, read back whole,
// a damaged file named by its line and trusted for nothing.
#include "mgmt/web/accounts.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using muzzle::testing::TempDir;

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("an account set checks with its password, not with another, nor an unknown name") {
  TempDir dir("accounts");
  Accounts accounts((dir / "web-users").string());
  REQUIRE(accounts.load().ok());  // no file yet: no accounts
  CHECK(accounts.list().empty());
  REQUIRE(accounts.set("alice", Role::kOperator, "correct horse").ok());
  auto ok = accounts.check("alice", "correct horse");
  REQUIRE(ok.ok());
  CHECK(ok->name == "alice");
  CHECK(ok->role == Role::kOperator);
  const auto wrong = accounts.check("alice", "correct horsf");
  CHECK(wrong.status().code() == StatusCode::kUnauthenticated);
  CHECK(wrong.status().message() == "wrong name or password");
  const auto unknown = accounts.check("bob", "correct horse");
  CHECK(unknown.status().code() == StatusCode::kUnauthenticated);
  CHECK(unknown.status().message() == "wrong name or password");
  CHECK_FALSE(accounts.check("alice", "").ok());
  // A new password replaces the old one, and the role with it.
  REQUIRE(accounts.set("alice", Role::kAdmin, "battery staple").ok());
  CHECK_FALSE(accounts.check("alice", "correct horse").ok());
  REQUIRE(accounts.check("alice", "battery staple").ok());
  CHECK(accounts.check("alice", "battery staple")->role == Role::kAdmin);
  CHECK(accounts.list().size() == 1);
}

TEST_CASE("the file is 0600, one yescrypt line per account, and reloads as it was") {
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  {
    Accounts accounts(path);
    REQUIRE(accounts.set("alice", Role::kAdmin, "correct horse").ok());
    REQUIRE(accounts.set("cam.viewer-2", Role::kViewer, "another secret").ok());
  }
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string text = readText(path);
  CHECK(text.rfind("alice admin $y$", 0) == 0);
  CHECK(text.find("\ncam.viewer-2 viewer $y$") != std::string::npos);
  CHECK(text.find("correct horse") == std::string::npos);

  Accounts again(path);
  REQUIRE(again.load().ok());
  REQUIRE(again.list().size() == 2);
  CHECK(again.list()[1].name == "cam.viewer-2");
  CHECK(again.list()[1].role == Role::kViewer);
  CHECK(again.check("cam.viewer-2", "another secret").ok());
  REQUIRE(again.remove("alice").ok());
  CHECK(again.remove("alice").code() == StatusCode::kNotFound);
  Accounts third(path);
  REQUIRE(third.load().ok());
  CHECK(third.list().size() == 1);
  CHECK_FALSE(third.check("alice", "correct horse").ok());
}

TEST_CASE("names, roles and passwords out of bounds are refused") {
  TempDir dir("accounts");
  Accounts accounts((dir / "web-users").string());
  for (const char* name : {"", "Alice", "-alice", ".x", "_x", "a b", "a/b", "al:ce",
                           "abcdefghijabcdefghijabcdefghijabc"}) {
    CAPTURE(name);
    CHECK(accounts.set(name, Role::kViewer, "long enough").code() == StatusCode::kInvalidArgument);
  }
  CHECK(accounts.set("abcdefghijabcdefghijabcdefghijab", Role::kViewer, "long enough").ok());
  CHECK(accounts.set("0.a_b-c", Role::kViewer, "long enough").ok());
  CHECK(accounts.set("x", Role::kNone, "long enough").code() == StatusCode::kInvalidArgument);
  CHECK(accounts.set("x", Role::kViewer, "1234567").code() == StatusCode::kInvalidArgument);
  CHECK(accounts.set("x", Role::kViewer, "12345678").ok());
  CHECK(accounts.set("x", Role::kViewer, std::string(256, 'p')).ok());
  CHECK(accounts.set("x", Role::kViewer, std::string(257, 'p')).code() ==
        StatusCode::kInvalidArgument);
  const std::string with_nul = std::string("1234") + '\0' + "5678";
  CHECK(accounts.set("x", Role::kViewer, with_nul).code() == StatusCode::kInvalidArgument);
  CHECK(accounts.set("x", Role::kViewer, "1234\n5678").code() == StatusCode::kInvalidArgument);
  // A password that was refused is not the one kept.
  CHECK(accounts.check("x", std::string(256, 'p')).ok());
}

TEST_CASE("at most kMaxAccounts accounts") {
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  // Written by hand: 64 yescrypt hashes would take seconds.
  const std::string hash =
      "$y$j9T$Jbm6wxypu1/XQy6vdgWLu.$t2F0s/eStDOuXdLtHQkMOjWJXj7PMx5URreuem8d4gB";
  std::string text;
  for (size_t i = 0; i < Accounts::kMaxAccounts; ++i) {
    text += "u" + std::to_string(i) + " viewer " + hash + "\n";
  }
  writeText(path, text);
  Accounts accounts(path);
  REQUIRE(accounts.load().ok());
  CHECK(accounts.list().size() == Accounts::kMaxAccounts);
  CHECK(accounts.set("one-more", Role::kViewer, "long enough").code() ==
        StatusCode::kResourceExhausted);
  CHECK(accounts.set("u3", Role::kAdmin, "long enough").ok());  // a change still is

  writeText(path, text + "u99 viewer " + hash + "\n");
  const Status s = accounts.load();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().rfind(path + ":65: more than 64 accounts", 0) == 0);
  CHECK(accounts.list().empty());
}

TEST_CASE("a file that does not parse names its file and line, and trusts no account") {
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  const std::string good =
      "alice admin $y$j9T$Jbm6wxypu1/XQy6vdgWLu.$t2F0s/eStDOuXdLtHQkMOjWJXj7PMx5URreuem8d4gB\n";
  struct Case {
    std::string line;
    std::string says;
  };
  const Case cases[] = {
      {"bob viewer", "not three fields"},
      {"bob  viewer $y$x", "not three fields"},
      {"bob viewer $y$x extra", "not three fields"},
      {"Bob viewer $y$x", "\"Bob\" is not an account name"},
      {"bob root $y$x", "\"root\" is not a role"},
      {"bob none $y$x", "\"none\" is not a role"},
      {"bob viewer $6$salt$hash", "not a yescrypt hash"},
      {"alice viewer $y$x", "\"alice\" appears twice"},
      {"bob viewer $y$" + std::string(600, 'x'), "line longer than 512 bytes"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    writeText(path, good + c.line + "\n");
    Accounts accounts(path);
    const Status s = accounts.load();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().rfind(path + ":2: ", 0) == 0);
    CHECK(s.message().find(c.says) != std::string::npos);
    CHECK(accounts.list().empty());
    CHECK_FALSE(accounts.check("alice", "anything at all").ok());
  }
  // Blank lines are nothing; a last line without '\n' counts.
  writeText(path, "\n" + good.substr(0, good.size() - 1));
  Accounts accounts(path);
  REQUIRE(accounts.load().ok());
  CHECK(accounts.list().size() == 1);
}

TEST_CASE("a damaged line is quoted escaped: the message is one printable line") {
  // The message goes to muzzled's log and its event stream, whose proto fields must be UTF-8:
  // a name or role quoted raw from the file (any bytes) made an event no watcher could read.
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  for (const std::string& line : {std::string("b\xffob viewer"), std::string("bob \xc3\r\x1b")}) {
    CAPTURE(line);
    writeText(
        path,
        line + " $y$j9T$Jbm6wxypu1/XQy6vdgWLu.$t2F0s/eStDOuXdLtHQkMOjWJXj7PMx5URreuem8d4gB\n");
    Accounts accounts(path);
    const Status s = accounts.load();
    REQUIRE_FALSE(s.ok());
    CHECK_MESSAGE(std::all_of(s.message().begin(), s.message().end(),
                              [](char c) { return c >= 0x20 && c < 0x7f; }),
                  s.message());
  }
  writeText(path, "b\xffob viewer $y$x\n");
  Accounts accounts(path);
  CHECK(accounts.load().message().find("\"b\\xffob\" is not an account name") != std::string::npos);
}

TEST_CASE("a hash whose parameters would cost a login more than 64 MiB is refused at load") {
  // "$y$jFT$..." takes 1 GiB and seconds a check, "$y$jHT$..." 4 GiB: one damaged byte in the
  // file would let any login attempt for that name exhaust the box. The console's own hashes
  // ("$y$j9T$": N = 4096, r = 32) take 16 MiB; up to four times that is accepted.
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  const std::string salt_and_hash =
      "$Jbm6wxypu1/XQy6vdgWLu.$t2F0s/eStDOuXdLtHQkMOjWJXj7PMx5URreuem8d4gB";
  for (const char* params : {"jFT", "jHT", "j9z", "jz.", "j9T.", "k9T"}) {
    CAPTURE(params);
    writeText(path, std::string("alice admin $y$") + params + salt_and_hash + "\n");
    Accounts accounts(path);
    const Status s = accounts.load();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("would take more than 64 MiB a login") != std::string::npos);
    CHECK(accounts.list().empty());
  }
  for (const char* params : {"j9T", "jAT", "jBT", "j8T"}) {  // 16, 32, 64, 8 MiB
    CAPTURE(params);
    writeText(path, std::string("alice admin $y$") + params + salt_and_hash + "\n");
    Accounts accounts(path);
    CHECK(accounts.load().ok());
  }
}

TEST_CASE("a file too large, or not a regular file, is refused") {
  TempDir dir("accounts");
  const std::string path = (dir / "web-users").string();
  writeText(path, std::string(70 * 1024, '\n'));
  Accounts big(path);
  CHECK_FALSE(big.load().ok());
  Accounts folder(dir.path);
  const Status s = folder.load();
  CHECK_FALSE(s.ok());
  CHECK(s.message().find(dir.path) != std::string::npos);
}

}  // namespace
}  // namespace muzzle::web

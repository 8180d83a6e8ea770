// Who muzzled becomes (planRunAs: pure), and how checkAccess reports what that user may not
// use. dropPrivileges itself changes the process for good: the scenario test
// tests/scenario/privileges.sh checks it on a running muzzled (/proc/PID/status).
#include "fw/engine/privileges.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/support/child_process.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const UserEntry kMuzzle{"muzzle", 995, 995};
const UserEntry kRoot{"root", 0, 0};

using Action = RunAsPlan::Action;

TEST_CASE("root drops to the muzzle user by default") {
  auto plan = planRunAs(0, "", kMuzzle);
  REQUIRE(plan.ok());
  CHECK(plan->action == Action::kDrop);
  CHECK(plan->user.uid == 995);
  CHECK(plan->user.gid == 995);
}

TEST_CASE("root drops to the user --user names") {
  auto plan = planRunAs(0, "fw", UserEntry{"fw", 1234, 4321});
  REQUIRE(plan.ok());
  CHECK(plan->action == Action::kDrop);
  CHECK(plan->user.name == "fw");
}

TEST_CASE("without the user, root refuses to start and says how to create it or stay root") {
  auto plan = planRunAs(0, "", std::nullopt);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().code() == StatusCode::kFailedPrecondition);
  const std::string& m = plan.status().message();
  CHECK(m.find("user \"muzzle\" does not exist") != std::string::npos);
  CHECK(m.find("useradd --system") != std::string::npos);
  CHECK(m.find("--user root") != std::string::npos);
}

TEST_CASE("staying root is explicit: --user root") {
  auto plan = planRunAs(0, "root", kRoot);
  REQUIRE(plan.ok());
  CHECK(plan->action == Action::kStayRoot);
}

TEST_CASE("a default user that maps to uid 0 is refused, not taken as staying root") {
  auto plan = planRunAs(0, "", UserEntry{"muzzle", 0, 0});
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().message().find("has uid 0") != std::string::npos);
}

TEST_CASE("not root (systemd's User= did it): muzzled stays who it is") {
  auto plan = planRunAs(995, "", kMuzzle);
  REQUIRE(plan.ok());
  CHECK(plan->action == Action::kKeep);
  // Naming the user it already is, is fine too.
  auto same = planRunAs(995, "muzzle", kMuzzle);
  REQUIRE(same.ok());
  CHECK(same->action == Action::kKeep);
}

TEST_CASE("not root, --user naming someone else (or root) cannot be honoured") {
  auto other = planRunAs(1000, "muzzle", kMuzzle);
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().message().find("not root, so it cannot become another user") !=
        std::string::npos);
  CHECK_FALSE(planRunAs(995, "root", kRoot).ok());
  CHECK_FALSE(planRunAs(995, "ghost", std::nullopt).ok());
}

TEST_CASE("lookupUser finds root and not a made-up name") {
  auto root = lookupUser("root");
  REQUIRE(root.has_value());
  CHECK(root->uid == 0);
  CHECK_FALSE(lookupUser("no-such-user-muzzle-test").has_value());
}

// Runs checkAccess as an unprivileged user and returns its message ("" when OK). As root, in a
// child that becomes nobody, since root passes every access check.
std::string accessMessage(const std::vector<PathNeed>& needs) {
  if (geteuid() != 0) return checkAccess(needs).message();
  return testing::outputOfChild([&] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      return std::string("setresuid failed");
    return checkAccess(needs).message();
  });
}

TEST_CASE("checkAccess names every path the user may not use, and the fix") {
  testing::TempDir dir("muzzle-priv-test");
  // Reachable by all, but the state folder, a file in it and a key belong to root alone.
  std::filesystem::permissions(dir.path, std::filesystem::perms(0755));
  const auto state = dir / "state";
  std::filesystem::create_directory(state);
  std::filesystem::permissions(state, std::filesystem::perms(0755));
  std::ofstream(state / "audit.log") << "x";
  std::filesystem::permissions(state / "audit.log", std::filesystem::perms(0644));
  std::ofstream(dir / "box.key") << "k";
  std::filesystem::permissions(dir / "box.key", std::filesystem::perms(0600));
  std::ofstream(dir / "policy.yaml") << "p";
  std::filesystem::permissions(dir / "policy.yaml", std::filesystem::perms(0644));
  if (geteuid() != 0) {
    // As an ordinary user the files are our own: take the write and read bits away instead.
    std::filesystem::permissions(state, std::filesystem::perms(0555));
    std::filesystem::permissions(dir / "box.key", std::filesystem::perms(0));
  }

  const std::string m = accessMessage({
      {state.string(), PathNeed::Kind::kOwnTree, "state_dir"},
      {(dir / "box.key").string(), PathNeed::Kind::kReadFile, "management.tcp.key"},
      {(dir / "policy.yaml").string(), PathNeed::Kind::kReadFile, "policy"},
      {(dir / "missing.pem").string(), PathNeed::Kind::kReadFile, "management.tcp.cert"},
  });
  CHECK(m.find("muzzled runs as user") != std::string::npos);
  CHECK(m.find("state_dir " + state.string() + " (Permission denied)") != std::string::npos);
  CHECK(m.find("management.tcp.key " + (dir / "box.key").string()) != std::string::npos);
  CHECK(m.find("chown -R") != std::string::npos);
  CHECK(m.find("chmod g+r") != std::string::npos);
  CHECK(m.find("--user root") != std::string::npos);
  // Readable, or missing (whoever opens it reports that): not named.
  CHECK(m.find("policy.yaml") == std::string::npos);
  CHECK(m.find("missing.pem") == std::string::npos);
}

TEST_CASE("checkAccess is quiet when everything is usable") {
  testing::TempDir dir("muzzle-priv-test");
  std::ofstream(dir / "policy.yaml") << "p";
  CHECK(checkAccess({{dir.path, PathNeed::Kind::kOwnTree, "state_dir"},
                     {(dir / "policy.yaml").string(), PathNeed::Kind::kReadFile, "policy"}})
            .ok());
}

TEST_CASE("prepareDirectory creates a missing folder for the user and leaves an existing one") {
  testing::TempDir dir("muzzle-priv-test");
  const UserEntry me{"me", geteuid(), getegid()};
  const auto run = dir / "run" / "muzzle";
  REQUIRE(prepareDirectory(run.string(), me).ok());
  struct stat st {};
  REQUIRE(stat(run.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0750);
  CHECK(st.st_uid == me.uid);
  // Existing: mode and owner stay as they are.
  chmod(run.c_str(), 0700);
  REQUIRE(prepareDirectory(run.string(), me).ok());
  REQUIRE(stat(run.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
}

}  // namespace
}  // namespace muzzle

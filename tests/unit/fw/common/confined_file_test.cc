// Files a policy names: only inside the given folders, only regular files, only up to a size,
// and never a blocking read.
#include "fw/common/confined_file.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// A scratch policy folder /tmp/…/policy with a secret next to it (outside), removed afterwards.
struct Folders {
  Folders() {
    std::filesystem::create_directories(policy + "/lists");
    std::filesystem::create_directories(shipped + "/lists");
    write(top + "/secret.key", "-----BEGIN PRIVATE KEY-----\n");
    write(policy + "/lists/ok.txt", "198.18.1.4\n");
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  Result<std::string> read(std::string_view name, size_t max = kMaxNamedFileBytes) const {
    return readConfinedFile({policy, shipped}, name, max);
  }
  testing::TempDir dir{"muzzle-confined"};
  const std::string top = dir.path;
  const std::string policy = top + "/policy";
  const std::string shipped = top + "/shipped";
};

// Whether this kernel (or emulator) has openat2: qemu-user before 9.0 answers ENOSYS, so the
// arm64 unit tests run under it (image/cross/test-arm64.sh) take the walk, which follows no link
// and refuses every "..": the cases that only openat2 allows are then checked refused instead.
bool haveOpenat2() {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  const long fd = ::syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return !(fd < 0 && errno == ENOSYS);
}

std::string messageOf(const Result<std::string>& r) {
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

TEST_CASE("confined: a file in the policy's folder is read") {
  Folders f;
  auto text = f.read("lists/ok.txt");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  CHECK(*text == "198.18.1.4\n");
  // "." and an inner ".." that stays inside are fine (with openat2; the walk refuses any "..").
  CHECK(f.read("./lists/../lists/ok.txt").ok() == haveOpenat2());
}

TEST_CASE("confined: a name missing from the policy's folder comes from the shipped folder") {
  Folders f;
  Folders::write(f.shipped + "/lists/doh.txt", "203.0.113.53\n");
  auto text = f.read("lists/doh.txt");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  CHECK(*text == "203.0.113.53\n");
  // The policy's own copy wins.
  Folders::write(f.policy + "/lists/doh.txt", "198.51.100.53\n");
  CHECK(*f.read("lists/doh.txt") == "198.51.100.53\n");
}

TEST_CASE("confined: a name in neither folder is kNotFound, naming both") {
  Folders f;
  auto r = f.read("lists/none.txt");
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(messageOf(r) == "\"lists/none.txt\" does not exist in " + f.policy + " or " + f.shipped +
                            "; check the name (relative to the policy's folder)");
}

TEST_CASE("confined: an absolute path outside the folders is refused unopened") {
  Folders f;
  for (const std::string& name :
       {std::string("/etc/shadow"), std::string("/dev/zero"), f.top + "/secret.key"}) {
    auto r = f.read(name);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(messageOf(r).ends_with(" is outside the folders a policy may name files in (" + f.policy +
                                 " or " + f.shipped +
                                 "); put the file in one of them and name it relative to it"));
  }
  // A folder's name as a prefix of another's is not inside it.
  CHECK_FALSE(f.read(f.policy + "-other/x").ok());
}

TEST_CASE("confined: an absolute path inside a folder is read beneath that folder") {
  Folders f;
  auto text = f.read(f.policy + "/lists/ok.txt");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  CHECK(*text == "198.18.1.4\n");
  CHECK(messageOf(f.read(f.policy + "/../secret.key")).find("climbs out") != std::string::npos);
}

TEST_CASE("confined: \"..\" that climbs out is refused") {
  Folders f;
  for (const char* name : {"../secret.key", "lists/../../secret.key", "../../../../etc/shadow"}) {
    auto r = f.read(name);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(messageOf(r) == "\"" + std::string(name) +
                              "\" climbs out of its folder with \"..\"; name a file inside " +
                              f.policy + " or " + f.shipped);
  }
}

TEST_CASE("confined: a symbolic link out of the folder is refused, one inside is followed") {
  Folders f;
  std::filesystem::create_symlink(f.top + "/secret.key", f.policy + "/key-abs");
  std::filesystem::create_symlink("../secret.key", f.policy + "/key-rel");
  std::filesystem::create_symlink("/dev/zero", f.policy + "/zero");
  std::filesystem::create_symlink("/etc", f.policy + "/etc");
  for (const char* name : {"key-abs", "key-rel", "zero", "etc/shadow"}) {
    auto r = f.read(name);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(messageOf(r) == "\"" + std::string(name) + "\" leads out of " + f.policy +
                              " (through \"..\" or a symbolic link); keep the file, and any link "
                              "to it, inside that folder (links relative to it)");
  }
  // A refusal in the policy's folder is not retried in the shipped one.
  Folders::write(f.shipped + "/key-rel", "198.18.1.1\n");
  CHECK_FALSE(f.read("key-rel").ok());
  // Inside the folder, relative links (to a file, through a folder) are followed.
  std::filesystem::create_symlink("lists/ok.txt", f.policy + "/ok-link");
  std::filesystem::create_symlink("lists", f.policy + "/more");
  if (haveOpenat2()) {
    CHECK(*f.read("ok-link") == "198.18.1.4\n");
    CHECK(*f.read("more/ok.txt") == "198.18.1.4\n");
  } else {  // the walk follows no link
    CHECK_FALSE(f.read("ok-link").ok());
    CHECK_FALSE(f.read("more/ok.txt").ok());
  }
  // /proc's magic links are not followed even where the folder is /proc itself.
  CHECK_FALSE(readConfinedFile({"/proc/self"}, "root/etc/shadow").ok());
}

TEST_CASE("confined: without openat2, the walk confines the same names and follows no link") {
  setConfinedWalkForTesting(true);
  Folders f;
  std::filesystem::create_symlink(f.top + "/secret.key", f.policy + "/key-abs");
  std::filesystem::create_symlink("../secret.key", f.policy + "/key-rel");
  std::filesystem::create_symlink("/dev/zero", f.policy + "/zero");
  std::filesystem::create_symlink("/etc", f.policy + "/etc");
  std::filesystem::create_symlink("lists/ok.txt", f.policy + "/ok-link");
  ::mkfifo((f.policy + "/feed.fifo").c_str(), 0600);
  CHECK(*f.read("lists/ok.txt") == "198.18.1.4\n");
  CHECK(*f.read("./lists//ok.txt") == "198.18.1.4\n");
  for (const char* name : {"key-abs", "key-rel", "zero", "etc/shadow", "ok-link", "lists/../ok"}) {
    CAPTURE(name);
    auto r = f.read(name);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(messageOf(r).find("leads out of " + f.policy) != std::string::npos);
  }
  CHECK(messageOf(f.read("feed.fifo")).find("is a FIFO") != std::string::npos);
  CHECK(f.read("missing.txt").status().code() == StatusCode::kNotFound);
  setConfinedWalkForTesting(false);
}

TEST_CASE("confined: a FIFO is refused without blocking") {
  Folders f;
  REQUIRE(::mkfifo((f.policy + "/lists/pipe").c_str(), 0600) == 0);
  auto r = f.read("lists/pipe");
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(messageOf(r) == "\"lists/pipe\" is a FIFO (named pipe), not a regular file; name a file");
  // The unconfined reader for the admin's own paths refuses it the same way.
  CHECK(messageOf(readRegularFile(f.policy + "/lists/pipe")) ==
        f.policy + "/lists/pipe: is a FIFO (named pipe), not a regular file; name a file");
}

TEST_CASE("confined: a device and a folder are refused by what they are") {
  Folders f;
  CHECK(messageOf(readRegularFile("/dev/zero")) ==
        "/dev/zero: is a character device, not a regular file; name a file");
  CHECK(messageOf(readConfinedFile({"/dev"}, "zero")) ==
        "\"zero\" is a character device, not a regular file; name a file");
  CHECK(messageOf(f.read("lists")) == "\"lists\" is a folder; name a file in it");
  CHECK(messageOf(f.read("lists/")) == "\"lists/\" is a folder; name a file in it");
}

TEST_CASE("confined: a file over the limit is refused unread, also a sparse 2 GB one") {
  Folders f;
  const std::string big = f.policy + "/lists/big.txt";
  const int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, off_t{2} << 30) == 0);  // 2 GiB of holes: no disk, no reading
  ::close(fd);
  auto r = f.read("lists/big.txt");
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(messageOf(r) ==
        "\"lists/big.txt\" is 2147483648 bytes, more than the 16 MiB a file may "
        "have here; split or trim it");
  CHECK(messageOf(readRegularFile(big)).starts_with(big + ": is 2147483648 bytes"));
  // Exactly at the limit is fine; one byte over is not.
  Folders::write(big, std::string(10, '#'));
  CHECK(f.read("lists/big.txt", 10).ok());
  CHECK_FALSE(f.read("lists/big.txt", 9).ok());
}

TEST_CASE("confined: a file that grows past the limit while read is refused") {
  // /proc files report size 0 and then hold more: the same as a file growing under the reader.
  CHECK(messageOf(readRegularFile("/proc/self/status", 64)) ==
        "/proc/self/status: grew past the 64 bytes a file may have here while it was read; "
        "split or trim it");
}

TEST_CASE("confined: names are quoted escaped and short, never the file's contents") {
  Folders f;
  const std::string long_name(100, 'a');
  CHECK(messageOf(f.read(long_name)).starts_with("\"" + std::string(40, 'a') + "...\" does not"));
  CHECK(messageOf(f.read("bad\x1b[31m\xff")).starts_with("\"bad\\x1b[31m\\xff\" does not exist"));
  CHECK(messageOf(f.read(std::string("a\0b", 3))) ==
        "\"a\\x00b\" holds a NUL byte, which no "
        "file name has");
  CHECK(messageOf(f.read("")) == "the file name is empty; name a file");
}

TEST_CASE("confined: a folder that does not exist is skipped, a missing file in none") {
  Folders f;
  auto text = readConfinedFile({f.top + "/nowhere", f.policy}, "lists/ok.txt");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  CHECK(readConfinedFile({}, "x").status().code() == StatusCode::kNotFound);
}

TEST_CASE("readRegularFile: a missing file is kNotFound") {
  auto r = readRegularFile("/nonexistent-muzzle-dir/policy.yaml");
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(r.status().message() == "/nonexistent-muzzle-dir/policy.yaml: no such file");
}

}  // namespace
}  // namespace muzzle

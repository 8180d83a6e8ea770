// Files a policy names, as a policy sent over the management API would name them: only inside
// the policy's folder (or the shipped one), only regular files, and errors never quote them.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fw/policy/policy_loader.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// A box's folders: /tmp/…/etc-muzzle holds the policy, /tmp/…/shipped the shipped lists, and
// /tmp/…/tls a private key that no policy may read.
class Box {
 public:
  Box() {
    std::filesystem::create_directories(policyDir() + "/lists");
    std::filesystem::create_directories(shippedDir() + "/lists");
    std::filesystem::create_directories(top_ + "/tls");
    write(keyPath(), std::string("-----BEGIN PRIVATE KEY-----\n") + kSecret + "\n");
  }

  static constexpr char kSecret[] = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg";

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  std::string policyDir() const { return top_ + "/etc-muzzle"; }
  std::string shippedDir() const { return top_ + "/shipped"; }
  std::string keyPath() const { return top_ + "/tls/box.key"; }

  // How muzzled compiles a policy that came over the API.
  Result<std::shared_ptr<const CompiledPolicy>> validate(const std::string& file) const {
    return compilePolicyText(
        "version: 1\naddresses:\n  g: {file: \"" + file + "\"}\nprofiles: {quarantine: {}}\n",
        "proposed.yaml", SiteFacts{}, {policyDir(), shippedDir()});
  }
  std::string errorOf(const std::string& file) const {
    auto result = validate(file);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().message().find(kSecret) == std::string::npos);
    CHECK(result.status().message().find("PRIVATE") == std::string::npos);
    return result.status().message();
  }

 private:
  testing::TempDir dir_{"muzzle-named"};
  const std::string top_ = dir_.path;
};

constexpr char kField[] = "proposed.yaml:3: addresses.g.file: ";

TEST_CASE("named files: paths out of the policy's folder are refused, quoting nothing") {
  Box box;
  CHECK(box.errorOf("/etc/shadow") ==
        std::string(kField) +
            "\"/etc/shadow\" is outside the folders a policy may name files in (" +
            box.policyDir() + " or " + box.shippedDir() +
            "); put the file in one of them and name it relative to it");
  CHECK(box.errorOf(box.keyPath()).find("is outside the folders") != std::string::npos);
  CHECK(box.errorOf("../tls/box.key") ==
        std::string(kField) +
            "\"../tls/box.key\" climbs out of its folder with \"..\"; name a "
            "file inside " +
            box.policyDir() + " or " + box.shippedDir());
  CHECK(box.errorOf("../../x").find("climbs out") != std::string::npos);
}

TEST_CASE("named files: a symbolic link to the TLS key is refused") {
  Box box;
  std::filesystem::create_symlink(box.keyPath(), box.policyDir() + "/lists/key.txt");
  std::filesystem::create_symlink("../../tls/box.key", box.policyDir() + "/lists/rel.txt");
  for (const char* name : {"lists/key.txt", "lists/rel.txt"}) {
    CHECK(box.errorOf(name) == std::string(kField) + "\"" + name + "\" leads out of " +
                                   box.policyDir() +
                                   " (through \"..\" or a symbolic link); keep the file, and any "
                                   "link to it, inside that folder (links relative to it)");
  }
}

TEST_CASE("named files: a FIFO, a device and a folder are refused without reading") {
  Box box;
  REQUIRE(::mkfifo((box.policyDir() + "/lists/pipe").c_str(), 0600) == 0);
  CHECK(box.errorOf("lists/pipe") == std::string(kField) +
                                         "\"lists/pipe\" is a FIFO (named pipe), not a regular "
                                         "file; name a file");
  std::filesystem::create_symlink("/dev/zero", box.policyDir() + "/lists/zero");
  CHECK(box.errorOf("lists/zero").find("leads out of") != std::string::npos);
  CHECK(box.errorOf("/dev/zero").find("is outside the folders") != std::string::npos);
  CHECK(box.errorOf("lists") == std::string(kField) + "\"lists\" is a folder; name a file in it");
}

TEST_CASE("named files: a key inside the policy's folder is read but never quoted") {
  Box box;
  std::filesystem::copy_file(box.keyPath(), box.policyDir() + "/box.key");
  const std::string message = box.errorOf("box.key");
  CHECK(message == std::string(kField) +
                       "box.key:1: not an IP address or CIDR (one a line, e.g. 198.18.1.4 or "
                       "198.18.1.0/24 with no host bits set; # starts a comment)\n" +
                       kField +
                       "box.key:2: not an IP address or CIDR (one a line, e.g. 198.18.1.4 or "
                       "198.18.1.0/24 with no host bits set; # starts a comment)");
}

TEST_CASE("named files: a list missing next to the policy comes from the shipped folder") {
  Box box;
  Box::write(box.shippedDir() + "/lists/doh-resolvers.txt", "203.0.113.53\n");
  const std::string policy =
      "version: 1\nprofiles: {quarantine: {}}\n"
      "dns: {resolvers: [gateway], doh_list: lists/doh-resolvers.txt}\n";
  auto shipped =
      compilePolicyText(policy, "proposed.yaml", SiteFacts{}, {box.policyDir(), box.shippedDir()});
  REQUIRE_MESSAGE(shipped.ok(), shipped.status().message());
  CHECK((*shipped)->dns.doh.contains(*IpAddress::parse("203.0.113.53")));
  // By its absolute path too, as older policies name it.
  auto absolute = compilePolicyText(
      "version: 1\nprofiles: {quarantine: {}}\ndns: {resolvers: [gateway], doh_list: " +
          box.shippedDir() + "/lists/doh-resolvers.txt}\n",
      "proposed.yaml", SiteFacts{}, {box.policyDir(), box.shippedDir()});
  REQUIRE_MESSAGE(absolute.ok(), absolute.status().message());
  // A copy next to the policy wins.
  Box::write(box.policyDir() + "/lists/doh-resolvers.txt", "198.51.100.53\n");
  auto own =
      compilePolicyText(policy, "proposed.yaml", SiteFacts{}, {box.policyDir(), box.shippedDir()});
  REQUIRE(own.ok());
  CHECK((*own)->dns.doh.contains(*IpAddress::parse("198.51.100.53")));
  CHECK_FALSE((*own)->dns.doh.contains(*IpAddress::parse("203.0.113.53")));
}

TEST_CASE("named files: the policy file itself must be a regular file, read without blocking") {
  Box box;
  const std::string fifo = box.policyDir() + "/policy.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(compilePolicyFile(fifo, SiteFacts{}, "").status().message() ==
        fifo + ": is a FIFO (named pipe), not a regular file; name a file");
  CHECK(compilePolicyFile("/dev/zero", SiteFacts{}, "").status().message() ==
        "/dev/zero: is a character device, not a regular file; name a file");
}

TEST_CASE("named files: all of a policy's files together are bounded") {
  Box box;
  // 1 MiB of comments, named by 65 groups: 65 MiB read in all, past the 64 MiB bound.
  Box::write(box.policyDir() + "/lists/big.txt", std::string((1 << 20) - 1, '#') + "\n");
  std::string policy = "version: 1\naddresses:\n";
  for (int i = 0; i < 65; ++i) {
    policy += "  g" + std::to_string(100 + i) + ": {file: lists/big.txt}\n";
  }
  policy += "profiles: {quarantine: {}}\n";
  auto result = compilePolicyText(policy, "proposed.yaml", SiteFacts{}, {box.policyDir(), ""});
  CHECK(result.status().message() ==
        "proposed.yaml:67: addresses.g164.file: with this, the bytes of the files this policy "
        "names would be more than 67108864; merge or trim the lists");
}

}  // namespace
}  // namespace muzzle

// The policy's `mud` section: fetch, the trust file (confined like list files, part of the
// digest), propose or auto; each mistake an error with the file, line and field.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "fw/policy/policy_loader.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

SiteFacts site() {
  SiteFacts s;
  SegmentFacts seg;
  seg.name = "cameras";
  seg.ifname = "br-cam";
  seg.ifindex = 7;
  seg.gateway_addresses = {*IpAddress::parse("198.18.10.1")};
  seg.subnets = {*Cidr::parse("198.18.10.0/24")};
  s.segments.push_back(seg);
  return s;
}

struct Folder {
  testing::TempDir dir{"muzzle-mud-policy"};
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir.path + "/" + name) << text;
  }
  PolicyCompileResult compile(const std::string& mud_line) {
    return compilePolicyText("version: 1\nprofiles: {quarantine: {}}\n" + mud_line,
                             dir.path + "/policy.yaml", site());
  }
  std::string error(const std::string& mud_line) {
    auto p = compile(mud_line);
    REQUIRE(!p.ok());
    return p.status().message();
  }
};

TEST_CASE("mud: a valid section compiles; propose is the default, auto when asked") {
  Folder f;
  f.write("mud-ca.pem", kCert);
  auto p = f.compile("mud: {trust: mud-ca.pem}\n");
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK(!(*p)->mud.fetch);
  CHECK(!(*p)->mud.apply_auto);
  CHECK((*p)->mud.trust_pem == kCert);
  auto q = f.compile("mud: {fetch: false, trust: mud-ca.pem, apply: auto}\n");
  REQUIRE(q.ok());
  CHECK((*q)->mud.apply_auto);
  auto r = f.compile("mud: {trust: mud-ca.pem, apply: propose}\n");
  REQUIRE(r.ok());
  CHECK(!(*r)->mud.apply_auto);
}

TEST_CASE("fetch: true compiles with a trust file (muzzled fetches: mgmt/server/mud_manager.h)") {
  Folder f;
  f.write("mud-ca.pem", kCert);
  auto p = f.compile("mud: {fetch: true, trust: mud-ca.pem, apply: auto}\n");
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK((*p)->mud.fetch);
  CHECK((*p)->mud.apply_auto);
  CHECK((*p)->mud.trust_pem == kCert);
}

TEST_CASE("without a mud section nothing is fetched, and the digest is what it was") {
  Folder f;
  auto p = f.compile("");
  REQUIRE(p.ok());
  CHECK(!(*p)->mud.fetch);
  CHECK((*p)->mud.trust_pem.empty());
}

TEST_CASE("the trust file is part of the digest: a changed file is a changed policy") {
  Folder f;
  f.write("mud-ca.pem", kCert);
  auto p = f.compile("mud: {trust: mud-ca.pem}\n");
  f.write("mud-ca.pem", std::string(kCert) + kCert);
  auto q = f.compile("mud: {trust: mud-ca.pem}\n");
  REQUIRE(p.ok());
  REQUIRE(q.ok());
  CHECK((*p)->digest != (*q)->digest);
}

TEST_CASE("mud errors name the file, line and field") {
  Folder f;
  const std::string at = f.dir.path + "/policy.yaml:3: ";
  CHECK(f.error("mud: {fetch: true}\n").rfind(at + "mud.trust: missing: name the PEM file", 0) ==
        0);
  f.write("mud-ca.pem", kCert);
  CHECK(f.error("mud: {fetch: true, trust: mud-ca.pem, apply: always}\n") ==
        at + "mud.apply: \"always\" is not propose or auto");
  CHECK(f.error("mud: {fetch: true, trust: missing.pem}\n").rfind(
            at + "mud.trust: \"missing.pem\" does not exist", 0) == 0);
  f.write("empty.pem", "# nothing yet\n");
  CHECK(f.error("mud: {fetch: true, trust: empty.pem}\n") ==
        at + "mud.trust: \"empty.pem\" holds no PEM certificate (-----BEGIN CERTIFICATE-----); "
             "put the CA certificates that sign MUD files in it");
  CHECK(f.error("mud: {fetch: yes please}\n").find("mud.fetch") != std::string::npos);
  CHECK(f.error("mud: {fetch: true, trust: mud-ca.pem, fetched: 1}\n").find("fetched") !=
        std::string::npos);
}

TEST_CASE("the trust file is confined to the policy's folders like list files") {
  Folder f;
  CHECK(f.error("mud: {fetch: true, trust: ../../etc/ssl/certs/ca-certificates.crt}\n")
            .find("mud.trust") != std::string::npos);
  CHECK(f.error("mud: {fetch: true, trust: /etc/ssl/certs/ca-certificates.crt}\n")
            .find("mud.trust") != std::string::npos);
  f.write("fifo-like", "");
  CHECK(f.error("mud: {trust: /dev/zero}\n").find("mud.trust") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

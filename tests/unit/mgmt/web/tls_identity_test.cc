// The web console's certificate (mgmt/web/tls_identity.h): made once in the state folder and kept
// (the same fingerprint at every start), or the configured pair, checked before it is used.
#include "mgmt/web/tls_identity.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using muzzle::testing::TempDir;

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

int modeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

X509* parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(cert != nullptr);
  return cert;
}

// Computed here another way: SHA-256 over i2d_X509's DER.
std::string expectedFingerprint(const std::string& pem) {
  X509* cert = parse(pem);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  unsigned char md[32];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(der, static_cast<size_t>(len), md, &n, EVP_sha256(), nullptr) == 1);
  OPENSSL_free(der);
  X509_free(cert);
  std::string out;
  char hex[4];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof(hex), i == 0 ? "%02X" : ":%02X", md[i]);
    out += hex;
  }
  return out;
}

TEST_CASE("made once in <state_dir>/web, kept, and the same at the next start") {
  TempDir state("tls");
  auto made = loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1");
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  CHECK(made->made_here);
  CHECK(made->fingerprint.size() == 95);
  CHECK(made->fingerprint == expectedFingerprint(made->cert_pem));
  CHECK(certificateFingerprint(made->cert_pem) == made->fingerprint);
  CHECK(made->key_pem.find("PRIVATE KEY") != std::string::npos);
  CHECK(modeOf(state.path + "/web") == 0700);
  CHECK(modeOf(state.path + "/web/console.key") == 0600);
  CHECK(std::filesystem::exists(state.path + "/web/console.crt"));

  auto again = loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1");
  REQUIRE(again.ok());
  CHECK(again->made_here);
  CHECK(again->fingerprint == made->fingerprint);
  CHECK(again->key_pem == made->key_pem);

  // Another box (another folder) makes another certificate, with another serial.
  TempDir other("tls");
  auto second = loadOrMakeTlsIdentity("", "", other.path, "198.18.0.1");
  REQUIRE(second.ok());
  CHECK(second->fingerprint != made->fingerprint);
}

TEST_CASE(
    "the made certificate: CN muzzle, the listen address as subjectAltName, ECDSA P-256, "
    "10 years") {
  TempDir state("tls");
  auto made = loadOrMakeTlsIdentity("", "", state.path, "fd00::1");
  REQUIRE(made.ok());
  X509* cert = parse(made->cert_pem);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  CHECK(std::string(cn) == "muzzle");
  CHECK(X509_check_ip_asc(cert, "fd00::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert, "fd00::2", 0) == 0);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  CHECK(EVP_PKEY_get_base_id(key) == EVP_PKEY_EC);
  char group[32] = {};
  size_t len = 0;
  EVP_PKEY_get_group_name(key, group, sizeof(group), &len);
  CHECK(std::string(group) == "prime256v1");
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) == 1);
  CHECK(days >= 3650);
  CHECK(days <= 3653);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) < 0);  // valid now
  X509_free(cert);
}

TEST_CASE("a configured pair loads as it is; its key must be the certificate's") {
  TempDir state("tls");
  std::filesystem::create_directories(state / "a");
  std::filesystem::create_directories(state / "b");
  auto a = loadOrMakeTlsIdentity("", "", (state / "a").string(), "198.18.0.1");
  auto b = loadOrMakeTlsIdentity("", "", (state / "b").string(), "198.18.0.1");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const std::string cert = (state / "a/web/console.crt").string();
  const std::string key = (state / "a/web/console.key").string();
  auto loaded = loadOrMakeTlsIdentity(cert, key, "/nonexistent", "198.18.0.1");
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK_FALSE(loaded->made_here);
  CHECK(loaded->fingerprint == a->fingerprint);
  CHECK(loaded->cert_pem == a->cert_pem);

  const std::string other_key = (state / "b/web/console.key").string();
  auto mismatched = loadOrMakeTlsIdentity(cert, other_key, "", "198.18.0.1");
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.status().code() == StatusCode::kInvalidArgument);
  CHECK(mismatched.status().message().rfind(other_key + ": this key is not the one of", 0) == 0);
  CHECK(mismatched.status().message().find(cert) != std::string::npos);

  auto half = loadOrMakeTlsIdentity(cert, "", "", "198.18.0.1");
  CHECK_FALSE(half.ok());

  writeText((state / "garbage.crt").string(), "not a certificate\n");
  auto garbage = loadOrMakeTlsIdentity((state / "garbage.crt").string(), key, "", "");
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.status().message().rfind((state / "garbage.crt").string() + ": no PEM", 0) == 0);
  // The certificate given as its own key.
  auto swapped = loadOrMakeTlsIdentity(cert, cert, "", "");
  REQUIRE_FALSE(swapped.ok());
  CHECK(swapped.status().message().rfind(cert + ": no unencrypted PEM private key", 0) == 0);
}

TEST_CASE("a FIFO or a folder named as the certificate or key is refused, naming it") {
  TempDir state("tls");
  auto made = loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1");
  REQUIRE(made.ok());
  const std::string cert = state.path + "/web/console.crt";
  const std::string key = state.path + "/web/console.key";
  const std::string fifo = state.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = loadOrMakeTlsIdentity(fifo, key, "", "");  // must not block
  REQUIRE_FALSE(from_fifo.ok());
  CHECK(from_fifo.status().message().find(fifo) != std::string::npos);
  auto key_fifo = loadOrMakeTlsIdentity(cert, fifo, "", "");
  REQUIRE_FALSE(key_fifo.ok());
  CHECK(key_fifo.status().message().find(fifo) != std::string::npos);
  auto folder = loadOrMakeTlsIdentity(state.path, key, "", "");
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.status().message().find(state.path) != std::string::npos);
}

TEST_CASE("a damaged kept pair is an error saying what to remove, not silently replaced") {
  TempDir state("tls");
  REQUIRE(loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1").ok());
  const std::string cert = state.path + "/web/console.crt";
  writeText(cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  auto damaged = loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1");
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.status().message().find("remove " + cert) != std::string::npos);
  // A key without its certificate (a crash between the two writes) is replaced whole.
  std::filesystem::remove(cert);
  auto remade = loadOrMakeTlsIdentity("", "", state.path, "198.18.0.1");
  REQUIRE(remade.ok());
  CHECK(std::filesystem::exists(cert));
}

TEST_CASE("certificateFingerprint of something that is not a certificate is empty") {
  CHECK(certificateFingerprint("").empty());
  CHECK(certificateFingerprint("hello").empty());
}

}  // namespace
}  // namespace muzzle::web

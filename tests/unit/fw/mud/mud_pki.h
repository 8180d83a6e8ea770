// Test PKI for the MUD signature tests, made with the OpenSSL API in the test (no fixtures to
// go stale): a CA, a certificate it signs, and detached CMS signatures as `openssl cms -sign
// -binary -outform DER` makes them. EC P-256 keys: fast to make. Aborts the test (REQUIRE) on
// any OpenSSL failure, which would be a broken test set-up, not a finding. Also the small MUD
// file these tests sign and fetch (camMudFile).
#pragma once

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace muzzle::test {

struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct CertFree { void operator()(X509* x) const { X509_free(x); } };
struct MemBioFree { void operator()(BIO* b) const { BIO_free(b); } };

// A key and its certificate, signed by `issuer` (self-signed when null).
class TestIdentity {
 public:
  TestIdentity(const std::string& common_name, const TestIdentity* issuer, bool is_ca,
               long valid_from_seconds = -3600) {
    key_.reset(EVP_EC_gen("P-256"));
    REQUIRE(key_);
    cert_.reset(X509_new());
    REQUIRE(cert_);
    X509_set_version(cert_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_.get()), ++serial());
    X509_gmtime_adj(X509_getm_notBefore(cert_.get()), valid_from_seconds);
    X509_gmtime_adj(X509_getm_notAfter(cert_.get()), valid_from_seconds + 86400L * 2);
    X509_NAME* name = X509_get_subject_name(cert_.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert_.get(), issuer ? X509_get_subject_name(issuer->cert()) : name);
    X509_set_pubkey(cert_.get(), key_.get());
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer->cert() : cert_.get(), cert_.get(), nullptr, nullptr, 0);
    addExtension(&ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (is_ca) addExtension(&ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    addExtension(&ctx, NID_subject_key_identifier, "hash");
    REQUIRE(X509_sign(cert_.get(), issuer ? issuer->key() : key_.get(), EVP_sha256()) > 0);
  }

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

  std::string certPem() const {
    std::unique_ptr<BIO, MemBioFree> bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_X509(bio.get(), cert_.get()) == 1);
    return drain(bio.get());
  }

  // The detached DER CMS signature of `data`, binary (no MIME canonicalisation).
  std::string signDetached(const std::string& data) const {
    std::unique_ptr<BIO, MemBioFree> in(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    CMS_ContentInfo* cms =
        CMS_sign(cert_.get(), key_.get(), nullptr, in.get(), CMS_DETACHED | CMS_BINARY);
    REQUIRE(cms != nullptr);
    std::unique_ptr<BIO, MemBioFree> out(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), cms) == 1);
    CMS_ContentInfo_free(cms);
    return drain(out.get());
  }

 private:
  static long& serial() {
    static long s = 0;
    return s;
  }
  void addExtension(X509V3_CTX* ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(cert_.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  static std::string drain(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(n));
  }

  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  std::unique_ptr<X509, CertFree> cert_;
};

// A camera's MUD file published at `url`: tcp/443 to cloud.maker.example.com, model "cam";
// `extra` is put among the top-level fields as it is (e.g. R"("cache-validity": 2, )").
inline std::string camMudFile(const std::string& url, const std::string& extra = "") {
  return R"({"ietf-mud:mud": {"mud-version": 1, "mud-url": ")" + url + R"(", )" + extra +
         R"("model-name": "cam", "from-device-policy": {"access-lists": {"access-list":
    [{"name": "fr"}]}}}, "ietf-access-control-list:acls": {"acl": [{"name": "fr",
    "type": "ipv4-acl-type", "aces": {"ace": [{"name": "cloud", "matches": {"ipv4": {
    "ietf-acldns:dst-dnsname": "cloud.maker.example.com", "protocol": 6},
    "tcp": {"destination-port": {"operator": "eq", "port": 443}}},
    "actions": {"forwarding": "accept"}}]}}]}})";
}

}  // namespace muzzle::test

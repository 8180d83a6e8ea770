#include "mgmt/web/tls_identity.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"

namespace muzzle::web {
namespace {

// A PEM certificate chain or key is a few kilobytes; anything past this is not one.
constexpr size_t kMaxPemBytes = 256 * 1024;
constexpr char kCertName[] = "console.crt";
constexpr char kKeyName[] = "console.key";
constexpr long kValidSeconds = 10L * 365 * 24 * 3600;
// 2025-01-01: the earliest "now" a made certificate is dated from. A box without a real-time
// clock may start in 1970; a certificate made then would have expired long before the browser
// that sees it was built.
constexpr time_t kEarliestStart = 1735689600;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

// Never prompts for a passphrase (an encrypted key simply does not load): muzzled has no
// terminal to ask on.
int noPassphrase(char*, int, int, void*) { return 0; }

X509Ptr firstCertificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
}

KeyPtr privateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
}

std::string fingerprintOf(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &n) != 1) return "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

// The pair in the two files: both PEM, the key the certificate's. Errors name the file.
Result<TlsIdentity> loadPair(const std::string& cert_path, const std::string& key_path,
                             const std::string& what_to_do) {
  auto cert_pem = readRegularFile(cert_path, kMaxPemBytes);
  if (!cert_pem.ok()) return cert_pem.status().withContext("web console certificate: ");
  auto key_pem = readRegularFile(key_path, kMaxPemBytes);
  if (!key_pem.ok()) return key_pem.status().withContext("web console key: ");
  X509Ptr cert = firstCertificate(*cert_pem);
  if (!cert) {
    return Status::error(StatusCode::kInvalidArgument,
                         cert_path + ": no PEM certificate in it (" + what_to_do + ")");
  }
  KeyPtr key = privateKey(*key_pem);
  if (!key) {
    return Status::error(StatusCode::kInvalidArgument,
                         key_path + ": no unencrypted PEM private key in it (" + what_to_do + ")");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Status::error(StatusCode::kInvalidArgument,
                         key_path + ": this key is not the one of the certificate " + cert_path +
                             " (" + what_to_do + ")");
  }
  return TlsIdentity{std::move(cert_pem).value(), std::move(key_pem).value(),
                     fingerprintOf(cert.get()), false};
}

bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// "IP:<listen_ip>" when it is one address; nothing for a wildcard (the console then answers on
// every address, and no single one can be named).
std::string subjectAltName(std::string ip) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    return ip == "0.0.0.0" ? "" : "IP:" + ip;
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return ip == "::" ? "" : "IP:" + ip;
  return "";
}

Result<X509Ptr> makeCertificate(EVP_PKEY* key, const std::string& listen_ip) {
  X509Ptr cert(X509_new());
  const auto fail = [] {
    return Status::error("OpenSSL cannot make the web console's certificate");
  };
  if (!cert || X509_set_version(cert.get(), 2) != 1) return fail();
  // A random 159-bit serial: positive, and never the same twice for the same name.
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return fail();
  }
  time_t start = std::max<time_t>(std::time(nullptr), kEarliestStart) - 24 * 3600;
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, kValidSeconds, &start) == nullptr) {
    return fail();
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("muzzle"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return fail();
  }
  const std::string san = subjectAltName(listen_ip);
  if (!addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      (!san.empty() && !addExtension(cert.get(), NID_subject_alt_name, san))) {
    return fail();
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return fail();
  return cert;
}

std::string pemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// A new pair in `dir`: the key first, so a crash between the two writes leaves a key without
// a certificate, which the next start replaces whole.
Result<TlsIdentity> makePair(const std::string& dir, const std::string& listen_ip) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::error("OpenSSL cannot make a P-256 key for the web console");
  auto cert = makeCertificate(key.get(), listen_ip);
  if (!cert.ok()) return cert.status();
  TlsIdentity id{pemOf(cert->get()), pemOf(key.get()), fingerprintOf(cert->get()), true};
  if (id.cert_pem.empty() || id.key_pem.empty()) {
    return Status::error("OpenSSL cannot write the web console's certificate as PEM");
  }
  if (Status s = writeFileAtomically(dir, kKeyName, id.key_pem, 0600); !s.ok()) return s;
  if (Status s = writeFileAtomically(dir, kCertName, id.cert_pem, 0644); !s.ok()) return s;
  return id;
}

Status makeFolder(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::error("cannot make the web console's folder " + dir + ": " +
                         std::strerror(errno));
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::error(StatusCode::kInvalidArgument,
                         dir +
                             " is not a folder (the web console keeps its certificate there; "
                             "move what is there away)");
  }
  return Status();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Result<TlsIdentity> loadOrMakeTlsIdentity(const std::string& cert_path, const std::string& key_path,
                                          const std::string& state_dir,
                                          const std::string& listen_ip) {
  if (!cert_path.empty() || !key_path.empty()) {
    if (cert_path.empty() || key_path.empty()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.web: a certificate and its key go together; set both, or "
                           "neither to have the box make its own");
    }
    return loadPair(cert_path, key_path, "configure the PEM certificate and its unencrypted key");
  }
  const std::string dir = state_dir + "/web";
  if (Status s = makeFolder(dir); !s.ok()) return s;
  const std::string cert = dir + "/" + kCertName;
  const std::string key = dir + "/" + kKeyName;
  if (!exists(cert) || !exists(key)) return makePair(dir, listen_ip);
  // Kept from an earlier start: the same fingerprint the user may already have accepted.
  auto kept =
      loadPair(cert, key, "remove " + cert + " and " + key + " to have the box make a new pair");
  if (kept.ok()) kept->made_here = true;
  return kept;
}

std::string certificateFingerprint(const std::string& pem) {
  X509Ptr cert = firstCertificate(pem);
  return cert ? fingerprintOf(cert.get()) : "";
}

}  // namespace muzzle::web

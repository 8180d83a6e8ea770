#include "fw/mud/mud_signature.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace muzzle {

const char* mudRefusalName(MudRefusal reason) {
  switch (reason) {
    case MudRefusal::kNotHttps: return "not-https";
    case MudRefusal::kTls: return "tls";
    case MudRefusal::kNetwork: return "network";
    case MudRefusal::kTimeout: return "timeout";
    case MudRefusal::kHttpError: return "http-error";
    case MudRefusal::kTooLarge: return "too-large";
    case MudRefusal::kNotCms: return "not-cms";
    case MudRefusal::kBadSignature: return "bad-signature";
    case MudRefusal::kUntrustedSigner: return "untrusted-signer";
    case MudRefusal::kNoTrustAnchors: return "no-trust-anchors";
    case MudRefusal::kMalformed: return "malformed";
    case MudRefusal::kPrivateAddress: return "private-address";
  }
  return "unknown";
}

namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct CmsFree { void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); } };
struct StoreFree { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memoryBio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// The first reason OpenSSL queued, for the message (e.g. "certificate has expired" is in the
// verify error, not here); the queue is emptied either way.
std::string openSslReason() {
  unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return "no detail";
  const char* reason = ERR_reason_error_string(first);
  return reason != nullptr ? reason : "no detail";
}

MudFailure failure(MudRefusal reason, std::string message) {
  ERR_clear_error();
  return MudFailure{reason, std::move(message)};
}

}  // namespace

std::optional<MudFailure> verifyMudSignature(std::string_view file, std::string_view signature_der,
                                             std::string_view trust_anchors_pem) {
  // BIO lengths are ints; the callers' caps (256 KiB) are far below, this keeps a misuse safe.
  constexpr size_t kMaxBytes = size_t{1} << 30;
  if (file.size() > kMaxBytes || signature_der.size() > kMaxBytes ||
      trust_anchors_pem.size() > kMaxBytes) {
    return failure(MudRefusal::kTooLarge, "MUD file, signature or trust file over 1 GiB");
  }
  ERR_clear_error();

  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  if (!store) return failure(MudRefusal::kNoTrustAnchors, "out of memory building the trust store");
  int anchors = 0;
  {
    BioPtr pem = memoryBio(trust_anchors_pem);
    while (true) {
      std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(pem.get(), nullptr, nullptr, nullptr));
      if (!cert) break;
      if (X509_STORE_add_cert(store.get(), cert.get()) == 1) ++anchors;
    }
    ERR_clear_error();  // the loop ends on "no start line": expected, not an error
  }
  if (anchors == 0) {
    return failure(MudRefusal::kNoTrustAnchors,
                   "the MUD trust file holds no PEM certificate: put the CA certificates that "
                   "sign MUD files (-----BEGIN CERTIFICATE-----) in it");
  }
  // MUD signers are not S/MIME signers: accept any key usage purpose the chain allows.
  X509_STORE_set_purpose(store.get(), X509_PURPOSE_ANY);

  BioPtr der = memoryBio(signature_der);
  std::unique_ptr<CMS_ContentInfo, CmsFree> cms(d2i_CMS_bio(der.get(), nullptr));
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return failure(MudRefusal::kNotCms,
                   "the MUD signature is not a DER CMS SignedData (" + openSslReason() +
                       "): the publisher must sign with `openssl cms -sign -binary -outform DER`");
  }

  constexpr unsigned kFlags = CMS_DETACHED | CMS_BINARY;
  // First the signature alone, then the signer's chain: so a tampered file and an unknown
  // signer are told apart without reading OpenSSL's error codes, which vary between releases.
  {
    BioPtr data = memoryBio(file);
    if (CMS_verify(cms.get(), nullptr, store.get(), data.get(), nullptr,
                   kFlags | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
      return failure(MudRefusal::kBadSignature,
                     "the MUD signature does not match the file (" + openSslReason() +
                         "): the file was changed after signing, or the signature is another "
                         "file's");
    }
  }
  BioPtr data = memoryBio(file);
  if (CMS_verify(cms.get(), nullptr, store.get(), data.get(), nullptr, kFlags) != 1) {
    return failure(MudRefusal::kUntrustedSigner,
                   "the MUD file's signer is not trusted (" + openSslReason() +
                       "): its certificate does not chain to a certificate in the MUD trust "
                       "file, or a certificate has expired");
  }
  ERR_clear_error();
  return std::nullopt;
}

std::string defaultMudSignatureUrl(std::string_view mud_url) {
  constexpr std::string_view kJson = ".json";
  std::string url(mud_url);
  if (url.size() >= kJson.size() && url.compare(url.size() - kJson.size(), kJson.size(), kJson) == 0) {
    url.resize(url.size() - kJson.size());
  }
  return url + ".p7s";
}

}  // namespace muzzle

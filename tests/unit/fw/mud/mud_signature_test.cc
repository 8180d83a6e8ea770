// verifyMudSignature: a good detached CMS signature passes; a changed file, a signer from
// another CA, garbage, an expired signer and an empty trust file each fail with their reason.
#include "fw/mud/mud_signature.h"

#include <doctest/doctest.h>

#include "tests/unit/fw/mud/mud_pki.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using test::TestIdentity;

const std::string kFile =
    R"({"ietf-mud:mud": {"mud-version": 1, "mud-url": "https://maker.example.com/cam.json"}})"
    "\r\n";

struct Pki {
  TestIdentity ca{"Lab MUD CA", nullptr, true};
  TestIdentity signer{"maker.example.com", &ca, false};
};

Pki& pki() {
  static Pki p;
  return p;
}

MudRefusal refusal(std::string_view file, std::string_view sig, std::string_view trust) {
  auto r = verifyMudSignature(file, sig, trust);
  REQUIRE_MESSAGE(r.has_value(), "expected a refusal");
  CHECK(!r->message.empty());
  return r->reason;
}

TEST_CASE("a good signature from a signer the trust file's CA signed passes") {
  const std::string sig = pki().signer.signDetached(kFile);
  auto r = verifyMudSignature(kFile, sig, pki().ca.certPem());
  CHECK_MESSAGE(!r.has_value(), (r ? r->message : ""));
}

TEST_CASE("the trust file may hold several anchors; the right one among them is enough") {
  TestIdentity other{"Other CA", nullptr, true};
  const std::string sig = pki().signer.signDetached(kFile);
  CHECK(!verifyMudSignature(kFile, sig, other.certPem() + pki().ca.certPem()).has_value());
}

TEST_CASE("one flipped byte anywhere in the file fails as bad-signature") {
  const std::string sig = pki().signer.signDetached(kFile);
  for (size_t at : {size_t{0}, kFile.size() / 2, kFile.size() - 1}) {
    std::string changed = kFile;
    changed[at] = static_cast<char>(changed[at] ^ 0x01);
    CHECK(refusal(changed, sig, pki().ca.certPem()) == MudRefusal::kBadSignature);
  }
  // Binary: a line-ending change is a change (no S/MIME canonicalisation).
  std::string lf = kFile.substr(0, kFile.size() - 2) + "\n";
  CHECK(refusal(lf, sig, pki().ca.certPem()) == MudRefusal::kBadSignature);
  // One byte more or less, too.
  CHECK(refusal(kFile + " ", sig, pki().ca.certPem()) == MudRefusal::kBadSignature);
}

TEST_CASE("a signer from another CA fails as untrusted-signer") {
  TestIdentity other_ca{"Other CA", nullptr, true};
  TestIdentity stranger{"stranger.example", &other_ca, false};
  const std::string sig = stranger.signDetached(kFile);
  auto r = verifyMudSignature(kFile, sig, pki().ca.certPem());
  REQUIRE(r.has_value());
  CHECK(r->reason == MudRefusal::kUntrustedSigner);
  CHECK(r->message.find("trust file") != std::string::npos);
  // A self-signed signer is no better.
  TestIdentity self{"self.example", nullptr, false};
  CHECK(refusal(kFile, self.signDetached(kFile), pki().ca.certPem()) ==
        MudRefusal::kUntrustedSigner);
}

TEST_CASE("a signer whose certificate has expired fails as untrusted-signer") {
  TestIdentity old_signer{"old.example", &pki().ca, false, -86400L * 10};  // ended 8 days ago
  CHECK(refusal(kFile, old_signer.signDetached(kFile), pki().ca.certPem()) ==
        MudRefusal::kUntrustedSigner);
}

TEST_CASE("garbage, an empty signature and a PEM signature fail as not-cms") {
  CHECK(refusal(kFile, "", pki().ca.certPem()) == MudRefusal::kNotCms);
  CHECK(refusal(kFile, "this is not a signature", pki().ca.certPem()) == MudRefusal::kNotCms);
  std::string sig = pki().signer.signDetached(kFile);
  CHECK(refusal(kFile, sig.substr(0, sig.size() / 2), pki().ca.certPem()) == MudRefusal::kNotCms);
  // A certificate is DER too, but not CMS.
  unsigned char* der = nullptr;
  int n = i2d_X509(pki().signer.cert(), &der);
  REQUIRE(n > 0);
  std::string cert_der(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  CHECK(refusal(kFile, cert_der, pki().ca.certPem()) == MudRefusal::kNotCms);
}

TEST_CASE("an empty trust file, or one without a certificate, fails clearly before anything else") {
  const std::string sig = pki().signer.signDetached(kFile);
  auto r = verifyMudSignature(kFile, sig, "");
  REQUIRE(r.has_value());
  CHECK(r->reason == MudRefusal::kNoTrustAnchors);
  CHECK(r->message.find("no PEM certificate") != std::string::npos);
  CHECK(refusal(kFile, sig, "# my anchors\n") == MudRefusal::kNoTrustAnchors);
  CHECK(refusal(kFile, "garbage", "") == MudRefusal::kNoTrustAnchors);
}

TEST_CASE("the signature URL defaults to the file's with .json replaced by .p7s") {
  CHECK(defaultMudSignatureUrl("https://m.example/cam.json") == "https://m.example/cam.p7s");
  CHECK(defaultMudSignatureUrl("https://m.example/cam") == "https://m.example/cam.p7s");
}

TEST_CASE("reasons have the names events use") {
  CHECK(std::string(mudRefusalName(MudRefusal::kBadSignature)) == "bad-signature");
  CHECK(std::string(mudRefusalName(MudRefusal::kUntrustedSigner)) == "untrusted-signer");
  CHECK(std::string(mudRefusalName(MudRefusal::kTooLarge)) == "too-large");
}

}  // namespace
}  // namespace muzzle

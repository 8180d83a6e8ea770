#include "fw/common/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace muzzle {
namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr,
               "muzzle: OpenSSL cannot compute SHA-256 (%s); check memory and the "
               "OpenSSL configuration (OPENSSL_CONF)\n",
               what);
  std::abort();
}

}  // namespace

struct Sha256::Context {
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx;

  void start() {
    if (EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) fail("EVP_DigestInit_ex");
  }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->ctx.reset(EVP_MD_CTX_new());
  if (!context_->ctx) fail("EVP_MD_CTX_new");
  context_->start();
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(context_->ctx.get(), data.data(), data.size()) != 1) {
    fail("EVP_DigestUpdate");
  }
}

std::string Sha256::hexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(context_->ctx.get(), digest, &len) != 1) fail("EVP_DigestFinal_ex");
  context_->start();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::string sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.hexDigest();
}

}  // namespace muzzle

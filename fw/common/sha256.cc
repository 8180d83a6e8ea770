#include "fw/common/sha256.h"

#include <nettle/sha2.h>

namespace muzzle {

struct Sha256::Context {
  sha256_ctx ctx;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) { sha256_init(&context_->ctx); }

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  sha256_update(&context_->ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
}

std::string Sha256::hexDigest() {
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&context_->ctx, sizeof(digest), digest);  // also starts the hash over
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(sizeof(digest) * 2);
  for (const uint8_t byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

std::string sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.hexDigest();
}

}  // namespace muzzle

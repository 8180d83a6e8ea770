// SHA-256 through Nettle (libnettle8, the crypto library under GnuTLS). The management plane
// uses it for revision hashes and the audit hash chain, the data plane to tell two policies apart
// (the policy generation): all of them are stored on disk as lower-case hex, so the encoding is
// part of the contract.
//
// Why Nettle and not OpenSSL's EVP, which the management plane links for TLS anyway: the first
// EVP digest loads OpenSSL's default provider, about 1.9 MB of resident memory in a muzzled that
// never serves TLS (a box managed over its local socket), against about 0.3 MB for Nettle; and
// Nettle's SHA-256 cannot fail, so there is no error path to get wrong. The FIPS 180-4 vectors
// in sha256_test pin the result.
//
// Sha256 is a value owned by one thread at a time (not shareable while hashing).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace muzzle {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view data);
  // The digest of everything fed so far; the hash then starts over, empty.
  std::string hexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Hex SHA-256 of `data`, lower case.
std::string sha256Hex(std::string_view data);

}  // namespace muzzle

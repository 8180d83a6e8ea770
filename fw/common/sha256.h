// SHA-256 through OpenSSL's EVP interface. The management plane uses it for revision hashes and
// the audit hash chain, the data plane to tell two policies apart (the policy generation): all
// of them are stored on disk as lower-case hex, so the encoding is part of the contract.
//
// Sha256 is a value owned by one thread at a time (not shareable while hashing). OpenSSL failing
// to hash (out of memory, or an OpenSSL configuration without the default provider) ends the
// process with a message saying so: a wrong digest would silently break the audit chain or make
// two policies look alike, which is worse than stopping.
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

// SHA-256 against the FIPS 180-4 example vectors. Revision metadata, policy generations and the
// audit hash chain on disk hold these lower-case hex digests, so the encoding matters as much as
// the hash.
#include "fw/common/sha256.h"

#include <doctest/doctest.h>

#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char k448Bits[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST_CASE("sha256Hex matches the FIPS 180-4 vectors") {
  CHECK(sha256Hex("") == kEmpty);
  CHECK(sha256Hex("abc") == kAbc);
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == k448Bits);
  CHECK(sha256Hex(std::string(1000000, 'a')) == kMillionA);
}

TEST_CASE("a digest fed in pieces equals the digest of the whole") {
  Sha256 sha;
  for (int i = 0; i < 1000; ++i) sha.update(std::string(1000, 'a'));
  CHECK(sha.hexDigest() == kMillionA);

  Sha256 split;
  split.update("ab");
  split.update("");
  split.update("c");
  CHECK(split.hexDigest() == kAbc);
}

TEST_CASE("bytes are hashed as unsigned octets, NULs included") {
  // Policy and audit text is UTF-8: bytes >= 0x80 must not be sign-extended.
  CHECK(sha256Hex(std::string("\0", 1)) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  CHECK(sha256Hex("\xff") == "a8100ae6aa1940d0b663bb31cd466142ebbdbd5187131b92d93818987832eb89");
}

}  // namespace
}  // namespace muzzle

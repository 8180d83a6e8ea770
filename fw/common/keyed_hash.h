// Keyed hashing for the tables whose keys a device chooses: its Ethernet address (any device can
// send from made-up ones), the addresses it sends from, and the addresses in the DNS answers it
// asks for (its own resolver on the internet may answer anything).
//
// Why keyed: std::hash<uint64_t> is the value itself, and the unkeyed address mix is public, so a
// hostile device could pick keys that all land in one bucket of a std::unordered_map (the bucket
// is the hash modulo a prime from a public list) and make every look-up of them walk one long
// chain: thousands of comparisons a packet, on the queue thread every device shares. Here the
// words of the key go through NH, UMAC's almost-universal hash (RFC 4418, section 5.2.1): 32-bit
// words plus key words, multiplied in pairs and summed mod 2^64, so any two different keys
// collide with a chance of about 2^-32 over the secret, which the process draws once from the
// kernel's random source and never shows; MurmurHash3's finaliser then spreads the sum over
// every bit a table's bucket index may use.
//
// Consequence: the order in which a std::unordered_map of these keys iterates changes from one
// run of muzzled to the next. Nothing may depend on it: what users see from such a table is
// sorted first (the device list), and a file written from one is read back whole, in any order.
//
// keyedHash of an IpAddress (and IpAddressHash, which uses it) is in net.h. A few
// multiplications a key. Any thread (the secret is drawn before first use and never
// changes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace muzzle {

// The process's secret: 16 random 32-bit words, drawn at the first call.
const std::array<uint32_t, 16>& processHashKey();

// NH over `n` (even, at most 16) 32-bit words with the process's secret, then the finaliser.
inline uint64_t keyedHashWords(const uint32_t* words, size_t n) {
  const std::array<uint32_t, 16>& key = processHashKey();
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i += 2) {
    sum += uint64_t{static_cast<uint32_t>(words[i] + key[i])} *
           uint64_t{static_cast<uint32_t>(words[i + 1] + key[i + 1])};
  }
  sum ^= sum >> 33;
  sum *= 0xFF51AFD7ED558CCDull;
  sum ^= sum >> 33;
  sum *= 0xC4CEB9FE1A85EC53ull;
  sum ^= sum >> 33;
  return sum;
}

// A 64-bit value (an Ethernet address's MacAddress::value, a device and a class packed).
inline uint64_t keyedHash(uint64_t value) {
  const uint32_t w[2] = {static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)};
  return keyedHashWords(w, 2);
}

// For std::unordered_map<uint64_t, ...> keyed by MacAddress::value.
struct MacValueHash {
  size_t operator()(uint64_t mac_value) const { return static_cast<size_t>(keyedHash(mac_value)); }
};
template <typename V>
using MacMap = std::unordered_map<uint64_t, V, MacValueHash>;

}  // namespace muzzle

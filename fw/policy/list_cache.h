// ListCache: the address sets earlier compiles made of list files, by the SHA-256 of the file's
// text, so a compile that reads the same text again reuses the set instead of parsing it anew.
//
// Why: a site's threat feed (`addresses: {threats: {file: lists/threats.txt}}`) can hold 100,000
// entries and change far less often than the policy around it. Parsing it is a quarter of a
// 10,000-device site's compile, and the fresh memory its vectors take is much of the compile's
// page faults, which a busy small box pays again on every reload (issue 18). With the cache, a
// reload that changed a profile reuses the set the installed policy already holds.
//
// What it changes: the cost of a compile, never its result. An entry is the set a compile built
// from exactly that text (the key is the SHA-256 of all of it, so a file that changes one byte
// is parsed anew), and only a list that parsed without a bad line is remembered, so every error
// a file can cause is still found and reported. It holds weak references: a set lives as long as
// a compiled policy uses it, and the cache never keeps one alive or grows past kMaxEntries.
//
// Thread-safe: muzzled compiles on its compile thread, and on the engine thread when it loads the
// policy file itself.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

class ListCache {
 public:
  // More list files than a policy names in practice; past it the oldest entries go.
  static constexpr size_t kMaxEntries = 64;

  struct Set {
    std::shared_ptr<const AddressSet> set;  // finalized
    size_t entries = 0;                     // the addresses the file lists (before merging)
  };

  // The set made of the text whose SHA-256 (hex) is `digest`, while a compiled policy still
  // holds it; nullopt otherwise.
  std::optional<Set> find(const std::string& digest);
  // Remembers `set` as what the text of `digest` parses to.
  void remember(const std::string& digest, const Set& set);

  size_t hits() const;  // finds that returned a set, since construction (for tests and the bench)

 private:
  struct Entry {
    std::string digest;
    std::weak_ptr<const AddressSet> set;
    size_t entries = 0;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // oldest first
  size_t hits_ = 0;
};

}  // namespace muzzle

// MUD files fetched for devices, kept in `state_dir/mud/` per URL for the file's own
// `cache-validity` (RFC 8520: hours, 1..168, default 48; a larger value is capped at 168), so a
// box re-fetches a manufacturer's file at most that often however often its devices renew
// their DHCP leases, and a restart does not re-fetch them all.
//
// Per URL three files named by the URL's SHA-256 (a device chooses the URL: it never becomes a
// path): `<hash>.json` (the file's bytes), `<hash>.p7s` (its signature) and `<hash>.meta`
// (`url`, fetch time in Unix seconds, validity in hours, one per line), each written
// atomically, meta last, so a torn write leaves an entry without meta, which is a miss. An entry
// is only ever stored after its signature verified; lookup() returns the bytes for the caller
// to verify again against the trust file in force (it may have changed). A damaged entry
// (unreadable, meta not parsing, another URL in it) is a miss and is overwritten by the next
// store. Bounded: at most kMaxMudCacheEntries entries; past that the oldest is removed.
//
// Time is the Clock's wall time (entries outlive the process). Not thread-safe: one owner (the
// MUD fetch worker).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fw/common/clock.h"
#include "fw/common/status.h"

namespace muzzle {

inline constexpr int64_t kDefaultMudCacheHours = 48;
inline constexpr int64_t kMaxMudCacheHours = 168;
inline constexpr size_t kMaxMudCacheEntries = 256;

struct CachedMud {
  std::string file;
  std::string signature;
};

class MudCache {
 public:
  // `dir` is created (0750) by the first store() if missing. `clock` must outlive the cache.
  MudCache(std::string dir, const Clock& clock);

  // The entry for `url` while it is fresh; nullopt when missing, expired or damaged.
  std::optional<CachedMud> lookup(const std::string& url) const;

  // Keeps `file` and `signature` for `url` for `validity_hours` (nullopt: the default, 48;
  // capped to 1..168). Fails naming the folder and the system error; the caller logs and goes
  // on without a cache.
  Status store(const std::string& url, const CachedMud& entry,
               std::optional<int64_t> validity_hours);

 private:
  void pruneOldest() const;
  std::string dir_;
  const Clock& clock_;
};

// The hours an entry is kept for a file's `cache-validity`.
int64_t mudCacheHours(std::optional<int64_t> cache_validity);

}  // namespace muzzle

#include "fw/policy/list_cache.h"

#include <algorithm>

namespace muzzle {

std::optional<ListCache::Set> ListCache::find(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& entry : entries_) {
    if (entry.digest != digest) continue;
    auto set = entry.set.lock();
    if (!set) return std::nullopt;
    ++hits_;
    return Set{std::move(set), entry.entries};
  }
  return std::nullopt;
}

void ListCache::remember(const std::string& digest, const Set& set) {
  std::lock_guard<std::mutex> lock(mu_);
  // Sets no policy holds any more are gone for good: their entries only take room.
  std::erase_if(entries_, [&](const Entry& e) { return e.digest == digest || e.set.expired(); });
  if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.push_back(Entry{digest, set.set, set.entries});
}

size_t ListCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

}  // namespace muzzle

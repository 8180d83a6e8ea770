#include "fw/mud/mud_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/common/sha256.h"
#include "fw/mud/mud_json.h"

namespace muzzle {

namespace {

struct Meta {
  std::string url;
  int64_t fetched = 0;
  int64_t hours = 0;
};

std::optional<Meta> parseMeta(const std::string& text) {
  std::istringstream in(text);
  Meta m;
  if (!std::getline(in, m.url) || !(in >> m.fetched >> m.hours)) return std::nullopt;
  if (m.hours < 1 || m.hours > kMaxMudCacheHours) return std::nullopt;
  return m;
}

}  // namespace

int64_t mudCacheHours(std::optional<int64_t> cache_validity) {
  if (!cache_validity) return kDefaultMudCacheHours;
  return std::clamp<int64_t>(*cache_validity, 1, kMaxMudCacheHours);
}

MudCache::MudCache(std::string dir, const Clock& clock) : dir_(std::move(dir)), clock_(clock) {}

std::optional<CachedMud> MudCache::lookup(const std::string& url) const {
  const std::string base = dir_ + "/" + sha256Hex(url);
  auto meta_text = readRegularFile(base + ".meta", 4096);
  if (!meta_text.ok()) return std::nullopt;
  auto meta = parseMeta(*meta_text);
  if (!meta || meta->url != url) return std::nullopt;
  const int64_t now = unixSeconds(clock_.wallNow());
  // A fetch time in the future (the clock was set back) counts as expired: fetch again.
  if (now < meta->fetched || now >= meta->fetched + meta->hours * 3600) return std::nullopt;
  auto file = readRegularFile(base + ".json", kMaxMudBytes);
  auto sig = readRegularFile(base + ".p7s", kMaxMudBytes);
  if (!file.ok() || !sig.ok()) return std::nullopt;
  return CachedMud{std::move(*file), std::move(*sig)};
}

Status MudCache::store(const std::string& url, const CachedMud& entry,
                       std::optional<int64_t> validity_hours) {
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::error("cannot create the MUD cache folder " + dir_ + ": " +
                         std::strerror(errno));
  }
  pruneOldest();
  const std::string hash = sha256Hex(url);
  for (auto [suffix, bytes] : {std::pair<const char*, const std::string*>{".json", &entry.file},
                               {".p7s", &entry.signature}}) {
    Status s = writeFileAtomically(dir_, hash + suffix, *bytes);
    if (!s.ok()) return s.withContext("MUD cache: ");
  }
  std::string meta = url + "\n" + std::to_string(unixSeconds(clock_.wallNow())) + "\n" +
                     std::to_string(mudCacheHours(validity_hours)) + "\n";
  return writeFileAtomically(dir_, hash + ".meta", meta).withContext("MUD cache: ");
}

void MudCache::pruneOldest() const {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> metas;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() == ".meta") metas.emplace_back(e.last_write_time(ec), e.path());
  }
  if (metas.size() < kMaxMudCacheEntries) return;
  std::sort(metas.begin(), metas.end());
  for (size_t i = 0; i + kMaxMudCacheEntries - 1 < metas.size(); ++i) {
    fs::path p = metas[i].second;
    for (const char* suffix : {".meta", ".json", ".p7s"}) {
      fs::remove(fs::path(p).replace_extension(suffix), ec);
    }
  }
}

}  // namespace muzzle

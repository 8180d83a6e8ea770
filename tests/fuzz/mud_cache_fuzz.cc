// libFuzzer target for MudCache::lookup, the reader of `state_dir/mud/` (MUD files fetched for
// devices, kept per URL: `<sha256(url)>.meta` with the URL, the fetch time and the hours the
// entry is good for, beside the file and its signature; muzzled reads them back after a restart,
// a disk may tear them, a person may edit them). The file's and signature's bytes go on to the
// signature check and the MUD reader, which mud_fuzz covers; here the entry's own form.
//
// Input: sections separated by a line "----": the `.meta`, the `.json`, the `.p7s` (a section
// left out is a file that is missing), written under the hash of a device's URL.
// Oracle: the sanitizers, and:
//  - an entry is given back only for its own URL, only while fresh (its fetch time not in the
//    future, at most 168 hours old), and with the bytes its files hold;
//  - an entry the cache stored itself (whatever the input's `cache-validity`, capped to 1..168
//    hours) reads back whole until its hours are up, and not after.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/sha256.h"
#include "fw/mud/mud_cache.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/sections.h"

namespace {

constexpr char kUrl[] = "https://mud.example.com/cameras/cam-2000.json";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = muzzle::fuzz::scratchDir() + "/mud";
  muzzle::fuzz::resetDir(dir);
  const std::vector<std::string_view> parts =
      muzzle::fuzz::splitSections(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string base = dir + "/" + muzzle::sha256Hex(kUrl);
  muzzle::fuzz::writeFile(base + ".meta", parts[0]);
  if (parts.size() > 1) muzzle::fuzz::writeFile(base + ".json", parts[1]);
  if (parts.size() > 2) muzzle::fuzz::writeFile(base + ".p7s", parts[2]);

  muzzle::ManualClock clock;  // 1,790,000,000
  const int64_t now = muzzle::unixSeconds(clock.wallNow());
  muzzle::MudCache cache(dir, clock);
  const std::optional<muzzle::CachedMud> found = cache.lookup(kUrl);
  if (found) {
    if (parts.size() < 3) std::abort();  // a missing file is a miss
    if (found->file != parts[1] || found->signature != parts[2]) std::abort();
    // The meta's first line is the URL; then the fetch time, not in the future and at most 168
    // hours back.
    const std::string_view meta = parts[0];
    if (!meta.starts_with(std::string(kUrl) + "\n")) std::abort();
    const int64_t fetched =
        std::strtoll(std::string(meta.substr(sizeof(kUrl))).c_str(), nullptr, 10);
    if (fetched > now || now - fetched >= muzzle::kMaxMudCacheHours * 3600) std::abort();
  }
  // Another URL is never this entry.
  if (cache.lookup("https://mud.example.com/cameras/cam-2001.json")) std::abort();

  // A fresh fetch stored over it, good for the hours the input's last byte asks (0: the file
  // named none).
  const muzzle::CachedMud fetched{"{\"ietf-mud:mud\":{}}", "signature bytes"};
  const std::optional<int64_t> validity = size == 0 || data[size - 1] == 0
                                              ? std::nullopt
                                              : std::optional<int64_t>(int8_t(data[size - 1]) * 3);
  if (!cache.store(kUrl, fetched, validity).ok()) std::abort();  // the scratch folder is writable
  const int64_t hours = muzzle::mudCacheHours(validity);
  if (hours < 1 || hours > muzzle::kMaxMudCacheHours) std::abort();
  const auto back = cache.lookup(kUrl);
  if (!back || back->file != fetched.file || back->signature != fetched.signature) std::abort();
  clock.advance(std::chrono::hours(hours) - std::chrono::seconds(1));
  if (!cache.lookup(kUrl)) std::abort();
  clock.advance(std::chrono::seconds(1));
  if (cache.lookup(kUrl)) std::abort();
  return 0;
}

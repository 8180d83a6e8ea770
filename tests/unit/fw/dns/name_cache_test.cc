// NameCache: TTL expiry with grace (moved with ManualClock, never slept), per-device isolation,
// and both bounds.
#include <doctest/doctest.h>

#include <array>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "fw/dns/name_cache.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::seconds;

const MacAddress kSpeaker = *MacAddress::parse("68:54:fd:00:00:31");
const MacAddress kCamera = *MacAddress::parse("44:47:cc:00:00:11");
const IpAddress kIp = *IpAddress::parse("203.0.113.30");
const IpAddress kIp6 = *IpAddress::parse("2001:db8:cafe::30");

size_t count(NameCache& c, MacAddress mac, const IpAddress& ip) {
  std::array<std::string_view, 8> out;
  return c.lookup(mac, ip, out);
}

TEST_CASE("a learned name lives for its TTL plus the grace, then is gone") {
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.grace = seconds(2)});
  cache.learn(kSpeaker, kIp, "avs.voice.example", 5);
  std::array<std::string_view, 4> out;
  REQUIRE(cache.lookup(kSpeaker, kIp, out) == 1);
  CHECK(out[0] == "avs.voice.example");
  clock.advance(seconds(6));  // past the TTL, inside the grace
  CHECK(count(cache, kSpeaker, kIp) == 1);
  clock.advance(seconds(2));  // 8 s > 5 + 2
  CHECK(count(cache, kSpeaker, kIp) == 0);
  CHECK(cache.entryCount() == 0);  // the expired entry was removed on the way
}

TEST_CASE("names are per device and per address family") {
  ManualClock clock;
  NameCache cache(clock);
  cache.learn(kSpeaker, kIp, "avs.voice.example", 60);
  CHECK(count(cache, kCamera, kIp) == 0);
  CHECK(count(cache, kSpeaker, kIp6) == 0);
  cache.learn(kSpeaker, kIp, "cdn.voice.example", 60);
  CHECK(count(cache, kSpeaker, kIp) == 2);
}

TEST_CASE("a device that holds no name is answered without probing the index") {
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.grace = seconds(0)});
  CHECK(count(cache, kCamera, kIp) == 0);  // never learned anything
  CHECK(cache.indexProbes() == 0);
  cache.learn(kSpeaker, kIp, "avs.voice.example", 5);
  CHECK(count(cache, kCamera, kIp) == 0);  // another device's names do not count
  CHECK(cache.indexProbes() == 0);
  CHECK(count(cache, kSpeaker, kIp6) == 0);  // a device with names: the index answers
  CHECK(count(cache, kSpeaker, kIp) == 1);
  CHECK(cache.indexProbes() == 2);
  clock.advance(seconds(6));
  CHECK(count(cache, kSpeaker, kIp) == 0);  // expired, removed on the way
  CHECK(cache.indexProbes() == 3);
  CHECK(count(cache, kSpeaker, kIp) == 0);  // nothing left: the device table answers again
  CHECK(cache.indexProbes() == 3);
  cache.learn(kSpeaker, kIp, "avs.voice.example", 60);
  CHECK(count(cache, kSpeaker, kIp) == 1);
}

TEST_CASE("learning a name again keeps the later expiry; a TTL of days is capped") {
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.grace = seconds(0), .max_ttl = seconds(100)});
  cache.learn(kSpeaker, kIp, "a.example", 50);
  cache.learn(kSpeaker, kIp, "a.example", 10);
  CHECK(cache.entryCount() == 1);
  clock.advance(seconds(40));
  CHECK(count(cache, kSpeaker, kIp) == 1);
  cache.learn(kSpeaker, kIp6, "b.example", 7 * 86400);
  clock.advance(seconds(101));
  CHECK(count(cache, kSpeaker, kIp6) == 0);
}

TEST_CASE("per-device bound: the least recently used entry goes first") {
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.per_device = 3});
  for (int i = 0; i < 3; ++i) {
    cache.learn(kSpeaker, IpAddress::v4FromHostOrder(0xCB007100 + i), "n" + std::to_string(i) + ".example", 60);
  }
  // Using entry 0 makes entry 1 the oldest.
  CHECK(count(cache, kSpeaker, IpAddress::v4FromHostOrder(0xCB007100)) == 1);
  cache.learn(kSpeaker, IpAddress::v4FromHostOrder(0xCB007103), "n3.example", 60);
  CHECK(cache.entryCount() == 3);
  CHECK(cache.evictions() == 1);
  CHECK(count(cache, kSpeaker, IpAddress::v4FromHostOrder(0xCB007100)) == 1);
  CHECK(count(cache, kSpeaker, IpAddress::v4FromHostOrder(0xCB007101)) == 0);
  CHECK(count(cache, kSpeaker, IpAddress::v4FromHostOrder(0xCB007103)) == 1);
}

TEST_CASE("a flood of answers cannot grow the cache past its bounds") {
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.per_device = 100, .devices = 10});
  for (uint32_t d = 0; d < 50; ++d) {
    MacAddress mac{0x020000000000ull + d};
    for (uint32_t i = 0; i < 1000; ++i) {
      cache.learn(mac, IpAddress::v4FromHostOrder(0xCB007100 + i), "flood.example", 60);
    }
    clock.advance(seconds(1));
  }
  CHECK(cache.deviceCount() == 10);
  CHECK(cache.entryCount() == 1000);
  // The devices kept are the most recent ones.
  CHECK(count(cache, MacAddress{0x020000000000ull + 49}, IpAddress::v4FromHostOrder(0xCB007100 + 999)) == 1);
  CHECK(count(cache, MacAddress{0x020000000000ull}, IpAddress::v4FromHostOrder(0xCB007100 + 999)) == 0);
}

TEST_CASE("the total bound holds when per_device * devices would allow far more") {
  ManualClock clock;
  // 1024 * 4096 entries would be allowed per device and device; the total caps them at 1600.
  NameCache cache(clock, NameCacheLimits{.per_device = 1024, .devices = 4096, .total = 1600});
  for (uint32_t d = 0; d < 40; ++d) {
    MacAddress mac{0x020000000000ull + d};
    for (uint32_t i = 0; i < 200; ++i) {
      cache.learn(mac, IpAddress::v4FromHostOrder(0xCB007100 + i), "spoofed.example", 60);
      CHECK(cache.entryCount() <= 1600);
    }
    clock.advance(seconds(1));
  }
  CHECK(cache.entryCount() >= 1500);  // trimmed to 15/16 of the bound, not emptied
  // The device heard from last keeps all it learned; the first ones gave theirs up.
  CHECK(count(cache, MacAddress{0x020000000000ull + 39}, IpAddress::v4FromHostOrder(0xCB007100)) == 1);
  CHECK(count(cache, MacAddress{0x020000000000ull}, IpAddress::v4FromHostOrder(0xCB007100 + 199)) == 0);
  CHECK(cache.evictions() == 40 * 200 - cache.entryCount());
  // Lowering the bound later applies at once.
  cache.setLimits(NameCacheLimits{.per_device = 1024, .devices = 4096, .total = 100});
  CHECK(cache.entryCount() <= 100);
}

TEST_CASE("every entry stays reachable, and only its own device's, through every way out") {
  // Devices that share addresses and names, under bounds every way of leaving exercises (the
  // device's own bound, the device bound, the total, expiry met by a lookup): after each step,
  // looking every (device, address) up finds exactly entryCount() names, each one that device
  // learned for that address. An entry left in the index after it left its device (or the other
  // way round) breaks the count, and the sanitizers see the dangling node.
  ManualClock clock;
  NameCache cache(clock, NameCacheLimits{.per_device = 10, .devices = 6, .total = 40});
  const std::array<const char*, 3> names = {"a.example", "b.example", "c.example"};
  std::map<std::pair<uint64_t, IpAddress>, std::set<std::string>> learned;
  uint64_t seed = 12345;
  auto next = [&seed](uint64_t bound) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (seed >> 33) % bound;
  };
  for (int step = 0; step < 3000; ++step) {
    const MacAddress mac{0x020000000000ull + next(8)};
    const IpAddress ip = IpAddress::v4FromHostOrder(0xCB007100 + static_cast<uint32_t>(next(16)));
    const char* name = names[next(3)];
    cache.learn(mac, ip, name, static_cast<uint32_t>(1 + next(30)));
    learned[{mac.value, ip}].insert(name);
    if (next(4) == 0) clock.advance(seconds(next(8)));
    if (step % 50 != 49) continue;
    size_t found = 0;
    for (uint64_t d = 0; d < 8; ++d) {
      for (uint32_t a = 0; a < 16; ++a) {
        const MacAddress m{0x020000000000ull + d};
        const IpAddress i = IpAddress::v4FromHostOrder(0xCB007100 + a);
        std::array<std::string_view, 8> out;
        const size_t n = cache.lookup(m, i, out);
        found += n;
        for (size_t k = 0; k < n; ++k) CHECK(learned[{m.value, i}].count(std::string(out[k])) == 1);
      }
    }
    // Every expired entry was met (and removed) by the sweep, so what it found is everything.
    CHECK(found == cache.entryCount());
    CHECK(cache.entryCount() <= 40);
    CHECK(cache.deviceCount() <= 6);
  }
  CHECK(cache.evictions() > 0);
}

TEST_CASE("shrinking the limits evicts at once") {
  ManualClock clock;
  NameCache cache(clock);
  for (uint32_t i = 0; i < 10; ++i) cache.learn(kSpeaker, IpAddress::v4FromHostOrder(i + 1), "x.example", 60);
  cache.setLimits(NameCacheLimits{.per_device = 4});
  CHECK(cache.entryCount() == 4);
  CHECK(NameCache::approxBytesPerEntry() > 0);
}

}  // namespace
}  // namespace muzzle

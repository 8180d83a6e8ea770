// FlatIndex (fw/common/flat_index.h): records found by tag and key, through inserts, erases that
// close up runs (backward shift), renumbering and clears, checked against a plain map; with tags
// that collide on purpose, so runs grow long and wrap around the end of the array.
#include "fw/common/flat_index.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// An owner as accounting's are: records in a dense array, a hole filled by the last record.
struct Owner {
  struct Record {
    uint32_t key;
    uint32_t tag;
  };
  std::vector<Record> records;
  FlatIndex index;

  uint32_t find(uint32_t key, uint32_t tag) const {
    return index.find(tag, [&](uint32_t i) { return records[i].key == key; });
  }
  void add(uint32_t key, uint32_t tag) {
    records.push_back({key, tag});
    index.insert(tag, static_cast<uint32_t>(records.size() - 1));
  }
  void remove(uint32_t i) {
    index.erase(records[i].tag, i);
    const auto last = static_cast<uint32_t>(records.size() - 1);
    if (i != last) {
      records[i] = records[last];
      index.renumber(records[i].tag, last, i);
    }
    records.pop_back();
  }
};

TEST_CASE("a flat index finds nothing when empty, and a record by its tag and key") {
  Owner o;
  CHECK(o.find(1, 7) == FlatIndex::kNone);
  o.add(1, 7);
  o.add(2, 7);  // the same tag: the key tells them apart
  o.add(3, 8);
  CHECK(o.index.size() == 3);
  CHECK(o.find(1, 7) == 0);
  CHECK(o.find(2, 7) == 1);
  CHECK(o.find(3, 8) == 2);
  CHECK(o.find(3, 7) == FlatIndex::kNone);  // a key under another tag is not found
  CHECK(o.find(4, 8) == FlatIndex::kNone);
  o.index.clear();
  CHECK(o.index.size() == 0);
  CHECK(o.find(1, 7) == FlatIndex::kNone);
}

TEST_CASE("a flat index stays exact through random inserts, erases and clears") {
  // Tags from a small range: many share a home, so erases shift long runs, some across the end
  // of the array (a tag's home is its low bits).
  for (const uint32_t tag_range : {4u, 64u, 1u << 20}) {
    CAPTURE(tag_range);
    std::mt19937 rng(tag_range);
    Owner o;
    std::map<uint32_t, uint32_t> model;  // key -> tag
    uint32_t next_key = 0;
    for (int step = 0; step < 40000; ++step) {
      const uint32_t op = rng() % 100;
      if (op < 55 || model.empty()) {
        const uint32_t tag = (rng() % tag_range) * 0x10001u + 0xFFFFFFF0u;  // homes near the end
        o.add(next_key, tag);
        model[next_key] = tag;
        ++next_key;
      } else if (op < 99) {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        const uint32_t i = o.find(it->first, it->second);
        REQUIRE(i != FlatIndex::kNone);
        REQUIRE(o.records[i].key == it->first);
        o.remove(i);
        CHECK(o.find(it->first, it->second) == FlatIndex::kNone);
        model.erase(it);
      } else {
        o.records.clear();
        o.index.clear();
        model.clear();
      }
      REQUIRE(o.index.size() == model.size());
      REQUIRE(o.records.size() == model.size());
    }
    // Every record the model holds is found where it is, and no other.
    for (const auto& [key, tag] : model) {
      const uint32_t i = o.find(key, tag);
      REQUIRE(i != FlatIndex::kNone);
      CHECK(o.records[i].key == key);
    }
    CHECK(o.find(next_key, 0) == FlatIndex::kNone);
  }
}

TEST_CASE("a flat index erases a record it does not hold as nothing") {
  Owner o;
  o.add(1, 5);
  o.index.erase(5, 9);  // no record 9
  o.index.erase(6, 0);  // record 0 is under tag 5, not 6
  CHECK(o.index.size() == 1);
  CHECK(o.find(1, 5) == 0);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle

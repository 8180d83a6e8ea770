// FlatIndex: finds records kept in the owner's own array (by their number there) from a 32-bit
// tag of their key, in one flat array of 8-byte entries: open addressing, linear probing, at most
// half full, and deletion by backward shift, so no tombstones build up however long the owner
// adds and removes. A lookup reads one entry's cache line and, for an entry whose tag matches,
// the record: where a node-based hash map reads a bucket, then a node per entry of its chain.
//
// The tag is the owner's keyed hash of the key (keyed_hash.h), so that no one sending traffic can
// choose keys that pile up in one run. Its low bits are an entry's home, so the index grows
// (doubling) by the tags alone, without reading a record. The owner compares keys: find() calls
// `same(number)` for each entry whose tag matches, until one says yes.
//
// Not thread-safe. Used by the learning recorder's flows (fw/learn/flow_recorder.h) and by
// accounting's tables of connections and groups (fw/nft/flow_counts.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace muzzle {

class FlatIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // What a record costs in the index, for the owners' memory estimates: two 8-byte entries, since
  // the index is at most half full (just after it doubles, four).
  static constexpr size_t kBytesPerRecord = 2 * 8;

  // The number of the record tagged `tag` for which `same(number)` is true; kNone when none is.
  template <class Same>
  uint32_t find(uint32_t tag, Same&& same) const {
    if (entries_.empty()) return kNone;
    const size_t mask = entries_.size() - 1;
    // At most half full: an empty entry ends every probe.
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
      const Entry e = entries_[i];
      if (e.number == kNone) return kNone;
      if (e.tag == tag && same(e.number)) return e.number;
    }
  }
  // Record `number`, tagged `tag` (the caller has checked it is not there yet). The index
  // doubles first if it would be more than half full.
  void insert(uint32_t tag, uint32_t number) {
    if (2 * (size_ + 1) > entries_.size()) grow();
    place(entries_, Entry{number, tag});
    ++size_;
  }
  // Forgets record `number`, tagged `tag`; nothing when it is not there.
  void erase(uint32_t tag, uint32_t number) {
    const size_t at = slotOf(tag, number);
    if (at == kNoSlot) return;
    closeUp(at);
    --size_;
  }
  // Record `from`, tagged `tag`, is now record `to` (the owner moved it in its array, as when it
  // fills a hole with its last record).
  void renumber(uint32_t tag, uint32_t from, uint32_t to) {
    const size_t at = slotOf(tag, from);
    if (at != kNoSlot) entries_[at].number = to;
  }
  // Forgets every record; keeps the room, which the same owner is about to fill again.
  void clear() {
    if (size_ != 0) entries_.assign(entries_.size(), Entry{});
    size_ = 0;
  }
  size_t size() const { return size_; }

 private:
  struct Entry {
    uint32_t number = kNone;
    uint32_t tag = 0;
  };
  static constexpr size_t kNoSlot = SIZE_MAX;

  size_t slotOf(uint32_t tag, uint32_t number) const {
    if (entries_.empty()) return kNoSlot;
    const size_t mask = entries_.size() - 1;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
      if (entries_[i].number == kNone) return kNoSlot;
      if (entries_[i].number == number && entries_[i].tag == tag) return i;
    }
  }
  static void place(std::vector<Entry>& entries, Entry e) {
    const size_t mask = entries.size() - 1;
    size_t i = e.tag & mask;
    while (entries[i].number != kNone) i = (i + 1) & mask;
    entries[i] = e;
  }
  void grow() {
    std::vector<Entry> bigger(entries_.empty() ? 8 : 2 * entries_.size());
    for (const Entry& e : entries_) {
      if (e.number != kNone) place(bigger, e);
    }
    entries_.swap(bigger);
  }
  // Backward shift: an entry further along the run moves into the hole when the hole lies
  // between its home and where it is, so every entry stays reachable from its home.
  void closeUp(size_t hole) {
    const size_t mask = entries_.size() - 1;
    for (size_t j = (hole + 1) & mask; entries_[j].number != kNone; j = (j + 1) & mask) {
      const size_t home = entries_[j].tag & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        entries_[hole] = entries_[j];
        hole = j;
      }
    }
    entries_[hole] = Entry{};
  }

  std::vector<Entry> entries_;  // a power of two entries, or none
  size_t size_ = 0;
};

}  // namespace muzzle

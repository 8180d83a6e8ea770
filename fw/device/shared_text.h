// SharedText: an immutable piece of text, 8 bytes wherever it is held, that every holder of the
// same text shares — the strings of a device record (fw/device/device_record.h). Thousands of
// records name the same vendor, segment, profile and assignment, and most have no DHCP facts at
// all: as std::string each field took 32 bytes in every record, and a vendor name 64 more on
// the heap.
//
// Representation, in one 64-bit word: 0 is the empty text; a text of at most kInline bytes
// (most profile, segment and assignment names) lives in the word itself; a longer one is a
// pointer to its one copy in a process-wide pool, kept while some SharedText holds it.
//
// Contract:
// - Value semantics, like a const std::string: copy, compare, read as a std::string_view. As
//   with std::string's short strings, the view is valid while this object holds the text and
//   is not moved or destroyed.
// - Thread-safe as std::shared_ptr is: distinct SharedText objects, copies of each other
//   included, may be used and destroyed on different threads at once (the Judge's records are
//   copied out under its lock and dropped on the management threads); one object is not
//   written on two threads at once. Making one of a long text takes the pool's mutex and a
//   hash lookup; copying one is an atomic increment; reading takes no lock; short texts never
//   touch the pool.
// - Equal texts are equal words (unused inline bytes are zero; the pool stores each text once),
//   so comparing two SharedTexts is one integer compare.
// - Bounded by what holds it: the pool frees a text with its last holder. What a device sends
//   (a DHCP hostname) is bounded by the caller (fw/dhcp/dhcp.h) before it becomes one.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace muzzle {

class SharedText {
 public:
  static constexpr size_t kInline = sizeof(uint64_t) - 1;

  SharedText() = default;
  // Implicit, so a record's field reads and is assigned like the std::string it was.
  SharedText(std::string_view text) : word_(make(text)) {}                     // NOLINT
  SharedText(const std::string& text) : SharedText(std::string_view(text)) {}  // NOLINT
  SharedText(const char* text) : SharedText(std::string_view(text)) {}         // NOLINT
  SharedText(const SharedText& other) : word_(other.word_) { retain(word_); }
  SharedText(SharedText&& other) noexcept : word_(other.word_) { other.word_ = 0; }
  SharedText& operator=(const SharedText& other) {
    retain(other.word_);
    release(word_);
    word_ = other.word_;
    return *this;
  }
  SharedText& operator=(SharedText&& other) noexcept {
    if (this != &other) {
      release(word_);
      word_ = other.word_;
      other.word_ = 0;
    }
    return *this;
  }
  ~SharedText() { release(word_); }

  std::string_view view() const {
    if (word_ == 0) return std::string_view();
    if (isInline(word_)) {
      return std::string_view(reinterpret_cast<const char*>(&word_) + kInlineOffset,
                              (word_ & 0xff) >> 1);
    }
    const Node* node = nodeOf(word_);
    return std::string_view(node->text, node->size);
  }
  operator std::string_view() const { return view(); }  // NOLINT: reads as the string it was
  std::string str() const { return std::string(view()); }
  bool empty() const { return word_ == 0; }
  size_t size() const { return view().size(); }

  friend bool operator==(const SharedText& a, const SharedText& b) { return a.word_ == b.word_; }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const SharedText& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const SharedText& a, const char* b) { return a.view() == b; }

  // Whether this text is held in the pool (longer than kInline), for tests.
  bool pooled() const { return word_ != 0 && !isInline(word_); }
  // How many distinct texts the pool holds, and their bytes (nodes and table), for tests and
  // the memory budget.
  static size_t pooledTexts();
  static size_t pooledBytes();

 private:
  struct Node {
    std::atomic<uint32_t> refs;
    uint32_t size;
    char text[1];  // `size` bytes, allocated with the node
  };
  friend class TextPool;

  // The word's low byte (its value's, whatever the byte order) is the tag: bit 0 set for an
  // inline text, its length in bits 1-3; the text fills the other seven bytes in memory order.
  // A pool node's address has bit 0 clear (malloc aligns it).
  static constexpr size_t kInlineOffset = std::endian::native == std::endian::little ? 1 : 0;
  static bool isInline(uint64_t word) { return (word & 1) != 0; }
  static Node* nodeOf(uint64_t word) {
    return reinterpret_cast<Node*>(static_cast<uintptr_t>(word));
  }
  static uint64_t make(std::string_view text) {
    if (text.empty()) return 0;
    if (text.size() > kInline)
      return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(intern(text)));
    uint64_t word = 0;
    std::memcpy(reinterpret_cast<char*>(&word) + kInlineOffset, text.data(), text.size());
    return word | (text.size() << 1) | 1;
  }

  static Node* intern(std::string_view text);
  static void retain(uint64_t word) {
    if (word != 0 && !isInline(word)) nodeOf(word)->refs.fetch_add(1, std::memory_order_relaxed);
  }
  // Drops one reference. The last one is dropped under the pool's mutex (releaseLast), so a
  // text the pool hands out again is never one being freed.
  static void release(uint64_t word) {
    if (word == 0 || isInline(word)) return;
    Node* node = nodeOf(word);
    uint32_t refs = node->refs.load(std::memory_order_relaxed);
    while (refs > 1) {
      if (node->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel)) return;
    }
    releaseLast(node);
  }
  static void releaseLast(Node* node);

  uint64_t word_ = 0;
};

}  // namespace muzzle

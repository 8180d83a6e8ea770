#include "fw/device/shared_text.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace muzzle {

// The texts, each once, in an open-addressing table (linear probing) of node pointers: ~12
// bytes a text where a node-based hash set took ~40, which counts when every device has a name
// or a DHCP host name of its own. Every change to the table, and the last release of a text,
// happen under mu_; a holder's own reference keeps its text alive without it.
class TextPool {
 public:
  using Node = SharedText::Node;

  static TextPool& instance() {
    // Never destroyed: a SharedText in a static object may be released after main returns.
    static TextPool* pool = new TextPool;
    return *pool;
  }

  Node* intern(std::string_view text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (slots_.empty()) slots_.assign(kMinSlots, nullptr);
    size_t i = homeOf(text);
    for (; slots_[i] != nullptr; i = next(i)) {
      if (view(slots_[i]) == text) {
        slots_[i]->refs.fetch_add(1, std::memory_order_relaxed);
        return slots_[i];
      }
    }
    void* memory = std::malloc(offsetof(Node, text) + text.size());
    if (memory == nullptr) throw std::bad_alloc();  // as std::string would
    Node* node = new (memory) Node;
    node->refs.store(1, std::memory_order_relaxed);
    node->size = static_cast<uint32_t>(text.size());
    std::memcpy(node->text, text.data(), text.size());
    slots_[i] = node;
    ++count_;
    bytes_ += offsetof(Node, text) + text.size();
    if (count_ * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    return node;
  }

  void releaseLast(Node* node) {
    std::lock_guard<std::mutex> lock(mu_);
    // Another thread may have interned the same text since this holder saw it at 1.
    if (node->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    erase(node);
    bytes_ -= offsetof(Node, text) + node->size;
    node->~Node();
    std::free(node);
    if (slots_.size() > kMinSlots && count_ * 8 < slots_.size()) rehash(slots_.size() / 2);
  }

  size_t texts() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  size_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_ + slots_.capacity() * sizeof(Node*);
  }

 private:
  static constexpr size_t kMinSlots = 64;  // a power of two, as every size of the table

  static std::string_view view(const Node* node) {
    return std::string_view(node->text, node->size);
  }
  size_t homeOf(std::string_view text) const {
    return std::hash<std::string_view>()(text) & (slots_.size() - 1);
  }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  // Takes `node` out of the table. The entries after it in its run move back over the hole
  // unless that would put them before their home slot, so every entry stays reachable from its
  // home without tombstones.
  void erase(const Node* node) {
    size_t hole = homeOf(view(node));
    while (slots_[hole] != node) hole = next(hole);
    for (size_t j = next(hole); slots_[j] != nullptr; j = next(j)) {
      const size_t home = homeOf(view(slots_[j]));
      // Whether `home` lies cyclically in (hole, j]: then the entry must stay where it is.
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole] = nullptr;
    --count_;
  }

  void rehash(size_t size) {
    std::vector<Node*> old(size, nullptr);
    old.swap(slots_);
    for (Node* node : old) {
      if (node == nullptr) continue;
      size_t i = homeOf(view(node));
      while (slots_[i] != nullptr) i = next(i);
      slots_[i] = node;
    }
  }

  std::mutex mu_;
  std::vector<Node*> slots_;  // null: free
  size_t count_ = 0;
  size_t bytes_ = 0;  // the nodes'
};

SharedText::Node* SharedText::intern(std::string_view text) {
  return TextPool::instance().intern(text);
}

void SharedText::releaseLast(Node* node) { TextPool::instance().releaseLast(node); }

size_t SharedText::pooledTexts() { return TextPool::instance().texts(); }
size_t SharedText::pooledBytes() { return TextPool::instance().bytes(); }

}  // namespace muzzle

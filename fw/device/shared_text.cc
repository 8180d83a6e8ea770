#include "fw/device/shared_text.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_set>

namespace muzzle {

// The texts, each once, found by their content. Every change to the set, and the last release
// of a text, happen under mu_; a holder's own reference keeps its text alive without it.
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
    if (auto it = nodes_.find(text); it != nodes_.end()) {
      (*it)->refs.fetch_add(1, std::memory_order_relaxed);
      return *it;
    }
    void* memory = std::malloc(offsetof(Node, text) + text.size());
    if (memory == nullptr) throw std::bad_alloc();  // as std::string would
    Node* node = new (memory) Node;
    node->refs.store(1, std::memory_order_relaxed);
    node->size = static_cast<uint32_t>(text.size());
    std::memcpy(node->text, text.data(), text.size());
    nodes_.insert(node);
    bytes_ += offsetof(Node, text) + text.size();
    return node;
  }

  void releaseLast(Node* node) {
    std::lock_guard<std::mutex> lock(mu_);
    // Another thread may have interned the same text since this holder saw it at 1.
    if (node->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    nodes_.erase(node);
    bytes_ -= offsetof(Node, text) + node->size;
    node->~Node();
    std::free(node);
  }

  size_t texts() {
    std::lock_guard<std::mutex> lock(mu_);
    return nodes_.size();
  }
  size_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    // A node of the set: its next pointer, the element and the cached hash; and its bucket.
    return bytes_ + nodes_.size() * 3 * sizeof(void*) + nodes_.bucket_count() * sizeof(void*);
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
    size_t operator()(const Node* node) const { return (*this)(view(node)); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(const Node* a, const Node* b) const { return a == b; }
    bool operator()(const Node* a, std::string_view b) const { return view(a) == b; }
    bool operator()(std::string_view a, const Node* b) const { return a == view(b); }
  };
  static std::string_view view(const Node* node) {
    return std::string_view(node->text, node->size);
  }

  std::mutex mu_;
  std::unordered_set<Node*, Hash, Equal> nodes_;
  size_t bytes_ = 0;
};

SharedText::Node* SharedText::intern(std::string_view text) {
  return TextPool::instance().intern(text);
}

void SharedText::releaseLast(Node* node) { TextPool::instance().releaseLast(node); }

size_t SharedText::pooledTexts() { return TextPool::instance().texts(); }
size_t SharedText::pooledBytes() { return TextPool::instance().bytes(); }

}  // namespace muzzle

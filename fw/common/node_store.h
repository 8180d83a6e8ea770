// NodeStore<T>: room for up to `capacity` records of T, allocated once at construction, each
// record built (value-initialised) only when it is first taken.
//
// For the bounded tables of the packet path that link fixed records into intrusive lists (the
// DNS question table): the memory is reserved up front, so nothing is allocated per packet, yet
// the pages of records never used are never touched, so a box whose devices ask little does not
// keep the whole bound resident. Records are never given back: the owner keeps its own free list
// of the records it has taken. Not thread-safe; owned by one table.
#pragma once

#include <cstddef>
#include <new>

namespace muzzle {

template <class T>
class NodeStore {
 public:
  explicit NodeStore(size_t capacity)
      : capacity_(capacity),
        records_(static_cast<T*>(::operator new(sizeof(T) * capacity, std::align_val_t{alignof(T)}))) {}
  ~NodeStore() {
    for (size_t i = taken_; i > 0; --i) records_[i - 1].~T();
    ::operator delete(records_, std::align_val_t{alignof(T)});
  }
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  // A record never taken before, or null once all `capacity` have been.
  T* take() { return taken_ < capacity_ ? new (records_ + taken_++) T() : nullptr; }

  size_t taken() const { return taken_; }
  size_t capacity() const { return capacity_; }
  // Record `i` of those taken (i < taken()).
  T& operator[](size_t i) { return records_[i]; }

 private:
  size_t capacity_;
  T* records_;
  size_t taken_ = 0;
};

}  // namespace muzzle

#include "fw/common/node_store.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

struct Record {
  static inline int alive = 0;
  Record() { ++alive; }
  ~Record() { --alive; }
  int value = 0;           // value-initialised when taken
  std::string text;        // a member with a destructor of its own
};

TEST_CASE("a node store builds records one at a time, up to its capacity, and destroys them") {
  Record::alive = 0;
  {
    NodeStore<Record> store(3);
    CHECK(store.capacity() == 3);
    CHECK(store.taken() == 0);
    CHECK(Record::alive == 0);  // nothing is built before it is taken
    Record* a = store.take();
    Record* b = store.take();
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a != b);
    CHECK(a->value == 0);
    a->text.assign(100, 'x');  // on the heap: a missed destructor leaks, which ASan reports
    CHECK(&store[1] == b);
    CHECK(store.take() != nullptr);
    CHECK(store.take() == nullptr);  // the bound holds
    CHECK(store.taken() == 3);
    CHECK(Record::alive == 3);
  }
  CHECK(Record::alive == 0);
}

TEST_CASE("records are aligned for their type") {
  struct alignas(64) Wide {
    char bytes[10];
  };
  NodeStore<Wide> store(4);
  for (int i = 0; i < 4; ++i) {
    Wide* w = store.take();
    REQUIRE(w != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(w) % 64 == 0);
  }
}

}  // namespace
}  // namespace muzzle

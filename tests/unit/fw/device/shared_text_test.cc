// SharedText (fw/device/shared_text.h): reads and compares as the text it was made of, short
// texts live in the word itself, a long text is stored once for all its holders and freed with
// the last of them, and holders on several threads share it safely.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "fw/device/shared_text.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const std::string kVendor = "Hangzhou Hikvision Digital Technology Co.,Ltd.";

TEST_CASE("a shared text reads, compares and copies as the text it was made of") {
  for (const std::string& text :
       std::vector<std::string>{"", "c", "cameras", "listed!", "classified", kVendor}) {
    CAPTURE(text);
    SharedText t = text;
    CHECK(t.view() == text);
    CHECK(t.size() == text.size());
    CHECK(t.empty() == text.empty());
    CHECK(t == text);
    CHECK(t == SharedText(text));
    CHECK(t != SharedText(text + "x"));
    CHECK(t != text + "x");
    SharedText copy = t;
    CHECK(copy == t);
    SharedText moved = std::move(copy);
    CHECK(moved.view() == text);
    CHECK(copy.empty());  // NOLINT: a moved-from text is empty, as the record's fields rely on
    copy = moved;
    CHECK(copy.str() == text);
  }
  // Unused inline bytes are zero: texts that share a prefix are not equal.
  CHECK(SharedText("type-1") != SharedText("type-12"));
  CHECK(SharedText(std::string("a\0b", 3)).view() == std::string("a\0b", 3));
}

TEST_CASE("short texts live in place; a long text is stored once and freed with its last holder") {
  CHECK_FALSE(SharedText("default").pooled());  // kInline bytes: in place
  CHECK(SharedText("defaults").pooled());
  const size_t before = SharedText::pooledTexts();
  {
    std::vector<SharedText> records;
    for (int i = 0; i < 1000; ++i) records.emplace_back(std::string(kVendor));  // a copy each
    CHECK(SharedText::pooledTexts() == before + 1);
    CHECK(records.front().view().data() == records.back().view().data());
    SharedText other = std::string("Espressif Inc.");
    CHECK(SharedText::pooledTexts() == before + 2);
    records.resize(1);
    CHECK(SharedText::pooledTexts() == before + 2);
  }
  CHECK(SharedText::pooledTexts() == before);
}

TEST_CASE("texts stay found as others come and go, through the pool's growing and shrinking") {
  const size_t before = SharedText::pooledTexts();
  std::vector<SharedText> held;
  for (int i = 0; i < 5000; ++i) held.emplace_back("ipc-host-" + std::to_string(i));
  CHECK(SharedText::pooledTexts() == before + 5000);
  for (size_t i = 0; i < held.size(); i += 2) held[i] = SharedText();  // a hole every other slot
  CHECK(SharedText::pooledTexts() == before + 2500);
  for (size_t i = 1; i < held.size(); i += 2) {
    // Found again, not stored twice: an entry behind a removed one is still reachable.
    const SharedText again = "ipc-host-" + std::to_string(i);
    CHECK(again == held[i]);
    CHECK(again.view().data() == held[i].view().data());
  }
  CHECK(SharedText::pooledTexts() == before + 2500);
  held.clear();
  CHECK(SharedText::pooledTexts() == before);
  CHECK(SharedText("ipc-host-1").view() == "ipc-host-1");
}

TEST_CASE("holders on several threads copy and drop one text while others make it again") {
  const size_t before = SharedText::pooledTexts();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 20000; ++i) {
        SharedText a = kVendor;  // interned while another thread may be dropping the last one
        SharedText b = a;
        CHECK(b == kVendor);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(SharedText::pooledTexts() == before);
}

}  // namespace
}  // namespace muzzle

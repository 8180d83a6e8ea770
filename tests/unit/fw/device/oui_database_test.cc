#include "fw/device/oui_database.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

MacAddress mac(const char* text) { return *MacAddress::parse(text); }

TEST_CASE("longest prefix wins across MA-L, MA-M and MA-S") {
  OuiDatabase db;
  db.addCsv(
      "Registry,Assignment,Organization Name,Organization Address\n"
      "MA-L,4447CC,\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",No.555 Qianmo Road\n"
      "MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane\n");
  db.addCsv(
      "Registry,Assignment,Organization Name,Organization Address\n"
      "MA-M,70B3D51,Medium Block Inc,Somewhere\n");
  db.addCsv(
      "Registry,Assignment,Organization Name,Organization Address\n"
      "MA-S,70B3D5F2F,TELEPLATFORMS,\"Polbina st., 3/1 Moscow\"\n");
  CHECK(db.size() == 4);
  CHECK(db.vendorOf(mac("44:47:cc:12:34:56")) == "Hangzhou Hikvision Digital Technology Co.,Ltd.");
  CHECK(db.vendorOf(mac("70:b3:d5:f2:f0:01")) == "TELEPLATFORMS");
  CHECK(db.vendorOf(mac("70:b3:d5:1a:00:01")) == "Medium Block Inc");
  CHECK(db.vendorOf(mac("70:b3:d5:99:00:01")) == "IEEE Registration Authority");
  CHECK_FALSE(db.vendorOf(mac("00:11:22:33:44:55")).has_value());
}

TEST_CASE("a block listed again replaces the earlier one; names are stored once") {
  OuiDatabase db;
  db.addCsv("MA-L,4447CC,Old Name,x\nMA-L,4447CD,Shared Vendor,x\n");
  db.addCsv("MA-L,4447CC,New Name,x\nMA-L,4447CE,Shared Vendor,x\nMA-L,4447CC,Newest Name,x\n");
  CHECK(db.size() == 3);
  CHECK(db.vendorOf(mac("44:47:cc:00:00:01")) == "Newest Name");
  CHECK(db.vendorOf(mac("44:47:cd:00:00:01")) == "Shared Vendor");
  CHECK(db.vendorOf(mac("44:47:ce:00:00:01")) == "Shared Vendor");
  // Neighbours of listed blocks are not found by the binary search.
  CHECK_FALSE(db.vendorOf(mac("44:47:cb:00:00:01")).has_value());
  CHECK_FALSE(db.vendorOf(mac("44:47:cf:00:00:01")).has_value());
}

TEST_CASE("randomised (locally administered) addresses get no vendor") {
  OuiDatabase db;
  db.addCsv("MA-L,025A00,Should Never Match,x\n");
  CHECK_FALSE(db.vendorOf(mac("02:5a:00:00:00:99")).has_value());
}

TEST_CASE("malformed lines are skipped and counted, the rest still loads") {
  OuiDatabase db;
  db.addCsv(
      "Registry,Assignment,Organization Name,Organization Address\n"
      "MA-L,ZZZZZZ,Bad Hex,x\n"
      "MA-L,4447CC\n"
      "MA-L,12345,Wrong Length,x\n"
      "MA-L,,Empty,x\n"
      "\n"
      "MA-L,50EC50,\"Beijing Xiaomi Mobile Software Co., Ltd\",\"Beijing\"\r\n");
  CHECK(db.skippedLines() == 4);
  CHECK(db.vendorOf(mac("50:ec:50:00:00:21")) == "Beijing Xiaomi Mobile Software Co., Ltd");
}

TEST_CASE("Debian's ieee-data loads and knows a Hikvision camera") {
  auto db = OuiDatabase::load();
  REQUIRE(db.ok());
  if (db->loadedFiles().empty()) {
    MESSAGE("ieee-data is not installed; skipping the real-data check");
    return;
  }
  CHECK(db->size() > 30000);
  CHECK(db->vendorOf(mac("44:47:cc:00:00:11")) == "Hangzhou Hikvision Digital Technology Co.,Ltd.");
  // The resident cost of the whole registry on a small gateway: ~1.2 MB (hash maps of strings
  // took ~6.8 MB).
  CHECK(db->memoryBytes() < 2 * 1024 * 1024);
}

TEST_CASE("a missing directory loads an empty database, not an error") {
  auto db = OuiDatabase::load("/nonexistent/ieee-data");
  REQUIRE(db.ok());
  CHECK(db->size() == 0);
  CHECK(db->loadedFiles().empty());
}

}  // namespace
}  // namespace muzzle

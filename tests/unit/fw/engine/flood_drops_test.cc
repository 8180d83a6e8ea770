// FloodDrops (fw/engine/flood_drops.h): the growth of each device's count between two reads of
// the kernel's @flood-dropped, a device new to a read or forgotten and made again by the kernel
// counted whole, the most dropping device first, and the sum over every read.
#include "fw/engine/flood_drops.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const MacAddress kCam = *MacAddress::parse("44:47:cc:00:00:11");
const MacAddress kSpeaker = *MacAddress::parse("44:47:cc:00:00:12");
const MacAddress kVacuum = *MacAddress::parse("02:00:00:00:00:07");

TEST_CASE("flood drops: growth since the last read, the most first, summed") {
  FloodDrops drops;
  CHECK(drops.update({}).empty());
  CHECK(drops.dropped() == 0);

  // First read: every count is new, whole.
  auto grown = drops.update({{kSpeaker, 40}, {kCam, 900}});
  REQUIRE(grown.size() == 2);
  CHECK(grown[0].device == kCam);
  CHECK(grown[0].dropped == 900);
  CHECK(grown[0].count == 900);
  CHECK(grown[1].device == kSpeaker);
  CHECK(grown[1].dropped == 40);
  CHECK(drops.dropped() == 940);
  CHECK(drops.devices() == 2);

  // The camera goes on, the speaker stopped (its count unchanged: no line), a vacuum starts.
  grown = drops.update({{kCam, 1500}, {kVacuum, 3}, {kSpeaker, 40}});
  REQUIRE(grown.size() == 2);
  CHECK(grown[0].device == kCam);
  CHECK(grown[0].dropped == 600);
  CHECK(grown[0].count == 1500);
  CHECK(grown[1].device == kVacuum);
  CHECK(grown[1].dropped == 3);
  CHECK(drops.dropped() == 1543);
  CHECK(drops.devices() == 3);

  // The kernel forgot the speaker (two quiet minutes) and the camera's element was made again
  // (its count went down): the camera's new count is all new.
  grown = drops.update({{kCam, 7}, {kVacuum, 3}});
  REQUIRE(grown.size() == 1);
  CHECK(grown[0].device == kCam);
  CHECK(grown[0].dropped == 7);
  CHECK(drops.dropped() == 1550);
  CHECK(drops.devices() == 2);

  // Forgotten, then back: whole again.
  grown = drops.update({{kSpeaker, 5}});
  REQUIRE(grown.size() == 1);
  CHECK(grown[0].dropped == 5);
  CHECK(drops.dropped() == 1555);
}

TEST_CASE("flood drops: a device listed twice in one read counts once, with its larger count") {
  FloodDrops drops;
  auto grown = drops.update({{kCam, 10}, {kCam, 30}, {kCam, 20}});
  REQUIRE(grown.size() == 1);
  CHECK(grown[0].dropped == 30);
  CHECK(drops.devices() == 1);
  grown = drops.update({{kCam, 35}});
  REQUIRE(grown.size() == 1);
  CHECK(grown[0].dropped == 5);
  CHECK(drops.dropped() == 35);
}

TEST_CASE("segment drops: growth per interface, and each one's total that never goes down") {
  SegmentDrops drops;
  CHECK(drops.update({}).empty());
  auto grown = drops.update({{"uplink0", 5}, {"br-cam", 900}, {"br-cam", 400}});
  REQUIRE(grown.size() == 2);
  CHECK(grown[0].interface == "br-cam");  // the most first, listed twice: its larger count
  CHECK(grown[0].dropped == 900);
  CHECK(grown[1].interface == "uplink0");
  CHECK(drops.dropped() == 905);
  CHECK(drops.interfaces() == 2);
  // The kernel forgot the camera segment's element and made it again (its count went down): the
  // new count is all new, and its total goes on growing where the kernel's began again.
  grown = drops.update({{"br-cam", 30}, {"uplink0", 5}});
  REQUIRE(grown.size() == 1);
  CHECK(grown[0].interface == "br-cam");
  CHECK(grown[0].dropped == 30);
  CHECK(grown[0].count == 30);
  // Forgotten altogether: no longer past it, its total kept.
  CHECK(drops.update({}).empty());
  CHECK(drops.interfaces() == 0);
  CHECK(drops.dropped() == 935);
  REQUIRE(drops.totals().size() == 2);
  CHECK(drops.totals()[0].interface == "br-cam");
  CHECK(drops.totals()[0].dropped == 930);
  CHECK(drops.totals()[1].interface == "uplink0");
  CHECK(drops.totals()[1].dropped == 5);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle

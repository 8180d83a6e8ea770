// Drift: the diff of a box's running text against its desired one, and its line counts.
#include "mgmt/fleet/drift.h"

#include <doctest/doctest.h>

#include <string>

#include "mgmt/revisions/text_diff.h"

namespace muzzle::fleet {
namespace MUZZLE_UNITY_ID {

TEST_CASE("equal texts do not drift") {
  const Drift d = driftOf("gw1", 3, "version: 1\n", "version: 1\n");
  CHECK(d.same);
  CHECK(d.diff.empty());
  CHECK(d.added == 0);
  CHECK(d.removed == 0);
  CHECK(d.counted);
}

TEST_CASE("the diff is labelled with the box and revision, its lines counted") {
  const Drift d = driftOf("gw1", 7, "a\nb\nc\n", "a\nB\nc\nd\n");
  CHECK_FALSE(d.same);
  CHECK(d.diff.starts_with("--- gw1 running r7\n+++ gw1 desired\n@@ "));
  CHECK(d.added == 2);
  CHECK(d.removed == 1);
  CHECK(d.counted);
}

TEST_CASE("policy lines that look like diff headers are counted as the changes they are") {
  // "-- x" removed shows as "--- x", "++ y" added as "+++ y": body lines, not headers.
  const Drift d = driftOf("gw1", 1, "keep\n-- x\n", "keep\n++ y\n");
  CHECK(d.added == 1);
  CHECK(d.removed == 1);
}

TEST_CASE("texts too large to diff drift without counts") {
  std::string big;
  while ((big.size() / 2 + 1) * (big.size() / 2 + 1) <= kMaxDiffCells) big += "x\n";
  const Drift d = driftOf("gw1", 1, big, big + "y\n");
  CHECK_FALSE(d.same);
  CHECK_FALSE(d.counted);
  CHECK(d.added == 0);
  CHECK(d.removed == 0);
  CHECK(d.diff.find("too large to diff") != std::string::npos);
}

}  // namespace
}  // namespace muzzle::fleet

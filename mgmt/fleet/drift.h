// Drift: how the policy a box runs differs from the one the fleet directory wants it to run
// (`muzzlectl fleet plan`). Plain values, no network: the caller fetched the running text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace muzzle::fleet {

struct Drift {
  bool same = true;  // the texts are byte for byte equal
  // The unified diff running -> desired, labelled "BOX running rN" and "BOX desired"; "" when
  // same. Texts over mgmt/revisions/text_diff.h's kMaxDiffCells get its one-line summary.
  std::string diff;
  uint32_t added = 0;    // '+' lines of the diff
  uint32_t removed = 0;  // '-' lines of the diff
  bool counted = true;   // false when the texts were too large to diff (added/removed are 0)
};

// The drift of `box`, which runs revision `running_revision` with text `running`, from
// `desired`. Quadratic in the line counts (bounded as above): call it once per box.
Drift driftOf(std::string_view box, uint64_t running_revision, std::string_view running,
              std::string_view desired);

}  // namespace muzzle::fleet

#include "mgmt/fleet/drift.h"

#include "fw/common/text_lines.h"
#include "mgmt/revisions/text_diff.h"

namespace muzzle::fleet {

Drift driftOf(std::string_view box, uint64_t running_revision, std::string_view running,
              std::string_view desired) {
  Drift d;
  if (running == desired) return d;
  d.same = false;
  const std::string name(box);
  d.diff = unifiedDiff(running, desired, name + " running r" + std::to_string(running_revision),
                       name + " desired");
  bool headers = true;
  for (std::string_view line : splitLines(d.diff)) {
    // The two header lines ("--- ", "+++ ") end at the first hunk; every line after them starts
    // with its kind, so a policy line "--- x" is a removal there, not a header.
    if (line.starts_with("@@")) {
      headers = false;
      if (line.starts_with("@@ too large")) d.counted = false;
      continue;
    }
    if (headers) continue;
    if (line.starts_with('+')) ++d.added;
    if (line.starts_with('-')) ++d.removed;
  }
  if (!d.counted) d.added = d.removed = 0;
  return d;
}

}  // namespace muzzle::fleet

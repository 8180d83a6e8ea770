// The flags of a command that previews a change and, with --apply, makes it a revision (mud
// import, learn propose): --apply, --confirm, --expect and --comment, with the same words and
// the same checks in each.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {

struct ApplyFlags {
  bool apply = false;
  std::string confirm;  // a duration (90s, 5m, 1h); empty: no commit-confirmed
  uint64_t expect = 0;  // 0: whatever revision the box is at
  std::string comment;
};

// Adds the four flags to `cmd`, storing into `*flags` (which must outlive parsing); `apply_help`
// says what --apply makes a revision of (empty: a command that always applies, such as `mud
// apply`, has no --apply; the caller sets `flags->apply`). Returns the --confirm option, for confirmSeconds().
CLI::Option* addApplyFlags(CLI::App* cmd, ApplyFlags* flags, const std::string& apply_help);

// The --confirm window in seconds, 0 when not given. Throws CLI::ValidationError (a usage error,
// exit 2) for --confirm without --apply or a duration that does not parse.
uint32_t confirmSeconds(const CLI::Option* confirm, const ApplyFlags& flags);

// The summary line of the box's answer to a preview or an apply of a profile (ImportMud,
// ProposeProfile): does not compile (`not_compiling`, exit 3), previewed, unchanged, or the
// revision it made and the confirm deadline.
template <typename Response>
void summarizeApply(const Response& r, const ApplyFlags& flags, const std::string& not_compiling,
                    Outcome* o) {
  const std::string base = "revision " + std::to_string(r.base_revision());
  if (!r.valid()) {
    o->summary = not_compiling + " into " + base;
    o->exit = kExitInvalid;
  } else if (!flags.apply) {
    o->summary = "preview: profile " + r.profile() + " into " + base +
                 ", not applied (--apply makes it a revision)";
  } else if (r.unchanged()) {
    o->summary = "unchanged (" + base + ")";
  } else {
    o->summary = "revision " + std::to_string(r.previous_revision()) + " -> " +
                 std::to_string(r.revision().number());
    if (r.has_pending()) o->summary += ", confirm by " + timeText(r.pending().deadline());
  }
}

}  // namespace muzzle::ctl

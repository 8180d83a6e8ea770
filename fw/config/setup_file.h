// state_dir/setup.yaml: the segments, uplink and policy `muzzlectl setup` chose for a box whose
// muzzled.yaml names no segment. muzzled runs as the user `muzzle` under ProtectSystem=strict,
// so /etc is read-only to it and the choice is kept in its own state folder instead; the config
// loader (daemon_config.h) takes it when, and only when, muzzled.yaml names no segment.
//
// The file is written by muzzled alone (writeFileAtomically: temp file, fsync, rename), but it
// lies in a folder an attacker with the muzzle user's rights could edit, so it is read back like
// the rest of state_dir: a regular file inside state_dir (a symbolic link out of it, a FIFO or a
// device is refused unread), at most kMaxSetupFileBytes, UTF-8, one YAML document with only the
// keys of SetupFile (proto/muzzle/v1/config.proto), and the same checks as muzzled.yaml's own
// segments and uplink (names, interface names, duplicates, an uplink that is a segment). Errors
// name the file, line and field. Any thread; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/daemon_config.h"

namespace muzzle {

inline constexpr char kSetupFileName[] = "setup.yaml";
// A policy given to `muzzlectl setup --policy FILE` is kept beside it under this name.
inline constexpr char kSetupPolicyFileName[] = "setup-policy.yaml";
// Far above any real choice (16 segments and a path are a few hundred bytes).
inline constexpr size_t kMaxSetupFileBytes = 64 * 1024;

struct SetupChoice {
  std::vector<DaemonSegment> segments;  // at least one
  std::vector<std::string> uplinks;
  std::string policy_path;  // absolute (a relative name in the file is taken from state_dir)
};

// Parses setup.yaml's text; `label` names it in errors, `state_dir` resolves a relative policy.
Result<SetupChoice> parseSetupFile(std::string_view text, std::string_view label,
                                   std::string_view state_dir);
// Reads `state_dir`/setup.yaml. nullopt when there is none; an error (naming the file) when it
// is there but refused for any reason above.
Result<std::optional<SetupChoice>> readSetupFile(const std::string& state_dir);
// The file's text for `choice`, with a header saying who wrote it and how to undo it.
std::string setupFileText(const SetupChoice& choice);
// Takes the choice into a config that names no segment; `from` is the setup file's path, kept
// in `config->segments_from`.
void applySetup(const SetupChoice& choice, const std::string& from, DaemonConfig* config);

}  // namespace muzzle

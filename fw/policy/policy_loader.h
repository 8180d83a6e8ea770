// Loading and compiling policy files. Every error names the file, line and field path, e.g.
//   policy.yaml:14: profiles.camera.egress[1].ports[0]: 70000 is not a port
// Several errors are reported at once, one per line (at most kMaxReportedErrors, then a count),
// so a user fixes a file in one pass; they come structured too (PolicyCompileResult). The
// compiler itself is policy_compiler.h, one file per part of a policy.
//
// A policy may arrive over the management API from any caller allowed to validate one, so
// compiling it never reads outside the folders below, never blocks, and is bounded in every cost
// its text drives (policy_limits.h, fw/config/yaml_document.h). What an error quotes is the
// caller's own text, escaped and cut short (fw/common/excerpt.h); a file the policy names is
// never quoted, only its line numbers.
//
// Pure: no globals, no state between calls but a ListCache the caller passes (list_cache.h),
// which makes a compile cheaper and never changes its result; any thread may compile while
// another does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/diagnostics.h"
#include "fw/policy/compiled_policy.h"
#include "fw/policy/list_cache.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// The folders a policy may name files in (address group `file`s, device list `file`s,
// `dns.doh_list`). A relative name is looked up in `policy_dir`, then in `shipped_dir`; an
// absolute name only when it lies in one of them. Either way it is opened beneath that folder
// (openat2 RESOLVE_BENEATH): ".." or a symbolic link out of it is refused, and so is anything
// but a regular file of at most kMaxNamedFileBytes (fw/common/confined_file.h).
struct PolicyFolders {
  PolicyFolders() = default;
  // Not an aggregate, so `{policy_dir, shipped_dir}` leaves out the presets without a warning.
  PolicyFolders(std::string policy, std::string shipped, std::vector<std::string> presets = {})
      : policy_dir(std::move(policy)),
        shipped_dir(std::move(shipped)),
        preset_dirs(std::move(presets)) {}

  // Empty: the folder of `file_label`, or the working directory when the label has none.
  std::string policy_dir;
  // Empty: none.
  std::string shipped_dir;
  // Presets (Profile.preset) are `NAME.yaml` in these folders, in order (muzzled.yaml
  // `preset_dirs`), then in `shipped_dir`/presets; read as the files above are, confined to the
  // folder they are found in. Never the policy's own folder: a preset is shipped or local.
  std::vector<std::string> preset_dirs;
};

// A compiled policy, or why there is none: the diagnostics (file, line, field path, message),
// kept structured for whoever shows them one by one (the management API's violations), and the
// same as one Status whose message is their text, one per line, for logs and the CLI. On
// failure diagnostics() is never empty; an error about no place in a file (the policy file
// cannot be read, the box's facts cannot be read) is one diagnostic with only a message.
// A value: copy it to any thread.
class PolicyCompileResult : public Result<std::shared_ptr<const CompiledPolicy>> {
 public:
  PolicyCompileResult(std::shared_ptr<const CompiledPolicy> policy)  // NOLINT: as Result's
      : Result(std::move(policy)) {}
  PolicyCompileResult(std::vector<Diagnostic> diagnostics)  // NOLINT: must not be empty
      : Result(statusOf(diagnostics)), diagnostics_(std::move(diagnostics)) {}
  PolicyCompileResult(Status status)  // NOLINT: as Result's
      : Result(status), diagnostics_{Diagnostic{"", 0, "", status.message()}} {}

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  // The same failure with another code (Status::withCode), diagnostics kept.
  PolicyCompileResult withCode(StatusCode code) const;

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Parses YAML (JSON is YAML too) into the Policy message and validates it against `site`.
// `file_label` is how the file is named in messages. Pass an empty SiteFacts to check a file
// without a box (as `muzzled --check-policy` does): builtins then resolve to no addresses.
// A policy stored as a revision is compiled with `folders.policy_dir` set to the configured
// policy file's folder, so it still finds the lists that sit next to that file.
// `lists`: address sets earlier compiles made of list files, reused for the same text and given
// the sets this compile makes (null: every list is parsed).
PolicyCompileResult compilePolicyText(std::string_view yaml_text, std::string_view file_label,
                                      const SiteFacts& site, const PolicyFolders& folders = {},
                                      ListCache* lists = nullptr);

// Reads `path` (a regular file of at most kMaxNamedFileBytes, read without blocking) and calls
// compilePolicyText with the file's folder, `shipped_dir` (DaemonConfig's, or
// kShippedPoliciesDir) and `preset_dirs` (DaemonConfig's). A missing or unreadable file is an error naming it.
PolicyCompileResult compilePolicyFile(const std::string& path, const SiteFacts& site,
                                      const std::string& shipped_dir,
                                      const std::vector<std::string>& preset_dirs = {},
                                      ListCache* lists = nullptr);

}  // namespace muzzle

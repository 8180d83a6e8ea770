// Loading and compiling policy files. Every error names the file, line and field path, e.g.
//   policy.yaml:14: profiles.camera.egress[1].ports[0]: 70000 is not a port
// Several errors are reported at once, one per line (at most kMaxReportedErrors, then a count),
// so a user fixes a file in one pass.
//
// A policy may arrive over the management API from any caller allowed to validate one, so
// compiling it never reads outside the folders below, never blocks, and is bounded in every cost
// its text drives (policy_limits.h, fw/config/yaml_document.h). What an error quotes is the
// caller's own text, escaped and cut short (fw/common/excerpt.h); a file the policy names is
// never quoted, only its line numbers.
//
// Pure: no globals, no state between calls; any thread may compile while another does.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "fw/common/status.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// The folders a policy may name files in (address group `file`s, `dns.doh_list`). A relative
// name is looked up in `policy_dir`, then in `shipped_dir`; an absolute name only when it lies
// in one of them. Either way it is opened beneath that folder (openat2 RESOLVE_BENEATH): ".."
// or a symbolic link out of it is refused, and so is anything but a regular file of at most
// kMaxNamedFileBytes (fw/common/confined_file.h).
struct PolicyFolders {
  // Empty: the folder of `file_label`, or the working directory when the label has none.
  std::string policy_dir;
  // Empty: none.
  std::string shipped_dir;
};

// Parses YAML (JSON is YAML too) into the Policy message and validates it against `site`.
// `file_label` is how the file is named in messages. Pass an empty SiteFacts to check a file
// without a box (as `muzzled --check-policy` does): builtins then resolve to no addresses.
// A policy stored as a revision is compiled with `folders.policy_dir` set to the configured
// policy file's folder, so it still finds the lists that sit next to that file.
Result<std::shared_ptr<const CompiledPolicy>> compilePolicyText(std::string_view yaml_text,
                                                                std::string_view file_label,
                                                                const SiteFacts& site,
                                                                const PolicyFolders& folders = {});

// Reads `path` (a regular file of at most kMaxNamedFileBytes, read without blocking) and calls
// compilePolicyText with the file's folder and `shipped_dir` (DaemonConfig's, or
// kShippedPoliciesDir). A missing or unreadable file is an error naming it.
Result<std::shared_ptr<const CompiledPolicy>> compilePolicyFile(const std::string& path,
                                                                const SiteFacts& site,
                                                                const std::string& shipped_dir);

}  // namespace muzzle

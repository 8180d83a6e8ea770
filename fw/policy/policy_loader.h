// Loading and compiling policy files. Every error names the file, line and field path, e.g.
//   policy.yaml:14: profiles.camera.egress[1].ports[0]: 70000 is not a port
// Several errors are reported at once, one per line, so a user fixes a file in one pass.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "fw/common/status.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// Parses YAML (JSON is YAML too) into the Policy message and validates it against `site`.
// `file_label` is how the file is named in messages. Pass an empty SiteFacts to check a file
// without a box (as `muzzled --check-policy` does): builtins then resolve to no addresses.
// Files the policy names by a relative path (dns.doh_list) are looked up in `base_dir`, or,
// when it is empty, next to `file_label` — a policy stored as a revision still finds the lists
// that sit next to the configured policy file.
Result<std::shared_ptr<const CompiledPolicy>> compilePolicyText(std::string_view yaml_text,
                                                                std::string_view file_label,
                                                                const SiteFacts& site,
                                                                std::string_view base_dir = {});

// Reads `path` and calls compilePolicyText. A missing or unreadable file is an error naming it.
Result<std::shared_ptr<const CompiledPolicy>> compilePolicyFile(const std::string& path,
                                                                const SiteFacts& site);

}  // namespace muzzle

// The example site policy (policies/site-example.yaml), which the policy-text tests edit, and a
// compile of any policy text against no box with the shipped presets, as its error ("" when it
// compiles).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "fw/common/confined_file.h"
#include "fw/policy/policy_loader.h"

namespace muzzle::testing {

inline const std::string kPoliciesDir = std::string(MUZZLE_SOURCE_DIR) + "/policies";

inline std::string siteExampleText() {
  auto text = readRegularFile(kPoliciesDir + "/site-example.yaml");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  return *text;
}

inline std::string policyCompileError(const std::string& text) {
  auto r = compilePolicyText(text, "policy.yaml", SiteFacts{},
                             PolicyFolders{kPoliciesDir, kPoliciesDir});
  return r.ok() ? "" : r.status().message();
}

}  // namespace muzzle::testing

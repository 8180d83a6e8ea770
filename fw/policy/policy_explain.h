// What a compiled policy's rules mean, as text: for `muzzlectl policy explain` (each rule of a
// device's profile with its origin, compiled_policy.h's RuleOrigin) and for checking that two
// policies compile to the same rules (a profile built on a preset by name and the same profile
// copied out of it). Pure functions over a CompiledPolicy; any thread.
#pragma once

#include <string>

#include "fw/policy/compiled_policy.h"

namespace muzzle {

// What the rule does, from its compiled form: action, protocol, ports, built-ins, addresses
// (its own, then each group's, as merged intervals), names, log. Two rules compiled from the
// same targets describe alike, whatever file or line they came from; the label, origin and
// source text are left out.
std::string describeRule(const CompiledRule& rule);

// The profile's `otherwise` and each rule's describeRule, egress then inbound, one a line.
std::string describeProfile(const CompiledProfile& profile);

}  // namespace muzzle

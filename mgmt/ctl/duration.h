// Durations on muzzlectl's command line ("--confirm 5m").
#pragma once

#include <cstdint>
#include <string>

#include "fw/common/status.h"

namespace muzzle::ctl {

// The most seconds a duration may have: what the API's uint32 fields carry.
inline constexpr uint64_t kMaxDurationSeconds = UINT32_MAX;

// Seconds from "90", "90s", "5m" or "1h": digits and at most one unit letter, nothing else (no
// sign, no spaces, no empty text). Longer than kMaxDurationSeconds is refused (never wrapped);
// the error names `option`, the text, the maximum and what to write instead.
Result<uint32_t> parseDuration(const std::string& option, const std::string& text);

}  // namespace muzzle::ctl

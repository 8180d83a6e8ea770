// Events as muzzlectl prints them (`events`, `--targets ... events`, `fleet events`), and the
// resume token EPOCH:SEQUENCE the user types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "muzzle/v1/management.pb.h"

namespace muzzle::ctl {

// One line, without its newline: "SEQUENCE TIME TEXT", a gap ("gap: events 5..9 are lost
// (REASON)", "gap: REASON" for a restart), or with `json` the event's JSON.
std::string eventLine(const v1::Event& e, bool json);

// "N" or "EPOCH:N", decimal; nullopt on anything else.
std::optional<std::pair<uint64_t, uint64_t>> parseResumeToken(const std::string& text);

}  // namespace muzzle::ctl

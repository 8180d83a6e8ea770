// The file `muzzlectl fleet apply` keeps its RolloutState in (fleet.proto; by default
// DIR/.fleet-rollout.json), and the digest that tells a resumed rollout from a new one.
//
// The file is read as hostile input: a regular file only (no FIFO, device or folder), at most
// kMaxRolloutStateBytes, JSON that must parse as a RolloutState with no unknown field, and
// boxes within the fleet's bound. Whether it belongs to the fleet at hand (the same boxes, in
// the same order) is runRollout's check. Written atomically (temp file, fsync, rename), so an
// interrupted muzzlectl leaves the old state or the new one, never a torn one.
//
// Any thread may call these; they keep no state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/fleet.pb.h"

namespace muzzle::fleet {

struct RolloutBox;

// About 300 bytes a box: 10,000 boxes (kMaxBoxes) fit with room to spare.
inline constexpr size_t kMaxRolloutStateBytes = size_t{16} << 20;

// The state saved at `path`; nullopt when there is no such file. Every other problem is an
// error starting with the path, saying what is wrong and what to do (kInvalidArgument for a
// file that is not a rollout state, kUnknown for an I/O error).
Result<std::optional<v1::RolloutState>> loadRolloutState(const std::string& path);

// Replaces the file at `path` with `state` (JSON), atomically. Errors name the path.
Status saveRolloutState(const std::string& path, const v1::RolloutState& state);

// SHA-256 (hex) over every box's name and desired text, in order, each length-prefixed so that
// no two different fleets give the same input.
std::string desiredSha256(const std::vector<RolloutBox>& boxes);

}  // namespace muzzle::fleet

// GenerationStore: the policy generation survives restarts. The generation is part of every
// verdict mark (fw/nft/marks.h) and the ruleset honours only marks of the current one; restarting
// with the same policy must reuse it, or every flow judged before the restart would be judged
// again. Kept in `<state_dir>/generation` as "<generation> <policy digest>", written atomically.
//
// The disk may fail it, and that must never stop an install (an unprotected segment is worse
// than re-judging every flow):
//   - a damaged file (anything but "<1..kMaxGeneration> <digest>") is set aside as
//     `generation.damaged-<time>` and a fresh generation is picked at random: the file no longer
//     says which generations marks of the previous run carry, and a random one in 24 bits is
//     unlikely to match any (a match would let a flow judged under an older policy pass; any
//     other value only makes every flow be judged once more, which is safe);
//   - a folder that cannot be written (read-only, full) gets a generation chosen in memory:
//     derived from the policy digest the first time (so a restart with the same policy on the same
//     read-only disk keeps its marks), random after that (a later change in the same run must not
//     revive marks of an earlier policy).
// What went wrong is in the returned choice, for the caller to report (fw/engine/state_report.h).
// Not thread-safe: the Daemon calls it on the engine thread.
#pragma once

#include <cstdint>
#include <string>

namespace muzzle {

// What a policy's generation is stored under: the policy digest and the mark contract's version
// (fw/nft/marks.h), one word ("<digest>+marks<version>").
std::string generationKey(const std::string& policy_digest);

struct GenerationChoice {
  uint32_t generation = 0;
  bool stored = false;      // the file holds this generation
  std::string damaged;      // why the file was damaged; empty when it was not
  std::string kept_as;      // where the damaged file was set aside; empty when it stayed
  std::string write_error;  // why the generation could not be stored; empty when it was
};

class GenerationStore {
 public:
  explicit GenerationStore(std::string state_dir) : dir_(std::move(state_dir)) {}
  // The generation to use for a policy with `digest`: the one in use (or stored) if the digest is
  // unchanged, else the next one (wrapping to 1), stored before it is returned.
  GenerationChoice generationFor(const std::string& digest);
  // Always a new generation: for re-judging every flow under the same policy, as when a device
  // is classified into another profile.
  GenerationChoice advance(const std::string& digest);
  std::string path() const { return dir_ + "/generation"; }

 private:
  struct Stored {
    bool present = false;
    uint32_t generation = 0;  // 0 when absent or damaged
    std::string digest;
    std::string damaged;  // why the file could not be used
  };
  Stored read() const;
  // Stores `next` (creating the state dir if needed); on failure fills in a generation chosen in
  // memory instead. `derive` allows the digest-derived choice.
  GenerationChoice choose(uint32_t next, const std::string& digest, const Stored& stored,
                          bool derive);
  uint32_t fresh(const Stored& stored) const;

  std::string dir_;
  uint32_t last_ = 0;  // what was handed out last, stored or not
  std::string last_digest_;
  bool last_stored_ = false;
  bool memory_used_ = false;  // once the file is behind, it no longer tells what is in use
};

}  // namespace muzzle

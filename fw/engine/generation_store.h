// GenerationStore: the policy generation survives restarts. The generation is part of every
// verdict mark (fw/nft/marks.h); restarting with the same policy must reuse it, or every flow
// judged before the restart would be judged again. Kept in `<state_dir>/generation` as
// "<generation> <policy digest>", written atomically (temp file, fsync, rename, fsync dir).
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

class GenerationStore {
 public:
  explicit GenerationStore(std::string state_dir) : dir_(std::move(state_dir)) {}
  // The generation to use for a policy with `digest`: the stored one if the digest is unchanged,
  // else the next one (wrapping to 1), which is stored before it is returned.
  Result<uint32_t> generationFor(const std::string& digest);
  // Always the next generation (stored): for re-judging every flow under the same policy, as
  // when a device is classified into another profile.
  Result<uint32_t> advance(const std::string& digest);

 private:
  struct Stored {
    uint32_t generation = 0;
    std::string digest;
  };
  Stored read() const;
  // Writes the generation after `after` (creating the state dir if needed) and returns it.
  Result<uint32_t> store(uint32_t after, const std::string& digest);

  std::string dir_;
};

}  // namespace muzzle

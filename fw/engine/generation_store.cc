#include "fw/engine/generation_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fw/common/atomic_file.h"
#include "fw/nft/marks.h"

namespace muzzle {

Result<uint32_t> GenerationStore::generationFor(const std::string& digest) {
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::error("state_dir " + dir_ + ": cannot create: " + std::strerror(errno));
  }
  uint32_t stored = 0;
  std::string stored_digest;
  std::ifstream in(dir_ + "/generation");
  if (in) in >> stored >> stored_digest;
  if (stored >= 1 && stored <= kMaxGeneration && stored_digest == digest) return stored;
  uint32_t next = stored >= kMaxGeneration ? 1 : stored + 1;
  Status s = writeFileAtomically(dir_, "generation", std::to_string(next) + " " + digest + "\n", 0644);
  if (!s.ok()) return s.withContext("state_dir: ");
  return next;
}

}  // namespace muzzle

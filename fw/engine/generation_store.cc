#include "fw/engine/generation_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fw/common/atomic_file.h"
#include "fw/nft/marks.h"

namespace muzzle {
Result<uint32_t> GenerationStore::generationFor(const std::string& digest) {
  Stored stored = read();
  if (stored.generation >= 1 && stored.generation <= kMaxGeneration && stored.digest == digest) {
    return stored.generation;
  }
  return store(stored.generation, digest);
}

Result<uint32_t> GenerationStore::advance(const std::string& digest) {
  return store(read().generation, digest);
}

GenerationStore::Stored GenerationStore::read() const {
  Stored stored;
  std::ifstream in(dir_ + "/generation");
  if (in) in >> stored.generation >> stored.digest;  // a corrupt file reads as generation 0
  return stored;
}

Result<uint32_t> GenerationStore::store(uint32_t after, const std::string& digest) {
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::error("state_dir " + dir_ + ": cannot create: " + std::strerror(errno));
  }
  uint32_t next = after >= kMaxGeneration ? 1 : after + 1;
  Status s = writeFileAtomically(dir_, "generation", std::to_string(next) + " " + digest + "\n", 0644);
  if (!s.ok()) return s.withContext("state_dir: ");
  return next;
}

}  // namespace muzzle

// libFuzzer target for GenerationStore, the reader of `state_dir/generation` ("<generation>
// <policy digest>", which muzzled reads at start so that a restart with the same policy keeps
// every flow's verdict mark; a disk may tear it, a person may edit it): the bytes are the file,
// then the store is asked as the Daemon asks it (the generation for the running policy, a
// restart, a change of policy, a re-judging), and the file read back.
// Oracle: the sanitizers, and:
//  - every generation handed out is 1..kMaxGeneration (the marks' 24 bits; 0 is no generation);
//  - a file that names the running policy gives its generation back, unchanged and unwritten;
//  - a damaged file is reported, set aside with its bytes as they were, and replaced;
//  - what the store wrote itself reads back: "<generation> <key>\n", and a restart (a new store
//    on the same folder) with the same policy keeps that generation;
//  - a new policy, or advance(), never hands out the generation in use.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "fw/engine/generation_store.h"
#include "fw/nft/marks.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::string readFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "<missing>";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

void checkRange(uint32_t generation) {
  if (generation == 0 || generation > muzzle::kMaxGeneration) std::abort();
}

// The store wrote `choice` and the file says so.
void checkStored(const muzzle::GenerationChoice& choice, const std::string& path,
                 const std::string& key) {
  // The scratch folder is writable.
  if (!choice.stored || !choice.write_error.empty()) std::abort();
  if (readFile(path) != std::to_string(choice.generation) + " " + key + "\n") std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = muzzle::fuzz::scratchDir() + "/state";
  muzzle::fuzz::resetDir(dir);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The running policy's digest, as the seeds (written by GenerationStore) name it.
  const std::string key =
      muzzle::generationKey("09bfcc6a14b83e2192b8673677725c84883ee9cd0c70e45c9ec09daa8f2b2847");
  const std::string other = muzzle::generationKey("another-policy");

  muzzle::GenerationStore store(dir);
  muzzle::fuzz::writeFile(store.path(), bytes);
  const muzzle::GenerationChoice first = store.generationFor(key);
  checkRange(first.generation);
  if (!first.damaged.empty()) {
    // Set aside whole, as it was, for a person to read.
    if (first.kept_as.empty() || readFile(first.kept_as) != bytes) std::abort();
    checkStored(first, store.path(), key);
  } else if (readFile(store.path()) == bytes) {
    // Unchanged: the file named this policy, and its generation is the one in use (leading
    // zeros as a person may have written them).
    const std::string text(bytes);
    const size_t space = text.find(' ');
    if (!first.stored || space == std::string::npos) std::abort();
    if (std::strtoul(text.substr(0, space).c_str(), nullptr, 10) != first.generation) std::abort();
    if (text.substr(space) != " " + key + "\n") std::abort();
  } else {
    checkStored(first, store.path(), key);
  }

  // Asked again, and after a restart: the same generation, the marks of every flow still good.
  if (store.generationFor(key).generation != first.generation) std::abort();
  muzzle::GenerationStore restarted(dir);
  const muzzle::GenerationChoice again = restarted.generationFor(key);
  if (again.generation != first.generation || !again.damaged.empty()) std::abort();

  // Another policy, then the first one again: a new generation each time, never the one in use.
  const muzzle::GenerationChoice changed = restarted.generationFor(other);
  checkRange(changed.generation);
  if (changed.generation == first.generation) std::abort();
  checkStored(changed, restarted.path(), other);
  const muzzle::GenerationChoice advanced = restarted.advance(other);
  checkRange(advanced.generation);
  if (advanced.generation == changed.generation) std::abort();
  checkStored(advanced, restarted.path(), other);
  return 0;
}

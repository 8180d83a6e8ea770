#include "fw/engine/generation_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/common/sha256.h"
#include "fw/nft/marks.h"

namespace muzzle {
namespace {

uint32_t nextAfter(uint32_t g) { return g >= kMaxGeneration ? 1 : g + 1; }

// 1..kMaxGeneration, never `avoid_a` or `avoid_b` (the generation the kernel honours now, the
// one the file names).
uint32_t avoiding(uint32_t g, uint32_t avoid_a, uint32_t avoid_b) {
  g &= kMaxGeneration;
  while (g == 0 || g == avoid_a || g == avoid_b) g = nextAfter(g);
  return g;
}

}  // namespace

std::string generationKey(const std::string& policy_digest) {
  return policy_digest + "+marks" + std::to_string(kMarkContractVersion);
}

GenerationStore::Stored GenerationStore::read() const {
  Stored stored;
  auto text = readRegularFile(path());
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) stored.damaged = text.status().message();
    stored.present = text.status().code() != StatusCode::kNotFound;
    return stored;
  }
  stored.present = true;
  // "<generation> <digest>\n", nothing else: a torn or garbled file must not pass for a number.
  const std::string& t = *text;
  const size_t space = t.find(' ');
  const bool shape = space != std::string::npos && space > 0 && space <= 8 && !t.empty() &&
                     t.back() == '\n' && t.find_first_not_of("0123456789") == space &&
                     t.find_first_of(" \n", space + 1) == t.size() - 1 && space + 1 < t.size() - 1;
  const unsigned long g = shape ? std::strtoul(t.c_str(), nullptr, 10) : 0;
  if (!shape || g == 0 || g > kMaxGeneration) {
    stored.damaged = "not \"<generation 1.." + std::to_string(kMaxGeneration) + "> <digest>\"";
    return stored;
  }
  stored.generation = static_cast<uint32_t>(g);
  stored.digest = t.substr(space + 1, t.size() - space - 2);
  return stored;
}

uint32_t GenerationStore::fresh(const Stored& stored) const {
  std::random_device rd;
  return avoiding(rd(), last_, stored.generation);
}

GenerationChoice GenerationStore::choose(uint32_t next, const std::string& digest,
                                         const Stored& stored, bool derive) {
  GenerationChoice c;
  c.generation = next;
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    c.write_error = "state_dir " + dir_ + ": cannot create: " + std::strerror(errno);
  } else if (Status s = writeFileAtomically(dir_, "generation",
                                            std::to_string(next) + " " + digest + "\n", 0644);
             !s.ok()) {
    c.write_error = s.message();
  }
  c.stored = c.write_error.empty();
  if (!c.stored) {
    if (derive && !memory_used_) {
      // The same policy on the same read-only disk gets the same generation after a restart.
      const std::string h = sha256Hex("muzzle-generation\n" + digest);
      c.generation =
          avoiding(static_cast<uint32_t>(std::strtoul(h.substr(0, 6).c_str(), nullptr, 16)), last_,
                   stored.generation);
    } else {
      c.generation = fresh(stored);
    }
    memory_used_ = true;
  }
  last_ = c.generation;
  last_digest_ = digest;
  last_stored_ = c.stored;
  return c;
}

GenerationChoice GenerationStore::generationFor(const std::string& digest) {
  if (last_ != 0 && digest == last_digest_) {
    GenerationChoice c;
    c.generation = last_;
    c.stored = last_stored_;
    return c;
  }
  Stored stored = read();
  if (stored.damaged.empty() && stored.generation != 0 && stored.digest == digest &&
      !memory_used_) {
    last_ = stored.generation;
    last_digest_ = digest;
    last_stored_ = true;
    GenerationChoice c;
    c.generation = stored.generation;
    c.stored = true;
    return c;
  }
  std::string damaged, kept_as;
  if (!stored.damaged.empty()) {
    damaged = stored.damaged;
    auto aside = setAsideDamaged(path());
    kept_as = aside.ok() ? *aside : "";
    if (!aside.ok()) damaged += " (left in place: " + aside.status().message() + ")";
  }
  uint32_t next;
  if (!damaged.empty() || memory_used_) {
    next = fresh(stored);
  } else {
    next = avoiding(nextAfter(stored.generation), last_, 0);
  }
  GenerationChoice c = choose(next, digest, stored, /*derive=*/damaged.empty());
  c.damaged = damaged;
  c.kept_as = kept_as;
  return c;
}

GenerationChoice GenerationStore::advance(const std::string& digest) {
  Stored stored = read();
  const uint32_t next = !stored.damaged.empty() || memory_used_
                            ? fresh(stored)
                            : avoiding(nextAfter(stored.generation), last_, 0);
  // Never derived from the digest: the point is a generation the running policy does not have.
  return choose(next, digest, stored, /*derive=*/false);
}

}  // namespace muzzle

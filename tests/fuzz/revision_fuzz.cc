// libFuzzer target for the revision store's readers: what `state_dir/revisions/` holds after a
// crash, a full disk or an edit -> RevisionStore::open (the `current` and `pending` files, the
// revision numbers), revision() and list() (each `.meta` JSON), content(). Then the store is
// used as the committer uses it — a new revision, made current, a pending commit set and
// cleared, older revisions pruned — and opened again.
//
// Input: sections separated by a line "----": `current`, `pending` (not written when empty),
// then the `.meta` of revisions 1, 2, ... (at most 8); each revision's policy is "version: 1".
// Oracle: the sanitizers, and: what the store wrote itself opens again without a problem, with
// the same latest and current revision.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mgmt/revisions/revision_store.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/sections.h"

namespace {

constexpr size_t kMaxRevisions = 8;
constexpr size_t kKeep = 4;  // small, so pruning runs

std::string revisionFile(const std::string& dir, size_t number, const char* ext) {
  char name[32];
  std::snprintf(name, sizeof(name), "/r%08zu.%s", number, ext);
  return dir + name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string state = muzzle::fuzz::scratchDir() + "/state";
  const std::string dir = state + "/revisions";
  muzzle::fuzz::resetDir(dir);
  const std::vector<std::string_view> parts =
      muzzle::fuzz::splitSections(std::string_view(reinterpret_cast<const char*>(data), size));
  muzzle::fuzz::writeFile(dir + "/current", parts[0]);
  if (parts.size() > 1 && !parts[1].empty()) muzzle::fuzz::writeFile(dir + "/pending", parts[1]);
  for (size_t i = 2; i < parts.size() && i - 2 < kMaxRevisions; ++i) {
    muzzle::fuzz::writeFile(revisionFile(dir, i - 1, "meta"), parts[i]);
    muzzle::fuzz::writeFile(revisionFile(dir, i - 1, "policy"), "version: 1\n");
  }

  muzzle::RevisionStore store(state, kKeep);
  (void)store.open();  // damage is reported and set aside, never fatal
  if (store.current() != 0 && !store.has(store.current())) std::abort();
  for (uint64_t n = 0; n <= store.latest() + 1; ++n) {
    // A damaged .meta is an error; a revision the store does not have is never read.
    if (store.revision(n).ok() && !store.has(n)) std::abort();
    if (store.content(n).ok() && !store.has(n)) std::abort();
  }
  (void)store.list();

  // The next apply: a new revision, pending with the current one to roll back to, confirmed.
  const uint64_t before = store.current();
  auto added = store.prepare("version: 1\n", "fuzz", "next", before);
  // The scratch folder is writable: only a folder that used up the numbers refuses.
  if (!added.ok() && store.next() > muzzle::RevisionStore::kMaxRevisionNumber) return 0;
  if (!added.ok() || !store.finish(*added).ok()) std::abort();
  muzzle::v1::PendingCommit pending;
  pending.set_revision(added->number());
  pending.set_rollback_to(before);
  if (!store.setPending(pending).ok() || !store.setCurrent(added->number()).ok()) std::abort();
  muzzle::RevisionStore reopened(state, kKeep);
  if (!reopened.open().empty()) std::abort();  // what the store wrote itself is never damage
  if (reopened.latest() != store.latest() || reopened.current() != store.current()) std::abort();
  if (!reopened.pending() || reopened.pending()->revision() != added->number()) std::abort();
  if (!store.clearPending().ok()) std::abort();
  return 0;
}

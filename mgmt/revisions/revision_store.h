// RevisionStore: every applied policy as a numbered revision in `<state_dir>/revisions/`:
//   r00000007.policy  the text, byte for byte as applied
//   r00000007.meta    the muzzle.v1.Revision (JSON): sha256, time, author, comment, parent
//   current           the number of the revision the box runs ("last good" when nothing pends)
//   pending           the muzzle.v1.PendingCommit (JSON) while a commit awaits confirmation
// Every file is written atomically (fw/common/atomic_file.h). The newest `keep` revisions are
// kept; older ones are deleted, but never the current one or a pending rollback target.
// Not thread-safe: the management plane calls it on the engine thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

class RevisionStore {
 public:
  static constexpr size_t kDefaultKeep = 50;
  explicit RevisionStore(std::string state_dir, size_t keep = kDefaultKeep);

  // Creates the folder if needed and reads what is there. Fails on an unreadable store.
  Status open();

  uint64_t current() const { return current_; }  // 0: no revision yet
  uint64_t latest() const { return numbers_.empty() ? 0 : numbers_.back(); }
  bool has(uint64_t number) const;
  Result<v1::Revision> revision(uint64_t number) const;  // kNotFound for unknown or pruned
  Result<std::string> content(uint64_t number) const;
  std::vector<v1::Revision> list() const;  // newest first

  // Writes revision latest()+1 (not made current). Returns its metadata.
  Result<v1::Revision> add(std::string_view text, const std::string& author,
                           const std::string& comment, uint64_t parent);
  Status setCurrent(uint64_t number);

  const std::optional<v1::PendingCommit>& pending() const { return pending_; }
  Status setPending(const v1::PendingCommit& pending);
  Status clearPending();

  const std::string& dir() const { return dir_; }

 private:
  std::string path(uint64_t number, const char* ext) const;
  void prune();

  std::string dir_;
  size_t keep_;
  uint64_t current_ = 0;
  std::vector<uint64_t> numbers_;  // ascending
  std::optional<v1::PendingCommit> pending_;
};

}  // namespace muzzle

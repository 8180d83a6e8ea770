// RevisionStore: every applied policy as a numbered revision in `<state_dir>/revisions/`:
//   r00000007.policy  the text, byte for byte as applied
//   r00000007.meta    the muzzle.v1.Revision (JSON): sha256, time, author, comment, parent, and
//                     the audit chain's head once its entry was written (an anchor outside the
//                     log: see audit_log.h)
//   current           the number of the revision the box runs ("last good" when nothing pends)
//   pending           the muzzle.v1.PendingCommit (JSON) while a commit awaits confirmation
// Every file is written atomically (fw/common/atomic_file.h). The newest `keep` revisions are
// kept; older ones are deleted, but never the current one or a pending rollback target.
//
// The disk may be torn or corrupted, so nothing read is trusted blindly: open() never fails on
// damage. A `current` that is not a number of a kept revision, or a `pending` that does not
// parse, is set aside as `NAME.damaged-<time>` (never deleted) and reported; damage(n) checks a
// revision (its metadata parses, its text matches its sha256) and setAside(n) moves a damaged one
// out of the way. What to fall back to is PolicyCommitter::boot's decision. Numbers only grow,
// also past damaged revisions set aside (their file names still count).
//
// A folder that cannot be written (read-only, full) is reported by open() and by every write;
// reads keep working.
// Not thread-safe: the management plane calls it on the engine thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/engine/state_report.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

// The audit chain's head as a revision's metadata recorded it.
struct AuditAnchor {
  std::string source;  // "revision 7"
  uint64_t sequence = 0;
  std::string hash;
};

class RevisionStore {
 public:
  static constexpr size_t kDefaultKeep = 50;
  // The highest number a revision can have: its file name ("r" and 18 digits) is one open()
  // reads back. prepare() refuses to go past it (only a damaged folder can get near it).
  static constexpr uint64_t kMaxRevisionNumber = 999'999'999'999'999'999ULL;
  explicit RevisionStore(std::string state_dir, size_t keep = kDefaultKeep);

  // Creates the folder if it can and reads what is there. Returns what it found wrong: damaged
  // `current` or `pending` files (set aside), a folder it could not create or list.
  std::vector<StateProblem> open();
  // open() found `current` damaged (unparseable, or naming no kept revision), or `pending`.
  bool currentDamaged() const { return current_damaged_; }
  bool pendingDamaged() const { return pending_damaged_; }

  uint64_t current() const { return current_; }  // 0: no revision yet
  uint64_t latest() const { return numbers_.empty() ? 0 : numbers_.back(); }
  const std::vector<uint64_t>& numbers() const { return numbers_; }  // ascending
  bool has(uint64_t number) const;
  Result<v1::Revision> revision(uint64_t number) const;  // kNotFound for unknown or pruned
  // The text, checked against the metadata's sha256 (a mismatch is an error saying so).
  Result<std::string> content(uint64_t number) const;
  std::vector<v1::Revision> list() const;  // newest first
  // What is wrong with revision `number`'s files; empty when it is intact.
  std::string damage(uint64_t number) const;
  // Renames the damaged revision's files to `.damaged-<time>` and forgets the revision. The
  // problem names where the metadata went (or why it stayed, on a read-only folder).
  StateProblem setAside(uint64_t number, const std::string& why);
  // Every kept revision's record of the audit chain's head, for AuditLog::read().
  std::vector<AuditAnchor> anchors() const;

  // A new revision is written in two steps, so its audit entry can be written between them:
  // prepare() writes the text of revision next() (not yet a revision: it has no metadata),
  // finish() writes the metadata (now it exists), abandon() removes a prepared text.
  uint64_t next() const { return next_; }
  Result<v1::Revision> prepare(std::string_view text, const std::string& author,
                               const std::string& comment, uint64_t parent);
  Status finish(const v1::Revision& revision);
  void abandon(const v1::Revision& revision);
  Status setCurrent(uint64_t number);
  // The box runs `number` but the pointer cannot be written (a read-only folder): in memory only.
  void assumeCurrent(uint64_t number) { current_ = number; }

  const std::optional<v1::PendingCommit>& pending() const { return pending_; }
  Status setPending(const v1::PendingCommit& pending);
  Status clearPending();
  // Forgets a pending commit without touching the disk (its file was set aside or cannot be
  // removed).
  void forgetPending() { pending_.reset(); }

  const std::string& dir() const { return dir_; }
  const std::string& stateDir() const { return state_dir_; }
  std::string policyPath(uint64_t number) const { return path(number, "policy"); }

 private:
  std::string path(uint64_t number, const char* ext) const;
  void prune();

  std::string state_dir_;
  std::string dir_;
  size_t keep_;
  uint64_t current_ = 0;
  uint64_t next_ = 1;
  bool current_damaged_ = false;
  bool pending_damaged_ = false;
  std::vector<uint64_t> numbers_;  // ascending
  std::optional<v1::PendingCommit> pending_;
};

}  // namespace muzzle

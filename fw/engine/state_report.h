// StateReport: what is wrong with the state folder (`state_dir`), for the status screen. The disk
// may be full, read-only, torn or corrupted; none of that may stop enforcement, so the code that
// reads and writes state (the Daemon's generation, the management plane's revisions and audit
// log) carries on with what it can trust and lists here what it found. Each finder also writes
// its own log line (event=state-damaged, event=state-unwritable, event=audit-broken), which
// reaches the event ring like any other event.
//
// Damage stays listed until an admin applies a new revision (clearDamage()); a folder that could
// not be written stays listed until a write succeeds (wrote()). At most kMaxProblems are kept
// (later ones are counted in `dropped`), so a folder full of damaged files cannot grow it.
//
// Engine thread only (and before the engine starts): the Daemon and the management plane both
// run there, and so does the status call that reads it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace muzzle {

struct StateProblem {
  enum class Kind {
    kDamaged,       // a file could not be parsed or did not match its checksum; set aside
    kNotCompiling,  // an intact revision that no longer compiles (e.g. a list file it names is
                    // gone)
    kUnwritable,    // the folder could not be written (read-only, full, I/O error)
    kAuditBroken,   // the audit log's hash chain or its anchors do not verify
  };
  Kind kind = Kind::kDamaged;
  std::string file;     // the path concerned
  std::string problem;  // what is wrong and, where it helps, what to do
  std::string kept_as;  // where a damaged file was set aside; empty when it stayed in place
};

inline const char* stateProblemKindName(StateProblem::Kind kind) {
  switch (kind) {
    case StateProblem::Kind::kDamaged:
      return "damaged";
    case StateProblem::Kind::kNotCompiling:
      return "does-not-compile";
    case StateProblem::Kind::kUnwritable:
      return "unwritable";
    case StateProblem::Kind::kAuditBroken:
      return "audit-broken";
  }
  return "damaged";
}

class StateReport {
 public:
  static constexpr size_t kMaxProblems = 32;

  // A folder that cannot be written is listed once per file, with the latest error.
  void add(StateProblem p) {
    for (StateProblem& have : problems_) {
      if (have.kind == p.kind && have.file == p.file) {
        have = std::move(p);
        return;
      }
    }
    if (problems_.size() >= kMaxProblems) {
      ++dropped_;
      return;
    }
    problems_.push_back(std::move(p));
  }
  // The box runs the text of revision `n` because what should have run was damaged.
  void setFallbackRevision(uint64_t n) { fallback_revision_ = n; }
  // A write to the state folder succeeded: it is writable again.
  void wrote() {
    removeIf([](const StateProblem& p) { return p.kind == StateProblem::Kind::kUnwritable; });
  }
  // An admin applied a new revision: what was found damaged no longer decides what runs.
  void clearDamage() {
    removeIf([](const StateProblem& p) { return p.kind != StateProblem::Kind::kUnwritable; });
    fallback_revision_ = 0;
    dropped_ = 0;
  }

  bool ok() const { return problems_.empty() && dropped_ == 0; }
  bool writable() const {
    for (const StateProblem& p : problems_) {
      if (p.kind == StateProblem::Kind::kUnwritable) return false;
    }
    return true;
  }
  const std::vector<StateProblem>& problems() const { return problems_; }
  uint64_t fallbackRevision() const { return fallback_revision_; }
  uint64_t dropped() const { return dropped_; }

 private:
  template <typename Pred>
  void removeIf(Pred pred) {
    std::vector<StateProblem> keep;
    for (StateProblem& p : problems_) {
      if (!pred(p)) keep.push_back(std::move(p));
    }
    problems_ = std::move(keep);
  }

  std::vector<StateProblem> problems_;
  uint64_t fallback_revision_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace muzzle

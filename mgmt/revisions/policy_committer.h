// PolicyCommitter: the policy life-cycle of a managed box. Every change — apply, rollback, an
// expired confirmation, a device edit — becomes a new numbered revision (RevisionStore), is
// installed through EngineControl, lands in the AuditLog and is announced on the EventLog (so
// watchers see it). Revision numbers only grow, which is what makes `expected_revision`
// (optimistic concurrency) safe.
//
// Commit-confirmed: apply() with a timeout writes the pending state to disk *before* the new
// revision becomes current, so a crash or reboot inside the window ends in a rollback at the
// next boot(). tick() rolls back when the window closes; it reads the Clock, so tests move a
// ManualClock instead of waiting.
//
// Engine thread only (boot() before the engine starts). The references must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/clock.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/event_log.h"
#include "mgmt/revisions/audit_log.h"
#include "mgmt/revisions/revision_store.h"
#include "muzzle/v1/management.pb.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// Who asked, for the audit log.
struct Caller {
  std::string who;   // "local", a certificate identity, or "muzzled"
  std::string peer;  // "unix" or "ipv4:198.18.0.2:41234"
};

struct ValidateOutcome {
  bool valid = false;
  std::vector<v1::Violation> violations;
  uint64_t base_revision = 0;
  std::string diff;
};

struct CommitOutcome {
  v1::Revision revision;
  uint64_t previous_revision = 0;
  std::optional<v1::PendingCommit> pending;
  bool unchanged = false;
  // With `unchanged`: the text as compiled for this call (against the segments as they are
  // now) and what that took, for a caller that installs it again without compiling twice.
  std::shared_ptr<const CompiledPolicy> compiled;
  std::chrono::steady_clock::duration compile_time{};
};

// Splits "file:line: field: message" lines into violations.
std::vector<v1::Violation> parseViolations(const std::string& message, std::string_view label);

class PolicyCommitter {
 public:
  static constexpr uint32_t kMaxConfirmSeconds = 86400;
  // The label policy text is compiled under, so errors read "policy.yaml:9: ...".
  static constexpr std::string_view kLabel = "policy.yaml";

  PolicyCommitter(EngineControl& engine, RevisionStore& store, AuditLog& audit, EventLog& log,
                  const Clock& clock);

  // Before the engine starts. Decides the text the box starts from: the current revision; with a
  // commit pending (a crash or reboot inside its window), its rollback target, as a new
  // revision; with no revision at all, the file `seed_path` as revision 1.
  Result<std::string> boot(const std::string& seed_path);

  ValidateOutcome validate(std::string_view text);
  Result<CommitOutcome> apply(std::string_view text, uint64_t expected_revision,
                              uint32_t confirm_seconds, const std::string& comment,
                              const Caller& caller);
  Result<v1::Revision> confirm(uint64_t revision, const Caller& caller);
  // Makes revision `to` (0: the current revision's parent, or while a commit is pending, its
  // rollback target) current again as a new revision. Also ends a pending commit.
  Result<CommitOutcome> rollback(uint64_t to, uint64_t expected_revision,
                                 const std::string& comment, const Caller& caller);
  // Edits the current policy's message and commits the result (written as JSON). For device
  // changes; refused while a commit is pending.
  Result<CommitOutcome> edit(const std::function<Status(v1::Policy*)>& change,
                             const std::string& action, const std::string& comment,
                             const Caller& caller);
  // Rolls back when a confirmation window has closed. Call it often (the daemon ticks it).
  void tick();

  uint64_t current() const { return store_.current(); }
  const std::optional<v1::PendingCommit>& pending() const { return store_.pending(); }
  Result<v1::Policy> currentPolicy() const;
  RevisionStore& store() { return store_; }
  AuditLog& audit() { return audit_; }

 private:
  Result<CommitOutcome> commit(std::string_view text, const std::string& action,
                               uint32_t confirm_seconds, const std::string& comment,
                               const Caller& caller);
  void record(const std::string& action, uint64_t old_rev, uint64_t new_rev,
              const std::string& comment, const Caller& caller);

  EngineControl& engine_;
  RevisionStore& store_;
  AuditLog& audit_;
  EventLog& log_;
  const Clock& clock_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace muzzle

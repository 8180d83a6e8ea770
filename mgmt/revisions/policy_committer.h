// PolicyCommitter: the policy life-cycle of a managed box. Every change — apply, rollback, an
// expired confirmation, a device edit, a fallback at boot — becomes a new numbered revision
// (RevisionStore), is audited (AuditLog), installed through EngineControl and announced on the
// EventLog (so watchers see it). Revision numbers only grow, which is what makes
// `expected_revision` (optimistic concurrency) safe.
//
// A change is written in this order: the revision's text, its audit entry, its metadata
// (anchoring the audit head), the pending file, the `current` pointer, then the install. So a
// change that cannot be audited (or stored) is refused with nothing changed (FAILED_PRECONDITION,
// naming the state folder), a kernel that refuses the install puts the store back (and the audit
// log says so with an `<action>-failed` entry), and a crash in between leaves an audit entry for a
// revision that never became current, which the next boot() records as `interrupted`.
//
// Commit-confirmed: apply() with a timeout writes the pending state to disk *before* the new
// revision becomes current, so a crash or reboot inside the window ends in a rollback at the
// next boot(). tick() rolls back when the window closes; it reads the Clock, so tests move a
// ManualClock instead of waiting.
//
// Compiles run off the engine thread: validate(), apply(), rollback(), edit() and tick()'s
// rollback read what they need on the engine thread, compile on the CompileQueue's thread, and
// finish on the engine thread (through EngineControl::post), re-checking what may have moved
// meanwhile (expected_revision, a pending commit) before they commit. So a compile never delays
// timers, the watchdog, status calls or other clients. Their `done` callbacks run on the engine
// thread: at once for a refusal, later for a compile; never if muzzled stops first.
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
#include "fw/config/diagnostics.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/event_log.h"
#include "fw/engine/state_report.h"
#include "fw/policy/policy_loader.h"
#include "mgmt/revisions/audit_log.h"
#include "mgmt/revisions/compile_queue.h"
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

// A compile's diagnostics as the API's violations, one for one, field for field.
std::vector<v1::Violation> toViolations(const std::vector<Diagnostic>& diagnostics);

// What apply(), rollback() and edit() hand back: the outcome, or why not. When the policy did not
// compile, the refusal also carries its errors one by one (`violations`; the status's message
// holds the same errors as text), so the API can return them structured (mgmt/server/convert.h).
struct CommitReply {
  CommitReply(Result<CommitOutcome> r) : outcome(std::move(r)) {}  // NOLINT: implicit by design
  CommitReply(Status s) : outcome(std::move(s)) {}                 // NOLINT: a refusal
  // The refusal of a text that did not compile: its status, with its diagnostics when the
  // policy was at fault (INVALID_ARGUMENT; a full compile queue, say, has none).
  static CommitReply notCompiled(const PolicyCompileResult& compiled);

  Result<CommitOutcome> outcome;
  std::vector<v1::Violation> violations;
};

class PolicyCommitter {
 public:
  static constexpr uint32_t kMaxConfirmSeconds = 86400;
  // The label policy text is compiled under, so errors read "policy.yaml:9: ...".
  static constexpr std::string_view kLabel = "policy.yaml";

  using CommitDone = std::function<void(CommitReply)>;

  // `state` lists what is wrong with the state folder for the status screen.
  PolicyCommitter(EngineControl& engine, RevisionStore& store, AuditLog& audit, EventLog& log,
                  const Clock& clock, StateReport& state);

  // Before the engine starts. Decides the text the box starts from: the current revision; with a
  // commit pending (a crash or reboot inside its window), its rollback target, as a new
  // revision; with no revision at all, the file `seed_path` as revision 1.
  // Damaged state never stops the box (see policy_boot.cc): a revision that is damaged or no
  // longer compiles falls back to the newest intact one before it (its parent, else the next
  // lower number), or to `seed_path`, as a new revision; damaged files are set aside, never
  // deleted, and reported (event=state-damaged, StateReport). When the folder cannot be written,
  // the box runs the chosen text from memory. Fails only when nothing can run: the seed does
  // not compile, or the box cannot be read (e.g. a segment's interface is missing).
  Result<std::string> boot(const std::string& seed_path);
  // The policy boot() compiled for the text it returned, and what the compile took, moved out
  // for the engine's start (Daemon::setInitialPolicy), so the box does not compile it twice.
  // boot() compiles on the compile thread, as every later compile, so the memory it leaves is
  // where the first reload finds it. Null before a successful boot(), and after the first take.
  std::pair<std::shared_ptr<const CompiledPolicy>, std::chrono::steady_clock::duration>
  takeBootPolicy();

  void validate(std::string text, std::function<void(Result<ValidateOutcome>)> done);
  void apply(std::string text, uint64_t expected_revision, uint32_t confirm_seconds,
             std::string comment, Caller caller, CommitDone done);
  Result<v1::Revision> confirm(uint64_t revision, const Caller& caller);
  // Makes revision `to` (0: the current revision's parent, or while a commit is pending, its
  // rollback target) current again as a new revision. Also ends a pending commit.
  void rollback(uint64_t to, uint64_t expected_revision, std::string comment, Caller caller,
                CommitDone done);
  // A change of the current revision's text: that text in, the new text out.
  using TextChange = std::function<Result<std::string>(const std::string& current)>;
  // Makes `change` of the current revision's text and commits the text it returns, as `action`
  // (commit-confirmed as apply() with `confirm_seconds`). For device changes (editDeviceText in
  // device_edits.h: the admin's text kept but for the device's entry, so the revision's diff is
  // the change) and a MUD proposal that also assigns its device (one revision for both).
  // Refused while a commit is pending, and ABORTED when another change lands while it is made
  // and compiled (it is never re-based). `change` runs on the compile thread: it may touch
  // only what it is given and what it owns.
  void edit(TextChange change, std::string action, std::string comment, uint32_t confirm_seconds,
            Caller caller, CommitDone done);
  // Rolls back when a confirmation window has closed. Call it often (the daemon ticks it).
  void tick();

  uint64_t current() const { return store_.current(); }
  const std::optional<v1::PendingCommit>& pending() const { return store_.pending(); }
  RevisionStore& store() { return store_; }
  AuditLog& audit() { return audit_; }
  // The audit log checked against its hash chain and its anchors (audit.head, the revisions).
  AuditChain auditChain() const { return audit_.read(store_.anchors()); }
  const StateReport& state() const { return state_; }

 private:
  using Compiled = PolicyCompileResult;
  static std::string revName(uint64_t n) { return "revision " + std::to_string(n); }
  // The refusal of a change while `p` awaits confirmation.
  static Status pendingRefusal(const v1::PendingCommit& p);
  using Text = std::shared_ptr<const std::string>;
  // Compiles `text` on the compile thread; `then` runs on the engine thread with the result and
  // what it took. An urgent compile is never refused.
  void compileThen(Text text, bool urgent,
                   std::function<void(Compiled, std::chrono::steady_clock::duration)> then);
  Result<CommitOutcome> commit(const std::string& text,
                               std::shared_ptr<const CompiledPolicy> compiled,
                               std::chrono::steady_clock::duration compile_time,
                               const std::string& action, uint32_t confirm_seconds,
                               const std::string& comment, const Caller& caller);
  // tick()'s rollback, back from its compile. When the folder cannot be written, it rolls back in
  // the kernel all the same (from memory).
  void finishRollback(const v1::PendingCommit& p, const std::string& text, Compiled compiled,
                      std::chrono::steady_clock::duration took);
  // Before a compile and again after it: may an apply go ahead now?
  Status applyAllowed(uint64_t expected_revision, uint32_t confirm_seconds) const;
  v1::AuditEntry entry(const std::string& action, uint64_t old_rev, uint64_t new_rev,
                       const std::string& comment, const Caller& caller) const;
  // A write to the state folder failed: reported (event, StateReport) and turned into the
  // refusal the caller sees.
  Status refuseUnwritable(const Status& failure, const std::string& what);
  // After the audit entry of a change was written, a later step failed and the change was undone:
  // the log says so (best effort) and so does the returned error.
  Status undone(const std::string& action, uint64_t attempted, uint64_t kept, const Status& failure,
                const Caller& caller);
  // boot() helpers (policy_boot.cc).
  uint64_t fallbackFrom(uint64_t number) const;
  uint64_t rollbackTargetOfDamagedPending() const;
  Status writeBootRevision(const std::string& text, const std::string& action,
                           const std::string& comment, uint64_t parent);
  void recordInterrupted();
  // Compiles `text` as boot() needs it (the context read here, the compile on compiles_, waited
  // for), remembering the policy and its compile time for takeBootPolicy().
  Compiled compileForBoot(const std::string& text);

  EngineControl& engine_;
  RevisionStore& store_;
  AuditLog& audit_;
  EventLog& log_;
  const Clock& clock_;
  StateReport& state_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool rollback_in_flight_ = false;  // tick()'s rollback is compiling
  std::shared_ptr<const CompiledPolicy> boot_policy_;  // the last compileForBoot()'s
  std::chrono::steady_clock::duration boot_compile_time_{};
  CompileQueue compiles_;  // last: its thread stops first, before what its jobs use goes away
};

}  // namespace muzzle

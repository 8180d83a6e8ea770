// Commit-confirmed: a revision applied with a confirmation window stays only when confirm()
// comes in time; otherwise tick() (on the engine thread, driven by the Clock) rolls back to the
// revision before it, also when the state folder stopped taking writes meanwhile.
#include "mgmt/revisions/policy_committer.h"

namespace muzzle {

Result<v1::Revision> PolicyCommitter::confirm(uint64_t revision, const Caller& caller) {
  if (!store_.pending()) {
    return Status::error(StatusCode::kFailedPrecondition, "no commit awaits confirmation");
  }
  const v1::PendingCommit p = *store_.pending();
  if (revision != 0 && revision != p.revision()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         revName(revision) + " is not pending; " + revName(p.revision()) + " is");
  }
  const std::string what = "confirm " + revName(p.revision());
  auto audited = audit_.append(entry("confirm", p.revision(), p.revision(), "", caller));
  if (!audited.ok()) return refuseUnwritable(audited.status(), what);
  if (Status s = store_.clearPending(); !s.ok()) {
    return undone("confirm", p.revision(), p.revision(), refuseUnwritable(s, what), caller);
  }
  state_.wrote();
  deadline_.reset();
  log_.write(LogLine("policy-confirmed").add("revision", p.revision()).add("by", caller.who));
  return store_.revision(p.revision());
}

void PolicyCommitter::tick() {
  if (!store_.pending() || rollback_in_flight_) return;
  if (!deadline_) {
    // Pending but no timer: cannot happen after boot() (which resolves a pending commit), but
    // never leave a window open forever.
    deadline_ = clock_.now();
  }
  if (clock_.now() < *deadline_) return;
  const v1::PendingCommit p = *store_.pending();
  auto text = store_.content(p.rollback_to());
  if (!text.ok()) {
    log_.write(LogLine("rollback-failed").add("error", text.status().message()));
    deadline_ = clock_.now() + std::chrono::seconds(1);  // try again soon
    return;
  }
  rollback_in_flight_ = true;
  Text t = std::make_shared<const std::string>(std::move(text).value());
  compileThen(t, /*urgent=*/true,
              [this, p, t](Compiled compiled, std::chrono::steady_clock::duration took) {
                rollback_in_flight_ = false;
                finishRollback(p, *t, std::move(compiled), took);
              });
}

void PolicyCommitter::finishRollback(const v1::PendingCommit& p, const std::string& text,
                                     Compiled compiled, std::chrono::steady_clock::duration took) {
  // Confirmed or rolled back by hand while this compiled: nothing left to do.
  if (!store_.pending() || store_.pending()->revision() != p.revision()) return;
  if (!compiled.ok()) {
    log_.write(LogLine("rollback-failed").add("error", compiled.status().message()));
    deadline_ = clock_.now() + std::chrono::seconds(1);  // try again soon
    return;
  }
  const std::shared_ptr<const CompiledPolicy> policy = compiled.value();
  const Caller self{"muzzled", "timer"};
  const std::string why = revName(p.revision()) + " was not confirmed in time";
  Result<CommitOutcome> done = commit(text, policy, took, "auto-rollback", 0, why, self);
  if (!done.ok() && done.status().code() == StatusCode::kFailedPrecondition) {
    // The state folder stopped taking writes inside the window. The rollback is what keeps an
    // admin from being locked out, so it happens in the kernel anyway; `pending` stays on disk,
    // and the next start rolls back again (and stores it, if it can).
    auto generation = engine_.applyPolicy(policy, took);
    if (generation.ok()) {
      store_.assumeCurrent(p.rollback_to());
      store_.forgetPending();
      deadline_.reset();
      log_.write(LogLine("policy-rolled-back")
                     .add("from", p.revision())
                     .add("to_text_of", p.rollback_to())
                     .add("reason", "not confirmed in time")
                     .add("stored", "no: " + done.status().message()));
      return;
    }
    done = generation.status();
  }
  if (!done.ok()) {
    log_.write(LogLine("rollback-failed").add("error", done.status().message()));
    deadline_ = clock_.now() + std::chrono::seconds(1);  // try again soon
    return;
  }
  log_.write(LogLine("policy-rolled-back")
                 .add("revision", done->revision.number())
                 .add("from", p.revision())
                 .add("to_text_of", p.rollback_to())
                 .add("reason", "not confirmed in time"));
}

}  // namespace muzzle

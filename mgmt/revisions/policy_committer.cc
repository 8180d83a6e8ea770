#include "mgmt/revisions/policy_committer.h"

#include <google/protobuf/util/time_util.h>

#include "fw/common/atomic_file.h"
#include "fw/common/utf8.h"
#include "mgmt/revisions/text_diff.h"

namespace muzzle {
namespace {

using google::protobuf::util::TimeUtil;

}  // namespace

Status PolicyCommitter::pendingRefusal(const v1::PendingCommit& p) {
  return Status::error(
      StatusCode::kFailedPrecondition,
      revName(p.revision()) + " awaits confirmation; confirm or roll it back first");
}

std::vector<v1::Violation> toViolations(const std::vector<Diagnostic>& diagnostics) {
  std::vector<v1::Violation> out;
  out.reserve(diagnostics.size());
  for (const Diagnostic& d : diagnostics) {
    v1::Violation& v = out.emplace_back();
    v.set_file(d.file);
    v.set_line(static_cast<uint32_t>(d.line));
    v.set_field(d.field);
    v.set_message(d.message);
  }
  return out;
}

CommitReply CommitReply::notCompiled(const PolicyCompileResult& compiled) {
  CommitReply reply(compiled.status());
  if (compiled.status().code() == StatusCode::kInvalidArgument) {
    reply.violations = toViolations(compiled.diagnostics());
  }
  return reply;
}

PolicyCommitter::PolicyCommitter(EngineControl& engine, RevisionStore& store, AuditLog& audit,
                                 EventLog& log, const Clock& clock, StateReport& state)
    : engine_(engine), store_(store), audit_(audit), log_(log), clock_(clock), state_(state) {}

v1::AuditEntry PolicyCommitter::entry(const std::string& action, uint64_t old_rev, uint64_t new_rev,
                                      const std::string& comment, const Caller& caller) const {
  v1::AuditEntry e;
  e.set_who(caller.who);
  e.set_peer(caller.peer);
  e.set_action(action);
  e.set_old_revision(old_rev);
  e.set_new_revision(new_rev);
  e.set_comment(comment);
  return e;
}

Status PolicyCommitter::refuseUnwritable(const Status& failure, const std::string& what) {
  const std::string& dir = store_.stateDir();
  state_.add({StateProblem::Kind::kUnwritable, dir,
              failure.message() + "; changes are refused until it can be written", ""});
  log_.write(LogLine("state-unwritable")
                 .add("file", dir)
                 .add("error", failure.message())
                 .add("refused", what)
                 .add("what_to_do", "make the state folder writable and give it free space"));
  const std::string keeps = store_.current() != 0 ? "the box keeps " + revName(store_.current())
                                                  : "the box keeps the policy it started with";
  return Status::error(StatusCode::kFailedPrecondition,
                       "cannot " + what + ": the state folder " + dir + " cannot be written (" +
                           failure.message() +
                           "), so the change could be neither stored nor audited; nothing was "
                           "changed and " +
                           keeps + ". Make " + dir +
                           " writable and give it free space (remount it read-write, remove what "
                           "fills it), then try again");
}

Status PolicyCommitter::undone(const std::string& action, uint64_t attempted, uint64_t kept,
                               const Status& failure, const Caller& caller) {
  auto appended =
      audit_.append(entry(action + "-failed", attempted, kept, failure.message(), caller));
  if (!appended.ok()) {
    log_.write(LogLine("audit-error")
                   .add("error", appended.status().message())
                   .add("lost", action + "-failed " + revName(attempted)));
  }
  return failure;
}

void PolicyCommitter::compileThen(
    Text text, bool urgent,
    std::function<void(Compiled, std::chrono::steady_clock::duration)> then) {
  auto context = engine_.policyContext();
  if (!context.ok()) {
    then(context.status(), {});
    return;
  }
  auto job = [this, text, context = std::move(context).value(), then]() {
    const auto start = std::chrono::steady_clock::now();
    Compiled compiled = engine_.compilePolicy(*text, kLabel, context);
    const auto took = std::chrono::steady_clock::now() - start;
    engine_.post([then, compiled, took]() { then(compiled, took); });
  };
  if (urgent) {
    compiles_.submitUrgent(std::move(job));
  } else if (Status s = compiles_.submit(std::move(job)); !s.ok()) {
    then(s, {});
  }
}

void PolicyCommitter::validate(std::string text,
                               std::function<void(Result<ValidateOutcome>)> done) {
  auto context = engine_.policyContext();
  const uint64_t base = store_.current();
  auto current = store_.content(base);
  auto job = [this, text = std::move(text), base, done,
              current_text = current.ok() ? *current : std::string(),
              context = context.ok() ? Result<PolicyContext>(std::move(context).value())
                                     : Result<PolicyContext>(context.status())]() {
    ValidateOutcome out;
    out.base_revision = base;
    Compiled compiled =
        context.ok() ? engine_.compilePolicy(text, kLabel, *context) : Compiled(context.status());
    out.valid = compiled.ok();
    if (!compiled.ok()) out.violations = toViolations(compiled.diagnostics());
    // The diff travels in a proto `string`: text that is not UTF-8 (a violation says where) would
    // make the whole response unreadable to the client.
    if (isUtf8(text)) out.diff = unifiedDiff(current_text, text, revName(base), "proposed");
    engine_.post([done, out]() { done(out); });
  };
  if (Status s = compiles_.submit(std::move(job)); !s.ok()) done(s);
}

Status PolicyCommitter::applyAllowed(uint64_t expected_revision, uint32_t confirm_seconds) const {
  if (confirm_seconds > kMaxConfirmSeconds) {
    return Status::error(StatusCode::kInvalidArgument,
                         "confirm_timeout_seconds " + std::to_string(confirm_seconds) +
                             " is over the limit of " + std::to_string(kMaxConfirmSeconds));
  }
  if (store_.pending()) return pendingRefusal(*store_.pending());
  if (expected_revision != 0 && expected_revision != store_.current()) {
    return Status::error(StatusCode::kAborted,
                         "expected " + revName(expected_revision) + ", but the box is at " +
                             revName(store_.current()) + "; re-read the policy and try again");
  }
  return Status();
}

void PolicyCommitter::apply(std::string text, uint64_t expected_revision, uint32_t confirm_seconds,
                            std::string comment, Caller caller, CommitDone done) {
  if (Status s = applyAllowed(expected_revision, confirm_seconds); !s.ok()) return done(s);
  Text t = std::make_shared<const std::string>(std::move(text));
  compileThen(t, false, [=, this](Compiled compiled, std::chrono::steady_clock::duration took) {
    if (!compiled.ok()) return done(CommitReply::notCompiled(compiled));
    // The box may have moved on while this compiled.
    if (Status s = applyAllowed(expected_revision, confirm_seconds); !s.ok()) return done(s);
    done(commit(*t, std::move(compiled).value(), took, "apply", confirm_seconds, comment, caller));
  });
}

Result<CommitOutcome> PolicyCommitter::commit(const std::string& text,
                                              std::shared_ptr<const CompiledPolicy> compiled,
                                              std::chrono::steady_clock::duration compile_time,
                                              const std::string& action, uint32_t confirm_seconds,
                                              const std::string& comment, const Caller& caller) {
  const uint64_t old = store_.current();
  auto current_text = store_.content(old);
  if (current_text.ok() && *current_text == text && confirm_seconds == 0 && !store_.pending()) {
    auto r = store_.revision(old);
    if (!r.ok()) return r.status();
    CommitOutcome out;
    out.revision = *r;
    out.previous_revision = old;
    out.unchanged = true;
    out.compiled = std::move(compiled);
    out.compile_time = compile_time;
    return out;
  }
  const std::string what = action + " " + revName(store_.next());
  auto r = store_.prepare(text, caller.who, comment, old);
  if (!r.ok()) return refuseUnwritable(r.status(), what);
  // The audit entry before anything takes effect: a change that cannot be audited is not made.
  auto audited = audit_.append(entry(action, old, r->number(), comment, caller));
  if (!audited.ok()) {
    store_.abandon(*r);
    return refuseUnwritable(audited.status(), what);
  }
  r->set_audit_sequence(audited->sequence());
  r->set_audit_hash(audited->hash());
  if (Status s = store_.finish(*r); !s.ok()) {
    return undone(action, r->number(), old, refuseUnwritable(s, what), caller);
  }
  CommitOutcome out;
  out.previous_revision = old;
  out.revision = *r;
  const std::optional<v1::PendingCommit> had_pending = store_.pending();
  // Puts the pending state back as it was before this change (best effort: the write that
  // failed may fail again; boot() copes with either).
  auto restorePending = [&] {
    if (had_pending) {
      store_.setPending(*had_pending);
    } else {
      store_.clearPending();
    }
  };
  if (confirm_seconds > 0) {
    v1::PendingCommit p;
    p.set_revision(r->number());
    p.set_rollback_to(old);
    *p.mutable_deadline() =
        TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(confirm_seconds);
    p.set_author(caller.who);
    // On disk before the revision becomes current: a crash from here on ends in a rollback.
    if (Status s = store_.setPending(p); !s.ok()) {
      return undone(action, r->number(), old, refuseUnwritable(s, what), caller);
    }
    out.pending = p;
  } else if (had_pending) {
    if (Status s = store_.clearPending(); !s.ok()) {
      return undone(action, r->number(), old, refuseUnwritable(s, what), caller);
    }
  }
  if (Status s = store_.setCurrent(r->number()); !s.ok()) {
    restorePending();
    return undone(action, r->number(), old, refuseUnwritable(s, what), caller);
  }
  state_.wrote();
  // The policy compiled for this call: compiling the text again would double the time to a swap
  // (and hold a third policy in memory while it ran).
  auto generation = engine_.applyPolicy(std::move(compiled), compile_time);
  if (!generation.ok()) {
    // The kernel refused: the box still runs `old`. Put the store back to match it.
    store_.setCurrent(old);
    restorePending();
    return undone(action, r->number(), old,
                  generation.status().withContext("installing " + revName(r->number()) + ": "),
                  caller);
  }
  // What was found damaged at boot no longer decides what runs once someone chose a policy.
  if (caller.who != "muzzled") state_.clearDamage();
  deadline_.reset();
  if (confirm_seconds > 0) deadline_ = clock_.now() + std::chrono::seconds(confirm_seconds);
  LogLine line("policy-applied");
  line.add("revision", r->number())
      .add("previous", old)
      .add("action", action)
      .add("by", caller.who)
      .add("generation", *generation);
  if (confirm_seconds > 0) line.add("confirm_within_s", confirm_seconds);
  log_.write(line);
  return out;
}

void PolicyCommitter::rollback(uint64_t to, uint64_t expected_revision, std::string comment,
                               Caller caller, CommitDone done) {
  auto expected = [this, expected_revision]() -> Status {
    if (expected_revision != 0 && expected_revision != store_.current()) {
      return Status::error(StatusCode::kAborted, "expected " + revName(expected_revision) +
                                                     ", but the box is at " +
                                                     revName(store_.current()));
    }
    return Status();
  };
  if (Status s = expected(); !s.ok()) return done(s);
  if (to == 0) {
    if (store_.pending()) {
      to = store_.pending()->rollback_to();
    } else {
      auto cur = store_.revision(store_.current());
      if (!cur.ok()) return done(cur.status());
      to = cur->parent();
      if (to == 0) {
        return done(
            Status::error(StatusCode::kFailedPrecondition,
                          revName(store_.current()) + " has no earlier revision to go back to"));
      }
    }
  }
  auto text = store_.content(to);
  if (!text.ok()) return done(text.status());
  const std::string why = comment.empty() ? "rollback to " + revName(to) : comment;
  Text t = std::make_shared<const std::string>(std::move(text).value());
  compileThen(t, false, [=, this](Compiled compiled, std::chrono::steady_clock::duration took) {
    if (!compiled.ok()) return done(CommitReply::notCompiled(compiled));
    if (Status s = expected(); !s.ok()) return done(s);
    done(commit(*t, std::move(compiled).value(), took, "rollback", 0, why, caller));
  });
}

void PolicyCommitter::edit(TextChange change, std::string action, std::string comment,
                           uint32_t confirm_seconds, Caller caller, CommitDone done) {
  if (Status s = applyAllowed(0, confirm_seconds); !s.ok()) return done(s);
  const uint64_t base = store_.current();
  auto current = store_.content(base);
  if (!current.ok()) return done(current.status());
  auto context = engine_.policyContext();
  if (!context.ok()) return done(context.status());
  // Reading the current policy for the change costs as much as compiling it: both happen off
  // the engine thread.
  auto job = [this, change, action, comment, confirm_seconds, caller, done, base,
              current_text = *current, context = std::move(context).value()]() {
    auto changed = change(current_text);
    if (!changed.ok()) return engine_.post([done, s = changed.status()]() { done(s); });
    auto text = std::make_shared<const std::string>(std::move(changed).value());
    const auto start = std::chrono::steady_clock::now();
    Compiled compiled = engine_.compilePolicy(*text, kLabel, context);
    const auto took = std::chrono::steady_clock::now() - start;
    engine_.post([=, this]() {
      // The lines point into the text the change wrote: the admin's, but for what changed.
      if (!compiled.ok()) return done(CommitReply::notCompiled(compiled));
      if (store_.pending()) return done(pendingRefusal(*store_.pending()));
      if (store_.current() != base) {
        return done(
            Status::error(StatusCode::kAborted, revName(store_.current()) +
                                                    " became current while this change to " +
                                                    revName(base) + " was prepared; try again"));
      }
      done(commit(*text, compiled.value(), took, action, confirm_seconds, comment, caller));
    });
  };
  if (Status s = compiles_.submit(std::move(job)); !s.ok()) done(s);
}

}  // namespace muzzle

// PolicyCommitter::boot(): what the box starts from, and what it does when the state folder is
// damaged or cannot be written. The disk may be full, read-only, torn or corrupted; none of that
// may keep the box from enforcing:
//   - `current` unreadable, torn, or naming a missing revision: start from the newest revision;
//   - `pending` unreadable: roll back as a pending commit would (rollbackTargetOfDamagedPending);
//   - a revision whose metadata does not parse or whose text does not match its sha256: set
//     aside, and its parent (else the next lower number) is tried;
//   - a revision that is intact but no longer compiles (a list file it names is gone, a stricter
//     muzzled): kept in place, reported, and its parent tried the same way;
//   - nothing left: the configured policy file (the seed), as on a fresh box.
// A fallback becomes a new revision (action `fallback`), like every other change. Each problem
// is logged (event=state-damaged ... fallback_revision=N) and listed in the StateReport until an
// admin applies a new revision. When the folder cannot be written, the chosen text runs from
// memory (event=state-unwritable) and changes are refused until it can be written.
#include <unistd.h>

#include <algorithm>
#include <future>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "mgmt/revisions/policy_committer.h"

namespace muzzle {
namespace {

std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

PolicyCommitter::Compiled PolicyCommitter::compileForBoot(const std::string& text) {
  boot_policy_.reset();
  auto context = engine_.policyContext();
  if (!context.ok()) return context.status();
  std::promise<std::pair<Compiled, std::chrono::steady_clock::duration>> done;
  compiles_.submitUrgent([&] {
    const auto start = std::chrono::steady_clock::now();
    Compiled compiled = engine_.compilePolicy(text, kLabel, *context);
    done.set_value({std::move(compiled), std::chrono::steady_clock::now() - start});
  });
  auto [compiled, took] = done.get_future().get();
  if (compiled.ok()) {
    boot_policy_ = *compiled;
    boot_compile_time_ = took;
  }
  return compiled;
}

std::pair<std::shared_ptr<const CompiledPolicy>, std::chrono::steady_clock::duration>
PolicyCommitter::takeBootPolicy() {
  return {std::move(boot_policy_), boot_compile_time_};
}

uint64_t PolicyCommitter::fallbackFrom(uint64_t number) const {
  // The parent is what was current before: the history of what actually ran, skipping
  // revisions that were written but never made current.
  auto meta = store_.revision(number);
  if (meta.ok() && meta->parent() != 0 && meta->parent() < number && store_.has(meta->parent())) {
    return meta->parent();
  }
  const auto& numbers = store_.numbers();
  auto below = std::lower_bound(numbers.begin(), numbers.end(), number);
  return below == numbers.begin() ? 0 : *(below - 1);
}

uint64_t PolicyCommitter::rollbackTargetOfDamagedPending() const {
  // A commit-confirmed apply writes `pending`, then its revision's parent is the old current
  // and the new revision becomes current. If the newest revision is not current and its parent
  // is, the crash came before the switch: stay. Otherwise go back to the current one's parent.
  const uint64_t cur = store_.currentDamaged() ? store_.latest() : store_.current();
  const uint64_t newest = store_.latest();
  if (newest > cur) {
    auto meta = store_.revision(newest);
    if (meta.ok() && meta->parent() == cur) return cur;
  }
  auto meta = store_.revision(cur);
  if (meta.ok() && meta->parent() != 0 && store_.has(meta->parent())) return meta->parent();
  return cur;
}

Status PolicyCommitter::writeBootRevision(const std::string& text, const std::string& action,
                                          const std::string& comment, uint64_t parent) {
  const Caller self{"muzzled", "boot"};
  auto r = store_.prepare(text, self.who, comment, parent);
  if (!r.ok()) return r.status();
  auto audited = audit_.append(entry(action, store_.current(), r->number(), comment, self));
  if (!audited.ok()) {
    store_.abandon(*r);
    return audited.status();
  }
  r->set_audit_sequence(audited->sequence());
  r->set_audit_hash(audited->hash());
  if (Status s = store_.finish(*r); !s.ok()) return s;
  if (store_.pending()) {
    if (Status s = store_.clearPending(); !s.ok()) return s;
  }
  return store_.setCurrent(r->number());
}

void PolicyCommitter::recordInterrupted() {
  // An audit entry for a revision newer than the current one: muzzled stopped between writing
  // the entry and making the revision current. Say so, so the log matches what ran.
  const auto& last = audit_.last();
  if (!last || last->new_revision() <= store_.current()) return;
  const std::string comment = "muzzled stopped before " + revName(last->new_revision()) +
                              " took effect; " + revName(store_.current()) + " stayed current";
  auto appended = audit_.append(entry("interrupted", last->new_revision(), store_.current(),
                                      comment, Caller{"muzzled", "boot"}));
  if (!appended.ok()) {
    log_.write(
        LogLine("audit-error").add("error", appended.status().message()).add("lost", comment));
  }
}

Result<std::string> PolicyCommitter::boot(const std::string& seed_path) {
  std::vector<StateProblem> problems = store_.open();
  audit_.open(store_.anchors());
  // Said at start, not only at the first refused change: a read-only or full folder (a few
  // bytes, so a full disk fails too).
  std::string unwritable;
  for (const StateProblem& p : problems) {
    if (p.kind == StateProblem::Kind::kUnwritable) unwritable = p.problem;
  }
  if (unwritable.empty()) {
    Status probe = writeFileAtomically(store_.stateDir(), ".write-probe", std::string(512, '\n'));
    if (probe.ok()) {
      ::unlink((store_.stateDir() + "/.write-probe").c_str());
    } else {
      unwritable = probe.message();
    }
  }
  if (!unwritable.empty()) {
    state_.add({StateProblem::Kind::kUnwritable, store_.stateDir(),
                unwritable + "; changes are refused until it can be written", ""});
    log_.write(LogLine("state-unwritable")
                   .add("file", store_.stateDir())
                   .add("error", unwritable)
                   .add("what", "enforcing from what can be read; changes are refused")
                   .add("what_to_do", "make the state folder writable and give it free space"));
  }
  std::erase_if(problems,
                [](const StateProblem& p) { return p.kind == StateProblem::Kind::kUnwritable; });
  const AuditChain chain = audit_.read(store_.anchors());
  if (!chain.ok) {
    state_.add({StateProblem::Kind::kAuditBroken, audit_.path(), chain.error, ""});
    log_.write(LogLine("audit-broken")
                   .add("file", audit_.path())
                   .add("error", chain.error)
                   .add("what",
                        "changes are still audited; new entries follow the last "
                        "anchored one, so the gap stays visible"));
  }

  // Where to look first.
  uint64_t start = 0;
  std::string action = "fallback";
  std::string why;
  const std::optional<v1::PendingCommit> pending = store_.pending();
  if (pending) {
    start = pending->rollback_to();
    action = "auto-rollback";
    why = "restart inside the confirmation window of " + revName(pending->revision());
  } else if (store_.pendingDamaged()) {
    start = rollbackTargetOfDamagedPending();
    why = "restart with a damaged pending commit";
  } else {
    start = store_.currentDamaged() ? store_.latest() : store_.current();
  }

  // The newest intact revision from there that compiles.
  uint64_t chosen = 0;
  std::string text;
  for (uint64_t n = start; n != 0;) {
    const uint64_t next = fallbackFrom(n);
    if (std::string damage = store_.damage(n); !damage.empty()) {
      problems.push_back(store_.setAside(n, damage));
      n = next;
      continue;
    }
    auto content = store_.content(n);
    auto compiled = content.ok() ? compileForBoot(*content) : Compiled(content.status());
    if (!compiled.ok()) {
      // Not the state's fault (e.g. a segment's interface is missing): no revision would do.
      if (compiled.status().code() != StatusCode::kInvalidArgument) return compiled.status();
      problems.push_back(
          {StateProblem::Kind::kNotCompiling, store_.policyPath(n),
           revName(n) + " does not compile: " + firstLine(compiled.status().message()), ""});
      n = next;
      continue;
    }
    chosen = n;
    text = std::move(content).value();
    break;
  }
  const bool fell_back = !problems.empty() || store_.currentDamaged();
  if (chosen == 0) {
    // Nothing stored can run: the configured policy, as on a fresh box.
    auto seed = readRegularFile(seed_path);
    if (!seed.ok()) return seed.status().withContext("seeding revision 1: ");
    if (auto c = compileForBoot(*seed); !c.ok()) {
      return c.status().withContext(seed_path + ": ");
    }
    text = std::move(seed).value();
    if (!fell_back && !pending) action = "seed";
  }
  if (!fell_back && !pending && chosen != 0 && chosen == store_.current()) {
    if (chain.ok) recordInterrupted();
    return text;  // the normal start: nothing to write
  }
  const std::string running = chosen != 0 ? revName(chosen) : "the configured policy " + seed_path;
  std::string comment = action == "seed" ? "from " + seed_path : why;
  if (fell_back) {
    comment += (comment.empty() ? "" : "; ") + std::to_string(problems.size()) +
               " problem(s) in the state folder, falling back to " + running;
  }

  // A new revision says what runs now; the folder may refuse it, then it runs from memory.
  const uint64_t old = store_.current();
  Status written = writeBootRevision(text, action, comment, chosen);
  if (written.ok()) {
    state_.wrote();
  } else {
    store_.assumeCurrent(chosen);
    store_.forgetPending();
    state_.add({StateProblem::Kind::kUnwritable, store_.stateDir(),
                written.message() + "; running " + running +
                    " from memory, and changes are refused until it can be written",
                ""});
    log_.write(LogLine("state-unwritable")
                   .add("file", store_.stateDir())
                   .add("error", written.message())
                   .add("running", running)
                   .add("what_to_do", "make the state folder writable and give it free space"));
  }
  if (action == "auto-rollback") {
    log_.write(LogLine("policy-rolled-back")
                   .add("revision", store_.current())
                   .add("from", old)
                   .add("to_text_of", chosen)
                   .add("reason", why));
  }
  for (StateProblem& p : problems) {
    LogLine line("state-damaged");
    line.add("file", p.file)
        .add("problem", p.problem)
        .add("kept_as", p.kept_as)
        .add("fallback_revision", chosen)
        .add("running", written.ok() ? revName(store_.current()) : running + " from memory");
    if (chosen == 0) line.add("fallback_policy", seed_path);
    log_.write(line);
    state_.add(std::move(p));
  }
  if (fell_back) state_.setFallbackRevision(chosen);
  return text;
}

}  // namespace muzzle

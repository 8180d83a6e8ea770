#include "mgmt/revisions/policy_committer.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cctype>

#include "fw/common/atomic_file.h"
#include "fw/common/utf8.h"
#include "fw/config/yaml_proto.h"
#include "mgmt/revisions/text_diff.h"

namespace muzzle {
namespace {

using google::protobuf::util::TimeUtil;

std::string revName(uint64_t n) { return "revision " + std::to_string(n); }

}  // namespace

std::vector<v1::Violation> parseViolations(const std::string& message, std::string_view label) {
  std::vector<v1::Violation> out;
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find('\n', start);
    if (end == std::string::npos) end = message.size();
    std::string_view line(message.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    v1::Violation v;
    std::string_view rest = line;
    if (rest.substr(0, label.size()) == label && rest.size() > label.size() && rest[label.size()] == ':') {
      v.set_file(std::string(label));
      rest.remove_prefix(label.size() + 1);
      size_t digits = 0;
      while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
      if (digits > 0 && digits < rest.size() && rest[digits] == ':') {
        v.set_line(static_cast<uint32_t>(std::stoul(std::string(rest.substr(0, digits)))));
        rest.remove_prefix(digits + 1);
      }
      if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      // "field: message" when the first word is a field path (no spaces) followed by ": ".
      size_t colon = rest.find(": ");
      if (colon != std::string_view::npos && rest.substr(0, colon).find(' ') == std::string_view::npos) {
        v.set_field(std::string(rest.substr(0, colon)));
        rest.remove_prefix(colon + 2);
      }
    }
    v.set_message(std::string(rest));
    out.push_back(std::move(v));
  }
  return out;
}

PolicyCommitter::PolicyCommitter(EngineControl& engine, RevisionStore& store, AuditLog& audit,
                                 EventLog& log, const Clock& clock)
    : engine_(engine), store_(store), audit_(audit), log_(log), clock_(clock) {}

void PolicyCommitter::record(const std::string& action, uint64_t old_rev, uint64_t new_rev,
                             const std::string& comment, const Caller& caller) {
  v1::AuditEntry e;
  e.set_who(caller.who);
  e.set_peer(caller.peer);
  e.set_action(action);
  e.set_old_revision(old_rev);
  e.set_new_revision(new_rev);
  e.set_comment(comment);
  auto appended = audit_.append(std::move(e));
  if (!appended.ok()) {
    // The change happened; losing its audit line must at least be loud.
    log_.write(LogLine("audit-error").add("error", appended.status().message()));
  }
}

Result<std::string> PolicyCommitter::boot(const std::string& seed_path) {
  if (Status s = store_.open(); !s.ok()) return s;
  if (Status s = audit_.open(); !s.ok()) return s;
  const Caller self{"muzzled", "boot"};
  if (store_.pending()) {
    // A crash or reboot inside a confirmation window: the change was never confirmed.
    const v1::PendingCommit p = *store_.pending();
    auto text = store_.content(p.rollback_to());
    if (!text.ok()) return text.status().withContext("rolling back the unconfirmed commit: ");
    const uint64_t old = store_.current();
    auto r = store_.add(*text, self.who, "restart inside the confirmation window of " + revName(p.revision()), p.rollback_to());
    if (!r.ok()) return r.status();
    if (Status s = store_.setCurrent(r->number()); !s.ok()) return s;
    if (Status s = store_.clearPending(); !s.ok()) return s;
    record("auto-rollback", old, r->number(), "restart inside the confirmation window", self);
    log_.write(LogLine("policy-rolled-back").add("revision", r->number()).add("from", old)
                   .add("to_text_of", p.rollback_to()).add("reason", "restart inside the confirmation window"));
    return std::move(text).value();
  }
  if (store_.current() != 0) return store_.content(store_.current());
  auto seed = readWholeFile(seed_path);
  if (!seed.ok()) return seed.status().withContext("seeding revision 1: ");
  auto r = store_.add(*seed, self.who, "seeded from " + seed_path, 0);
  if (!r.ok()) return r.status();
  if (Status s = store_.setCurrent(r->number()); !s.ok()) return s;
  record("seed", 0, r->number(), "from " + seed_path, self);
  return std::move(seed).value();
}

ValidateOutcome PolicyCommitter::validate(std::string_view text) {
  ValidateOutcome out;
  out.base_revision = store_.current();
  auto compiled = engine_.checkPolicyText(text, kLabel);
  out.valid = compiled.ok();
  if (!compiled.ok()) out.violations = parseViolations(compiled.status().message(), kLabel);
  // The diff travels in a proto `string`: text that is not UTF-8 (a violation says where) would
  // make the whole response unreadable to the client.
  if (!isUtf8(text)) return out;
  auto current = store_.content(store_.current());
  out.diff = unifiedDiff(current.ok() ? *current : "", text, revName(out.base_revision), "proposed");
  return out;
}

Result<CommitOutcome> PolicyCommitter::commit(std::string_view text, const std::string& action,
                                              uint32_t confirm_seconds, const std::string& comment,
                                              const Caller& caller) {
  const uint64_t old = store_.current();
  const auto compile_start = clock_.now();
  auto compiled = engine_.checkPolicyText(text, kLabel);
  if (!compiled.ok()) return compiled.status();
  const auto compile_time = clock_.now() - compile_start;
  auto current_text = store_.content(old);
  if (current_text.ok() && *current_text == text && confirm_seconds == 0 && !store_.pending()) {
    auto r = store_.revision(old);
    if (!r.ok()) return r.status();
    CommitOutcome out;
    out.revision = *r;
    out.previous_revision = old;
    out.unchanged = true;
    out.compiled = std::move(compiled).value();
    out.compile_time = compile_time;
    return out;
  }
  auto r = store_.add(text, caller.who, comment, old);
  if (!r.ok()) return r.status();
  CommitOutcome out;
  out.previous_revision = old;
  out.revision = *r;
  const std::optional<v1::PendingCommit> had_pending = store_.pending();
  if (confirm_seconds > 0) {
    v1::PendingCommit p;
    p.set_revision(r->number());
    p.set_rollback_to(old);
    *p.mutable_deadline() = TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(confirm_seconds);
    p.set_author(caller.who);
    // On disk before the revision becomes current: a crash from here on ends in a rollback.
    if (Status s = store_.setPending(p); !s.ok()) return s;
    out.pending = p;
  } else if (had_pending) {
    if (Status s = store_.clearPending(); !s.ok()) return s;
  }
  if (Status s = store_.setCurrent(r->number()); !s.ok()) return s;
  // The policy checked above: compiling the text again would double the time to a swap (and
  // hold a third policy in memory while it ran).
  auto generation = engine_.applyPolicy(std::move(compiled).value(), compile_time);
  if (!generation.ok()) {
    // The kernel refused: the box still runs `old`. Put the store back to match it.
    store_.setCurrent(old);
    if (had_pending) {
      store_.setPending(*had_pending);
    } else {
      store_.clearPending();
    }
    return generation.status().withContext("installing " + revName(r->number()) + ": ");
  }
  deadline_.reset();
  if (confirm_seconds > 0) deadline_ = clock_.now() + std::chrono::seconds(confirm_seconds);
  record(action, old, r->number(), comment, caller);
  LogLine line("policy-applied");
  line.add("revision", r->number()).add("previous", old).add("action", action).add("by", caller.who)
      .add("generation", *generation);
  if (confirm_seconds > 0) line.add("confirm_within_s", confirm_seconds);
  log_.write(line);
  return out;
}

Result<CommitOutcome> PolicyCommitter::apply(std::string_view text, uint64_t expected_revision,
                                             uint32_t confirm_seconds, const std::string& comment,
                                             const Caller& caller) {
  if (confirm_seconds > kMaxConfirmSeconds) {
    return Status::error(StatusCode::kInvalidArgument,
                         "confirm_timeout_seconds " + std::to_string(confirm_seconds) +
                             " is over the limit of " + std::to_string(kMaxConfirmSeconds));
  }
  if (store_.pending()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         revName(store_.pending()->revision()) + " awaits confirmation; confirm "
                         "or roll it back first");
  }
  if (expected_revision != 0 && expected_revision != store_.current()) {
    return Status::error(StatusCode::kAborted, "expected " + revName(expected_revision) +
                                                   ", but the box is at " + revName(store_.current()) +
                                                   "; re-read the policy and try again");
  }
  return commit(text, "apply", confirm_seconds, comment, caller);
}

Result<v1::Revision> PolicyCommitter::confirm(uint64_t revision, const Caller& caller) {
  if (!store_.pending()) {
    return Status::error(StatusCode::kFailedPrecondition, "no commit awaits confirmation");
  }
  const v1::PendingCommit p = *store_.pending();
  if (revision != 0 && revision != p.revision()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         revName(revision) + " is not pending; " + revName(p.revision()) + " is");
  }
  if (Status s = store_.clearPending(); !s.ok()) return s;
  deadline_.reset();
  record("confirm", p.revision(), p.revision(), "", caller);
  log_.write(LogLine("policy-confirmed").add("revision", p.revision()).add("by", caller.who));
  return store_.revision(p.revision());
}

Result<CommitOutcome> PolicyCommitter::rollback(uint64_t to, uint64_t expected_revision,
                                                const std::string& comment, const Caller& caller) {
  if (expected_revision != 0 && expected_revision != store_.current()) {
    return Status::error(StatusCode::kAborted, "expected " + revName(expected_revision) +
                                                   ", but the box is at " + revName(store_.current()));
  }
  if (to == 0) {
    if (store_.pending()) {
      to = store_.pending()->rollback_to();
    } else {
      auto cur = store_.revision(store_.current());
      if (!cur.ok()) return cur.status();
      to = cur->parent();
      if (to == 0) {
        return Status::error(StatusCode::kFailedPrecondition,
                             revName(store_.current()) + " has no earlier revision to go back to");
      }
    }
  }
  auto text = store_.content(to);
  if (!text.ok()) return text.status();
  std::string why = comment.empty() ? "rollback to " + revName(to) : comment;
  return commit(*text, "rollback", 0, why, caller);
}

Result<v1::Policy> PolicyCommitter::currentPolicy() const {
  auto text = store_.content(store_.current());
  if (!text.ok()) return text.status();
  v1::Policy policy;
  if (Status s = yamlToProto(*text, kLabel, &policy, nullptr); !s.ok()) return s;
  return policy;
}

Result<CommitOutcome> PolicyCommitter::edit(const std::function<Status(v1::Policy*)>& change,
                                            const std::string& action, const std::string& comment,
                                            const Caller& caller) {
  if (store_.pending()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         revName(store_.pending()->revision()) + " awaits confirmation; confirm "
                         "or roll it back first");
  }
  auto policy = currentPolicy();
  if (!policy.ok()) return policy.status();
  if (Status s = change(&policy.value()); !s.ok()) return s;
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(*policy, &json, options).ok()) {
    return Status::error("cannot encode the edited policy");
  }
  return commit(json, action, 0, comment, caller);
}

void PolicyCommitter::tick() {
  if (!store_.pending()) return;
  if (!deadline_) {
    // Pending but no timer: cannot happen after boot() (which resolves a pending commit), but
    // never leave a window open forever.
    deadline_ = clock_.now();
  }
  if (clock_.now() < *deadline_) return;
  const v1::PendingCommit p = *store_.pending();
  auto text = store_.content(p.rollback_to());
  const Caller self{"muzzled", "timer"};
  Result<CommitOutcome> done = text.ok() ? commit(*text, "auto-rollback", 0,
                                                  revName(p.revision()) + " was not confirmed in time", self)
                                         : Result<CommitOutcome>(text.status());
  if (!done.ok()) {
    log_.write(LogLine("rollback-failed").add("error", done.status().message()));
    deadline_ = clock_.now() + std::chrono::seconds(1);  // try again soon
    return;
  }
  log_.write(LogLine("policy-rolled-back").add("revision", done->revision.number())
                 .add("from", p.revision()).add("to_text_of", p.rollback_to())
                 .add("reason", "not confirmed in time"));
}

}  // namespace muzzle

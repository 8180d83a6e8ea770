// muzzlectl policy validate|diff|apply|confirm|rollback|history|show: policies and revisions.
#include "fw/common/confined_file.h"
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/duration.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

struct PolicyArgs {
  std::string file, confirm, comment;
  uint64_t expect = 0, revision = 0;
};

// The file is read while parsing, so a bad one is a usage error before any box is asked.
std::string readPolicyFile(const std::string& path) {
  auto text = readRegularFile(path);
  if (!text.ok()) throw CLI::ValidationError("FILE", text.status().message());
  return *text;
}

std::string revName(uint64_t n) { return "revision " + std::to_string(n); }

Outcome validate(const Call& call, const std::string& text, bool diff_only) {
  v1::ValidatePolicyRequest req;
  req.set_content(text);
  v1::ValidatePolicyResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::ValidatePolicy, req, &r);
  if (!o.status.ok()) return o;
  if (!r.valid()) {
    for (const auto& v : r.violations()) o.human += violationLine(v) + "\n";
    o.summary = std::to_string(r.violations_size()) +
                " error(s), first: " + (r.violations_size() ? r.violations(0).message() : "");
    o.exit = kExitInvalid;
    return o;
  }
  o.summary = r.diff().empty() ? "valid, same as " + revName(r.base_revision())
                               : "valid, differs from " + revName(r.base_revision());
  o.human = diff_only
                ? (r.diff().empty() ? "no difference from " + revName(r.base_revision()) + "\n"
                                    : r.diff())
                : o.summary + "\n" + r.diff();
  return o;
}

Outcome apply(const Call& call, const std::string& text, uint32_t confirm_s, const PolicyArgs& a) {
  v1::ApplyPolicyRequest req;
  req.set_content(text);
  req.set_expected_revision(a.expect);
  req.set_confirm_timeout_seconds(confirm_s);
  req.set_comment(a.comment);
  v1::ApplyPolicyResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::ApplyPolicy, req, &r);
  if (!o.status.ok()) return o;
  if (r.unchanged()) {
    o.summary = "unchanged (" + revName(r.revision().number()) + ")";
  } else {
    o.summary = revName(r.previous_revision()) + " -> " + std::to_string(r.revision().number());
    if (r.has_pending()) o.summary += ", confirm by " + timeText(r.pending().deadline());
  }
  o.human = o.summary + "\n";
  return o;
}

Outcome confirm(const Call& call, uint64_t revision) {
  v1::ConfirmCommitRequest req;
  req.set_revision(revision);
  v1::ConfirmCommitResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::ConfirmCommit, req, &r);
  if (!o.status.ok()) return o;
  o.summary = revName(r.revision().number()) + " confirmed";
  o.human = o.summary + "\n";
  return o;
}

Outcome rollback(const Call& call, const PolicyArgs& a) {
  v1::RollbackRequest req;
  req.set_revision(a.revision);
  req.set_expected_revision(a.expect);
  req.set_comment(a.comment);
  v1::RollbackResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::Rollback, req, &r);
  if (!o.status.ok()) return o;
  o.summary = revName(r.previous_revision()) + " -> " + std::to_string(r.revision().number()) +
              " (" + r.revision().comment() + ")";
  o.human = o.summary + "\n";
  return o;
}

Outcome history(const Call& call) {
  v1::ListRevisionsResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::ListRevisions, {}, &r);
  if (!o.status.ok()) return o;
  std::vector<std::vector<std::string>> rows;
  for (const auto& x : r.revisions()) {
    rows.push_back({std::to_string(x.number()) + (x.number() == r.current() ? "*" : ""),
                    timeText(x.created()), x.author(), std::to_string(x.parent()),
                    x.sha256().substr(0, 12), x.comment()});
  }
  o.human = table({"revision", "created", "author", "parent", "sha256", "comment"}, rows);
  o.summary = "current " + std::to_string(r.current()) + ", " + std::to_string(r.revisions_size()) +
              " kept";
  return o;
}

Outcome show(const Call& call, uint64_t revision) {
  v1::GetPolicyRequest req;
  req.set_revision(revision);
  v1::GetPolicyResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::GetPolicy, req, &r);
  if (!o.status.ok()) return o;
  o.human = r.content();
  o.summary = revName(r.revision().number()) + " sha256 " + r.revision().sha256().substr(0, 12);
  return o;
}

}  // namespace

void addPolicyCommands(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<PolicyArgs>();
  auto* policy = app.add_subcommand("policy", "policies and revisions")->require_subcommand(1);

  auto* validate_cmd =
      policy->add_subcommand("validate", "dry run: check FILE against the box, show the diff");
  auto* diff_cmd =
      policy->add_subcommand("diff", "show how FILE differs from the box's current revision");
  for (auto* sub : {validate_cmd, diff_cmd}) {
    sub->add_option("FILE", args->file)->required()->check(CLI::ExistingFile);
    const bool diff_only = sub == diff_cmd;
    sub->callback([&invocation, args, diff_only] {
      invocation.command = [text = readPolicyFile(args->file), diff_only](const Call& call) {
        return validate(call, text, diff_only);
      };
    });
  }

  auto* apply_cmd =
      policy->add_subcommand("apply", "make FILE the current policy (a new revision)");
  apply_cmd->add_option("FILE", args->file)->required()->check(CLI::ExistingFile);
  auto* confirm_opt = apply_cmd->add_option(
      "--confirm", args->confirm, "roll back by itself unless confirmed within this (90s, 5m, 1h)");
  apply_cmd->add_option("--expect", args->expect,
                        "refuse (exit 4) unless the box is at this revision");
  apply_cmd->add_option("--comment", args->comment, "why, for the audit log");
  apply_cmd->callback([&invocation, args, confirm_opt] {
    uint32_t confirm_s = 0;
    if (confirm_opt->count() > 0) {
      auto seconds = parseDuration("--confirm", args->confirm);
      if (!seconds.ok()) throw CLI::ValidationError(seconds.status().message());
      confirm_s = *seconds;
    }
    invocation.command = [text = readPolicyFile(args->file), confirm_s,
                          a = *args](const Call& call) { return apply(call, text, confirm_s, a); };
  });

  auto* confirm_cmd = policy->add_subcommand("confirm", "confirm the pending commit");
  confirm_cmd->add_option("REVISION", args->revision,
                          "refuse unless this revision is the pending one");
  confirm_cmd->callback([&invocation, args] {
    invocation.command = [revision = args->revision](const Call& call) {
      return confirm(call, revision);
    };
  });

  auto* rollback_cmd =
      policy->add_subcommand("rollback", "go back to REVISION (default: the previous one)");
  rollback_cmd->add_option("REVISION", args->revision);
  rollback_cmd->add_option("--expect", args->expect,
                           "refuse (exit 4) unless the box is at this revision");
  rollback_cmd->add_option("--comment", args->comment);
  rollback_cmd->callback([&invocation, args] {
    invocation.command = [a = *args](const Call& call) { return rollback(call, a); };
  });

  policy->add_subcommand("history", "the kept revisions, newest first (* = current)")
      ->callback([&invocation] { invocation.command = history; });

  auto* show_cmd =
      policy->add_subcommand("show", "print a revision's text (default: the current one)");
  show_cmd->add_option("REVISION", args->revision);
  show_cmd->callback([&invocation, args] {
    invocation.command = [revision = args->revision](const Call& call) {
      return show(call, revision);
    };
  });

  addPolicyExplainCommand(*policy, invocation);
}

}  // namespace muzzle::ctl

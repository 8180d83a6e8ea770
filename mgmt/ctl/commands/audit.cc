// muzzlectl audit [--verify]: the audit log of every change, and its hash chain.
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

Outcome audit(const Call& call, bool verify) {
  v1::GetAuditLogResponse r;
  Outcome o = ask(call, &v1::PolicyService::Stub::GetAuditLog, {}, &r);
  if (!o.status.ok()) return o;
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.entries()) {
    rows.push_back({std::to_string(e.sequence()), timeText(e.time()), e.who(), e.peer(), e.action(),
                    std::to_string(e.old_revision()) + " -> " + std::to_string(e.new_revision()),
                    e.comment()});
  }
  o.human =
      verify ? "" : table({"#", "time", "who", "from", "action", "revision", "comment"}, rows);
  if (r.chain_ok()) {
    o.summary = "chain verifies (" + std::to_string(r.entries_size()) + " entries)";
  } else {
    o.summary = "chain BROKEN: " + r.chain_error();
    if (verify) o.exit = kExitAuditBroken;
  }
  if (verify || !r.chain_ok()) o.human += o.summary + "\n";
  return o;
}

}  // namespace

void addAuditCommand(CLI::App& app, Invocation& invocation) {
  auto verify = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("audit", "the audit log of every change");
  sub->add_flag("--verify", *verify, "check the hash chain only (exit 9 if broken)");
  sub->callback([&invocation, verify] {
    invocation.command = [verify = *verify](const Call& call) { return audit(call, verify); };
  });
}

}  // namespace muzzle::ctl

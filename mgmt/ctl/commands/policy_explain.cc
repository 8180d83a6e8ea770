// muzzlectl policy explain DEVICE: the rules a device gets, in the order they are tried, each
// with the file and line it was written on (the site's policy or a preset file).
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

Outcome explain(const Call& call, const std::string& device) {
  auto stub = v1::PolicyService::NewStub(call.channel);
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::ExplainPolicyRequest req;
  req.set_device(device);
  v1::ExplainPolicyResponse r;
  grpc::Status s = stub->ExplainPolicy(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  std::string why = r.assignment();
  if (!r.assigned_by().empty()) why += " by " + r.assigned_by();
  o.summary = r.mac() + (r.name().empty() ? "" : " (" + r.name() + ")") + ": profile " +
              r.profile() + (r.preset().empty() ? "" : " (preset " + r.preset() + ")") + ", " + why;
  std::vector<std::vector<std::string>> rows;
  for (const auto& rule : r.rules()) {
    rows.push_back({rule.label(), rule.action(), rule.rule(),
                    rule.file() + (rule.line() ? ":" + std::to_string(rule.line()) : "")});
  }
  rows.push_back({"otherwise", r.otherwise(), "anything no rule matched", "-"});
  o.human = o.summary + ", revision " + std::to_string(r.revision()) + "\n" +
            table({"rule", "action", "as written", "from"}, rows);
  return o;
}

}  // namespace

void addPolicyExplainCommand(CLI::App& policy, Invocation& invocation) {
  auto device = std::make_shared<std::string>();
  auto* cmd = policy.add_subcommand(
      "explain", "the rules DEVICE gets, in order, each with the file and line it came from");
  cmd->add_option("DEVICE", *device, "an Ethernet address or a device's name in the policy")
      ->required();
  cmd->callback([&invocation, device] {
    invocation.command = [d = *device](const Call& call) { return explain(call, d); };
  });
}

}  // namespace muzzle::ctl

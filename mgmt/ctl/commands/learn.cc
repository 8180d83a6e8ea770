// muzzlectl learn: learning mode (proto/muzzle/v1/learn.proto).
//   learn start MAC --for 24h [--observe]   record what the device attempts (operator)
//   learn stop MAC                          end the session now; the record stays (operator)
//   learn show MAC                          the session and its flows (viewer)
//   learn propose MAC [--profile NAME] [--apply [--confirm 10m] [--expect N]]
//                                           the proposed profile as a diff, with the findings;
//                                           --apply makes it a revision (admin)
#include "mgmt/ctl/commands/apply_flags.h"
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/duration.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/learn.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

struct LearnArgs {
  std::string mac, duration, profile;
  bool observe = false;
  ApplyFlags flags;  // learn propose
};

std::string sessionText(const v1::LearnSession& s) {
  std::string out = s.mac() + (s.active() ? " learning" : " not learning") +
                    (s.observe() ? " (observe: allowed all its profile does not deny)" : "") +
                    ", since " + timeText(s.start()) + (s.active() ? ", until " : ", ended ") +
                    timeText(s.end());
  if (s.evictions() > 0) out += ", " + std::to_string(s.evictions()) + " flows pushed out by the bound";
  return out;
}

Outcome sessionOutcome(const grpc::Status& s, const v1::LearnSession& r) {
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  o.summary = sessionText(r);
  o.human = o.summary + "\n";
  return o;
}

Outcome start(const Call& call, uint32_t seconds, const LearnArgs& a) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::StartLearningRequest req;
  req.set_mac(a.mac);
  req.set_duration_seconds(seconds);
  req.set_observe(a.observe);
  v1::LearnSession r;
  return sessionOutcome(v1::LearnService::NewStub(call.channel)->StartLearning(&ctx, req, &r), r);
}

Outcome stop(const Call& call, const LearnArgs& a) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::StopLearningRequest req;
  req.set_mac(a.mac);
  v1::LearnSession r;
  return sessionOutcome(v1::LearnService::NewStub(call.channel)->StopLearning(&ctx, req, &r), r);
}

Outcome show(const Call& call, const LearnArgs& a) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::ShowLearningRequest req;
  req.set_mac(a.mac);
  v1::ShowLearningResponse r;
  grpc::Status s = v1::LearnService::NewStub(call.channel)->ShowLearning(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  std::vector<std::vector<std::string>> rows;
  for (const v1::LearnedFlow& f : r.flows()) {
    rows.push_back({f.direction(), f.target(), f.proto(), f.port() ? std::to_string(f.port()) : "-",
                    std::to_string(f.count()), timeText(f.first_seen()), timeText(f.last_seen()),
                    f.verdict()});
  }
  o.summary = sessionText(r.session()) + ", " + std::to_string(r.flows_size()) + " flows";
  o.human = o.summary + "\n" +
            table({"direction", "to", "proto", "port", "count", "first", "last", "verdict"}, rows);
  return o;
}

Outcome propose(const Call& call, uint32_t confirm_s, const LearnArgs& a) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::ProposeProfileRequest req;
  req.set_mac(a.mac);
  req.set_profile(a.profile);
  req.set_apply(a.flags.apply);
  req.set_expected_revision(a.flags.expect);
  req.set_confirm_timeout_seconds(confirm_s);
  req.set_comment(a.flags.comment);
  v1::ProposeProfileResponse r;
  grpc::Status s = v1::LearnService::NewStub(call.channel)->ProposeProfile(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  std::string text = "profile " + r.profile() + (r.replaced() ? " (replaced)" : " (added)") +
                     " from " + std::to_string(r.flows_used()) + " learned flows (" +
                     std::to_string(r.flows_covered()) + " already allowed)\n";
  if (r.findings_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const v1::LearnFinding& f : r.findings()) {
      rows.push_back({f.kind(), f.target(), f.proto(), f.port() ? std::to_string(f.port()) : "-",
                      std::to_string(f.count()), f.why()});
    }
    text += "findings (never allowed by the proposal; decide on each yourself):\n" +
            table({"kind", "to", "proto", "port", "count", "why"}, rows);
  }
  for (const auto& v : r.violations()) text += violationLine(v) + "\n";
  text += r.diff();
  summarizeApply(r, a.flags, "the proposal does not compile", &o);
  o.human = text + o.summary + "\n";
  return o;
}

}  // namespace

void addLearnCommands(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<LearnArgs>();
  auto* learn = app.add_subcommand("learn", "learning mode: record a device, propose its profile")
                    ->require_subcommand(1);

  auto* start_cmd = learn->add_subcommand("start", "record every flow the device attempts");
  start_cmd->add_option("MAC", args->mac)->required();
  start_cmd->add_option("--for", args->duration, "how long (90m, 24h; at most 30 days)")->required();
  start_cmd->add_flag("--observe", args->observe,
                      "allow what the profile does not explicitly deny while learning (loud)");
  start_cmd->callback([&invocation, args] {
    auto seconds = parseDuration("--for", args->duration);
    if (!seconds.ok()) throw CLI::ValidationError(seconds.status().message());
    if (*seconds == 0) throw CLI::ValidationError("--for", "a session lasts at least 1s");
    invocation.command = [s = *seconds, a = *args](const Call& call) { return start(call, s, a); };
  });

  auto* stop_cmd = learn->add_subcommand("stop", "end the device's session now (its record stays)");
  stop_cmd->add_option("MAC", args->mac)->required();
  stop_cmd->callback([&invocation, args] {
    invocation.command = [a = *args](const Call& call) { return stop(call, a); };
  });

  auto* show_cmd = learn->add_subcommand("show", "what the device was seen attempting");
  show_cmd->add_option("MAC", args->mac)->required();
  show_cmd->callback([&invocation, args] {
    invocation.command = [a = *args](const Call& call) { return show(call, a); };
  });

  auto* propose_cmd = learn->add_subcommand(
      "propose", "the profile its record suggests, as a diff, with the findings");
  propose_cmd->add_option("MAC", args->mac)->required();
  propose_cmd->add_option("--profile", args->profile,
                          "the profile to write (default: the device's own)");
  auto* confirm_opt =
      addApplyFlags(propose_cmd, &args->flags, "make the proposal a new revision (role admin)");
  propose_cmd->callback([&invocation, args, confirm_opt] {
    const uint32_t confirm_s = confirmSeconds(confirm_opt, args->flags);
    invocation.command = [confirm_s, a = *args](const Call& call) {
      return propose(call, confirm_s, a);
    };
  });
}

}  // namespace muzzle::ctl

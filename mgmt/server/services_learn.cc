// LearnService: learning mode (fw/learn) over the API. Start, stop and show go to the engine
// (EngineControl); a proposal is built on the engine thread from the device's recorded flows and
// the current revision's profile, placed in the policy text (fw/mud/policy_text.h, through
// fw/learn/proposal.h), and previewed or, for an admin, applied through the PolicyCommitter like
// any policy change (revision, audit, commit-confirmed). Roles: viewer shows, operator starts,
// stops and previews, admin applies.
#include "fw/config/yaml_proto.h"
#include "fw/learn/proposal.h"
#include "fw/policy/policy_syntax.h"
#include "mgmt/revisions/text_diff.h"
#include "mgmt/server/service_calls.h"
#include "muzzle/v1/learn.grpc.pb.h"

namespace muzzle {
namespace {

google::protobuf::Timestamp timestamp(int64_t unix_seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_seconds);
  return t;
}

v1::LearnSession toProto(const LearnSession& s) {
  v1::LearnSession out;
  out.set_mac(s.mac.toString());
  *out.mutable_start() = timestamp(s.start_unix);
  *out.mutable_end() = timestamp(s.end_unix);
  out.set_observe(s.observe);
  out.set_active(s.active);
  out.set_evictions(s.evictions);
  return out;
}

std::string protoName(uint8_t p) {
  switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    default: return std::to_string(p);
  }
}

v1::LearnedFlow toProto(const LearnedFlow& f) {
  v1::LearnedFlow out;
  out.set_direction(directionName(f.key.direction));
  out.set_by_name(!f.key.name.empty());
  out.set_target(f.key.name.empty() ? f.key.address.toString() : f.key.name);
  out.set_proto(protoName(f.key.protocol));
  out.set_port(f.key.port);
  out.set_count(f.count);
  *out.mutable_first_seen() = timestamp(f.first_seen_unix);
  *out.mutable_last_seen() = timestamp(f.last_seen_unix);
  out.set_verdict(actionName(f.verdict));
  out.set_address(f.last_address.toString());
  return out;
}

Result<MacAddress> macOf(const std::string& text) {
  auto mac = MacAddress::parse(text);
  if (!mac) {
    return Status::error(StatusCode::kInvalidArgument,
                         "mac: " + inQuotes(text) + " is not an Ethernet address (44:47:cc:12:34:56)");
  }
  return *mac;
}

// What a proposal builds on (the profile the device has now: its rules decided what was
// recorded) and the profile it writes: the one asked for, else the device's own, never the
// policy's default (a proposal for one device must not widen every unlisted device).
struct ProfileChoice {
  std::string base;
  std::string target;
};
Result<ProfileChoice> profileFor(EngineControl& engine, MacAddress mac, const std::string& asked) {
  if (!asked.empty() && !isValidName(asked)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "profile: " + inQuotes(asked) +
                             " is not a profile name (letters, digits, '_', '.', '-')");
  }
  ProfileChoice choice;
  for (const DeviceRecord& d : engine.devicesSeen()) {
    if (d.mac != mac) continue;
    choice.base = d.profile;
    if (asked.empty() && d.assignment != "default") choice.target = d.profile;
  }
  if (!asked.empty()) choice.target = asked;
  if (choice.target.empty()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         mac.toString() + " has no profile of its own (it gets the default); name "
                                          "the profile to write with --profile");
  }
  return choice;
}

class LearnServiceImpl final : public v1::LearnService::CallbackService {
 public:
  explicit LearnServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* StartLearning(grpc::CallbackServerContext* ctx,
                                          const v1::StartLearningRequest* req,
                                          v1::LearnSession* resp) override {
    return serve(deps_, ctx, Role::kOperator, "start learning", [this, req, resp](const Principal&) {
      auto mac = macOf(req->mac());
      if (!mac.ok()) return mac.status();
      Status s = deps_.engine.startLearning(*mac, std::chrono::seconds(req->duration_seconds()),
                                            req->observe());
      if (!s.ok()) return s;
      auto report = deps_.engine.learnReport(*mac);
      if (!report.ok()) return report.status();
      *resp = toProto(report->session);
      return Status();
    });
  }

  grpc::ServerUnaryReactor* StopLearning(grpc::CallbackServerContext* ctx,
                                         const v1::StopLearningRequest* req,
                                         v1::LearnSession* resp) override {
    return serve(deps_, ctx, Role::kOperator, "stop learning", [this, req, resp](const Principal&) {
      auto mac = macOf(req->mac());
      if (!mac.ok()) return mac.status();
      Status s = deps_.engine.stopLearning(*mac);
      if (!s.ok()) return s;
      auto report = deps_.engine.learnReport(*mac);
      if (!report.ok()) return report.status();
      *resp = toProto(report->session);
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ShowLearning(grpc::CallbackServerContext* ctx,
                                         const v1::ShowLearningRequest* req,
                                         v1::ShowLearningResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "show learning", [this, req, resp](const Principal&) {
      auto mac = macOf(req->mac());
      if (!mac.ok()) return mac.status();
      auto report = deps_.engine.learnReport(*mac);
      if (!report.ok()) return report.status();
      *resp->mutable_session() = toProto(report->session);
      for (const LearnedFlow& f : report->flows) *resp->add_flows() = toProto(f);
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ProposeProfile(grpc::CallbackServerContext* ctx,
                                           const v1::ProposeProfileRequest* req,
                                           v1::ProposeProfileResponse* resp) override {
    const bool apply = req->apply();
    return serveLater(
        deps_, ctx, roleToProposeProfile(apply),
        apply ? "apply learning proposals" : "preview learning proposals",
        [this, req, resp, apply](const Principal& p, Finish finish) {
          auto mac = macOf(req->mac());
          if (!mac.ok()) return finish(mac.status());
          auto report = deps_.engine.learnReport(*mac);
          if (!report.ok()) return finish(report.status());
          auto profile = profileFor(deps_.engine, *mac, req->profile());
          if (!profile.ok()) return finish(profile.status());
          RevisionStore& store = deps_.commits.store();
          const uint64_t base = store.current();
          auto current = store.content(base);
          if (!current.ok()) return finish(current.status());
          v1::Policy policy;
          if (Status s = yamlToProto(*current, "revision " + std::to_string(base), &policy, nullptr);
              !s.ok()) {
            return finish(s);
          }
          auto found = policy.profiles().find(profile->base);
          const v1::Profile* existing = found != policy.profiles().end() ? &found->second : nullptr;
          // The box's addresses and resolvers, to tell DNS to the box from DNS elsewhere (none
          // before the first install: then every address is treated as elsewhere).
          auto installed = deps_.engine.installedPolicy();
          ProposalContext context;
          if (installed) {
            context.box_addresses = &installed->box_addresses;
            if (installed->dns.enabled) context.resolvers = &installed->dns.resolvers;
          }
          const Proposal proposal = proposeProfile(report->flows, existing, context);
          auto placed = proposalText(*current, profile->target, proposal);
          if (!placed.ok()) return finish(placed.status());
          resp->set_profile(profile->target);
          resp->set_flows_covered(proposal.flows_covered);
          resp->set_replaced(placed->replaced);
          resp->set_flows_used(proposal.flows_used);
          for (const Finding& f : proposal.findings) {
            v1::LearnFinding* out = resp->add_findings();
            out->set_kind(findingKindName(f.kind));
            out->set_target(f.target);
            out->set_proto(f.proto);
            out->set_port(f.port);
            out->set_count(f.count);
            out->set_why(f.why);
          }
          resp->set_base_revision(base);
          resp->set_diff(unifiedDiff(*current, placed->text, "revision " + std::to_string(base),
                                     "with the proposal for " + mac->toString()));
          previewOrApply(deps_, p, *req, apply, placed->text, base,
                         "learning proposal for " + mac->toString(), resp, finish);
        });
  }

 private:
  ServiceDeps& deps_;
};

}  // namespace

Role roleToProposeProfile(bool apply) { return apply ? Role::kAdmin : Role::kOperator; }

std::unique_ptr<grpc::Service> makeLearnService(ServiceDeps& deps) {
  return std::make_unique<LearnServiceImpl>(deps);
}

}  // namespace muzzle

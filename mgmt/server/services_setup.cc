// SetupService: naming the segments and the uplink of an idle box (proto/muzzle/v1/
// management.proto). ListInterfaces (viewer) and Setup (admin) run on the engine thread like
// every handler; on an idle box nothing else runs there, so the one policy compile a setup
// makes (the choice is refused before anything is stored if its policy does not compile) holds
// no packet back. The choice is stored in state_dir (setup_file.h: /etc is read-only to
// muzzled under the shipped unit), then handed to the idle phase (idle_box.h), which answers
// once the box enforces it.
#include "fw/common/atomic_file.h"
#include "fw/engine/setup_check.h"
#include "fw/policy/policy_loader.h"
#include "mgmt/server/idle_box.h"
#include "mgmt/server/sandbox.h"
#include "mgmt/server/service_calls.h"

namespace muzzle {

void toNetworkInterface(const HostInterface& h, v1::NetworkInterface* out) {
  out->set_name(h.name);
  out->set_mac(h.mac);
  out->set_up(h.up);
  for (const std::string& a : h.addresses) out->add_addresses(a);
  out->set_kind(kindName(h.kind));
  out->set_default_route(h.default_route);
}

namespace {

// The management listeners the config keeps: a segment must not carry one.
std::vector<ManagementListener> listenersOf(const DaemonConfig& config) {
  std::vector<ManagementListener> out;
  const v1::Management& m = config.management;
  if (!m.tcp().listen().empty()) out.push_back({"management.tcp.listen", m.tcp().listen()});
  if (!m.metrics().listen().empty()) {
    out.push_back({"management.metrics.listen", m.metrics().listen()});
  }
  if (!m.web().listen().empty()) out.push_back({"management.web.listen", m.web().listen()});
  return out;
}

// Why this box takes no setup: its segments come from somewhere already.
Status notIdle(const DaemonConfig& config) {
  const std::string setup_file = config.state_dir + "/" + kSetupFileName;
  if (config.segments_from == setup_file) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "this box already enforces the segments `muzzlectl setup` named (kept "
                         "in " + setup_file + "); to choose again, remove that file and restart "
                         "muzzled, or name the segments in the daemon config");
  }
  return Status::error(StatusCode::kFailedPrecondition,
                       "the segments are named in " + config.segments_from +
                           ", which wins over `muzzlectl setup`: edit them there and restart "
                           "muzzled");
}

class SetupServiceImpl final : public v1::SetupService::CallbackService {
 public:
  explicit SetupServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* ListInterfaces(grpc::CallbackServerContext* ctx,
                                           const v1::ListInterfacesRequest*,
                                           v1::ListInterfacesResponse* resp) override {
    return serve(
        deps_, ctx, Role::kViewer, "list the interfaces",
        [resp](const Principal&) -> Status {
          for (const HostInterface& h : listHostInterfaces()) {
            toNetworkInterface(h, resp->add_interfaces());
          }
          return Status();
        },
        Needs::kAnyBox);
  }

  grpc::ServerUnaryReactor* Setup(grpc::CallbackServerContext* ctx, const v1::SetupRequest* req,
                                  v1::SetupResponse* resp) override {
    // The address a TCP caller comes from: a segment holding it would cut the caller off. None
    // over the unix socket or in-process.
    const std::optional<IpAddress> caller = peerAddress(ctx->peer());
    return serveLater(
        deps_, ctx, Role::kAdmin, "set up the box",
        [this, req, resp, caller](const Principal& p, const Finish& finish) {
          setup(p, *req, caller, resp, finish);
        },
        Needs::kAnyBox);
  }

 private:
  void setup(const Principal& p, const v1::SetupRequest& req, std::optional<IpAddress> caller,
             v1::SetupResponse* resp, const Finish& finish) {
    const DaemonConfig& config = deps_.engine.config();
    if (deps_.idle == nullptr) return finish(notIdle(config));
    if (deps_.idle->handingOver()) {
      return finish(Status::error(StatusCode::kFailedPrecondition,
                                  "a setup is already being carried out; see `muzzlectl status`"));
    }
    SetupAsked asked;
    for (const v1::SetupSegment& s : req.segments()) {
      asked.segments.push_back(DaemonSegment{s.name(), s.interface()});
    }
    asked.uplinks.assign(req.uplinks().begin(), req.uplinks().end());
    auto checked = checkSetup(asked, listHostInterfaces(), listenersOf(config), caller);
    if (!checked.ok()) return finish(checked.status());

    // The first policy: the caller's, or the shipped starter. Compiled now (without site facts,
    // as `muzzled --check-policy` does), so a policy that cannot run is refused before
    // anything is stored.
    SetupChoice choice{checked->segments, checked->uplinks, ""};
    const std::string policy_file = config.state_dir + "/" + kSetupPolicyFileName;
    if (req.policy_text().empty()) {
      choice.policy_path = config.shipped_policies_dir + "/" + kStarterPolicy;
      auto compiled = compilePolicyFile(choice.policy_path, SiteFacts{},
                                        config.shipped_policies_dir, config.preset_dirs);
      if (!compiled.ok()) {
        return finish(Status::error(StatusCode::kFailedPrecondition,
                                    "policy: the starter policy cannot be used: " +
                                        compiled.status().message() +
                                        "\n(give a policy: muzzlectl setup --policy FILE)"));
      }
    } else {
      choice.policy_path = policy_file;
      auto compiled = compilePolicyText(
          req.policy_text(), "policy_text", SiteFacts{},
          PolicyFolders(config.state_dir, config.shipped_policies_dir, config.preset_dirs));
      if (!compiled.ok()) {
        return finish(compiled.status().withCode(StatusCode::kInvalidArgument));
      }
    }
    for (const DaemonSegment& s : choice.segments) {
      v1::SetupSegment* out = resp->add_segments();
      out->set_name(s.name);
      out->set_interface(s.ifname);
    }
    for (const std::string& u : choice.uplinks) resp->add_uplinks(u);
    resp->set_policy(choice.policy_path);
    resp->set_setup_file(config.state_dir + "/" + kSetupFileName);
    for (const std::string& w : checked->warnings) resp->add_warnings(w);
    if (req.dry_run()) return finish(Status());

    // Stored before the box acts on it, each file whole or not at all (atomic_file.h): the policy
    // first, so a setup.yaml on disk always names a policy that is there.
    if (!req.policy_text().empty()) {
      if (Status s = writeFileAtomically(config.state_dir, kSetupPolicyFileName, req.policy_text());
          !s.ok()) {
        return finish(Status::error(StatusCode::kFailedPrecondition,
                                    "the setup cannot be stored: " + s.message() +
                                        " (state_dir must be writable by muzzled)"));
      }
    }
    if (Status s = writeFileAtomically(config.state_dir, kSetupFileName, setupFileText(choice));
        !s.ok()) {
      return finish(Status::error(StatusCode::kFailedPrecondition,
                                  "the setup cannot be stored: " + s.message() +
                                      " (state_dir must be writable by muzzled)"));
    }
    deps_.idle->enforce(std::move(choice), p.who + " (" + p.peer + ")",
                        [resp, finish](Result<SetupDone> done) {
                          if (!done.ok()) return finish(done.status());
                          resp->set_enforcing(done->enforcing);
                          resp->set_policy_revision(done->policy_revision);
                          finish(Status());
                        });
  }

  ServiceDeps& deps_;
};

}  // namespace

std::unique_ptr<grpc::Service> makeSetupService(ServiceDeps& deps) {
  return std::make_unique<SetupServiceImpl>(deps);
}

}  // namespace muzzle

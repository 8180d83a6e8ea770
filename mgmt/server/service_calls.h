// What every management handler does first (mgmt/server/services*.cc): identify the caller,
// check its role, then run the work on the engine thread and finish the reactor from there.
// Internal to mgmt/server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fw/engine/setup_check.h"
#include "mgmt/server/convert.h"
#include "mgmt/server/services.h"

namespace muzzle {

// Ends one unary call with a status; a policy refused for not compiling also sends its
// violations in the error details (toGrpc). Copyable; call it once.
class Finish {
 public:
  explicit Finish(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}
  void operator()(const Status& s) const { reactor_->Finish(toGrpc(s)); }
  void operator()(const Status& s, const std::vector<v1::Violation>& violations) const {
    reactor_->Finish(toGrpc(s, violations));
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
};

// Ends a call that applied a policy through the PolicyCommitter (ApplyPolicy, and ImportMud and
// ProposeProfile with apply): a policy refused for not compiling with its violations; else the
// new revision, the one it replaced, whether nothing changed and the pending commit, and `valid`
// where the response has it (the previews' answers do).
template <typename Response>
void finishApply(const CommitReply& reply, Response* resp, const Finish& finish) {
  const Result<CommitOutcome>& c = reply.outcome;
  if (!c.ok()) return finish(c.status(), reply.violations);
  if constexpr (requires { resp->set_valid(true); }) resp->set_valid(true);
  *resp->mutable_revision() = c->revision;
  resp->set_previous_revision(c->previous_revision);
  resp->set_unchanged(c->unchanged);
  if (c->pending) *resp->mutable_pending() = *c->pending;
  finish(Status());
}

// What a call needs of the box besides a role. While the box is idle (ServiceDeps::idle), a call
// that needs an enforcing box (policies, devices, learning, MUD: everything that reads or
// changes what is judged) is refused with kIdleRefusal; status, setup and the interfaces work.
enum class Needs { kEnforcingBox, kAnyBox };
inline constexpr char kIdleRefusal[] = "idle: no segment configured; run muzzlectl setup";

// Authorizes, then runs `work(principal, finish)` on the engine thread; `work` calls `finish`
// once, on the engine thread, at once or after a compile (PolicyCommitter).
template <typename Work>
grpc::ServerUnaryReactor* serveLater(ServiceDeps& deps, grpc::CallbackServerContext* ctx, Role need,
                                     const char* what, Work work,
                                     Needs needs = Needs::kEnforcingBox) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto principal = deps.auth.identifyCall(*ctx);
  if (!principal.ok()) {
    reactor->Finish(toGrpc(principal.status()));
    return reactor;
  }
  if (principal->role < need) {
    reactor->Finish(toGrpc(Status::error(StatusCode::kPermissionDenied,
                                         std::string("role ") + roleName(principal->role) + " (" +
                                             principal->who + ") may not " + what + "; it needs " +
                                             roleName(need))));
    return reactor;
  }
  // Read without the engine thread: `idle` is set before the server starts and never changes
  // while it serves (the enforcing box has a server of its own).
  if (needs == Needs::kEnforcingBox && deps.idle != nullptr) {
    reactor->Finish(toGrpc(Status::error(StatusCode::kFailedPrecondition, kIdleRefusal)));
    return reactor;
  }
  deps.engine.post([reactor, work = std::move(work), p = std::move(principal).value()]() mutable {
    work(p, Finish(reactor));
  });
  return reactor;
}

// Authorizes, then runs `work(principal)` on the engine thread and finishes with its status.
template <typename Work>
grpc::ServerUnaryReactor* serve(ServiceDeps& deps, grpc::CallbackServerContext* ctx, Role need,
                                const char* what, Work work, Needs needs = Needs::kEnforcingBox) {
  return serveLater(
      deps, ctx, need, what,
      [work = std::move(work)](const Principal& p, const Finish& finish) mutable {
        finish(work(p));
      },
      needs);
}

inline Caller callerOf(const Principal& p) { return Caller{p.who, p.peer}; }

// The end of a call that proposes a policy text (ImportMud, ProposeProfile): without `apply` a
// dry run that answers `valid` and the violations; with it, an apply through the PolicyCommitter
// (at the request's expected revision, else at `base`, the revision the text was made from) with
// the request's comment, else `default_comment`, in the audit log.
template <typename Request, typename Response>
void previewOrApply(ServiceDeps& deps, const Principal& p, const Request& req, bool apply,
                    const std::string& text, uint64_t base, const std::string& default_comment,
                    Response* resp, const Finish& finish) {
  if (!apply) {
    deps.commits.validate(text, [resp, finish](Result<ValidateOutcome> v) {
      if (!v.ok()) return finish(v.status());
      resp->set_valid(v->valid);
      for (const auto& x : v->violations) *resp->add_violations() = x;
      finish(Status());
    });
    return;
  }
  deps.commits.apply(text, req.expected_revision() ? req.expected_revision() : base,
                     req.confirm_timeout_seconds(),
                     req.comment().empty() ? default_comment : req.comment(), callerOf(p),
                     [resp, finish](CommitReply reply) { finishApply(reply, resp, finish); });
}

// The services of services_policy.cc and services_devices.cc; `deps` must outlive them.
std::unique_ptr<grpc::Service> makePolicyService(ServiceDeps& deps);
std::unique_ptr<grpc::Service> makeDeviceService(ServiceDeps& deps);
std::unique_ptr<grpc::Service> makeMudService(ServiceDeps& deps);  // services_mud.cc
// The role ImportMud needs: a preview reads (viewer), an apply changes the policy (admin).
Role roleToImportMud(bool apply);
// ListMudProposals reads (viewer); ApplyMudProposal changes the policy (admin).
Role roleToListMudProposals();
Role roleToApplyMudProposal();
std::unique_ptr<grpc::Service> makeLearnService(ServiceDeps& deps);  // services_learn.cc
std::unique_ptr<grpc::Service> makeWebService(ServiceDeps& deps);    // services_web.cc
std::unique_ptr<grpc::Service> makeSetupService(ServiceDeps& deps);  // services_setup.cc
// An interface as the API shows it (GetStatus while idle, ListInterfaces).
void toNetworkInterface(const HostInterface& h, v1::NetworkInterface* out);
// The role ProposeProfile needs: a preview (operator: it reads what a device did), an apply
// changes the policy (admin).
Role roleToProposeProfile(bool apply);

}  // namespace muzzle

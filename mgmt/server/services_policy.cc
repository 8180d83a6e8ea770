// PolicyService: reading, validating, applying, confirming and rolling back revisions, and the
// audit log. Each handler hands the work to the PolicyCommitter (mgmt/revisions/).
#include "mgmt/revisions/policy_explain.h"
#include "mgmt/server/service_calls.h"

namespace muzzle {
namespace {

Status fillValidate(const ValidateOutcome& v, v1::ValidatePolicyResponse* resp) {
  resp->set_valid(v.valid);
  for (const auto& x : v.violations) *resp->add_violations() = x;
  resp->set_base_revision(v.base_revision);
  resp->set_diff(v.diff);
  return Status();
}

void finishRollback(const CommitReply& reply, v1::RollbackResponse* resp, const Finish& finish) {
  const Result<CommitOutcome>& c = reply.outcome;
  if (!c.ok()) return finish(c.status(), reply.violations);
  *resp->mutable_revision() = c->revision;
  resp->set_previous_revision(c->previous_revision);
  finish(Status());
}

class PolicyService final : public v1::PolicyService::CallbackService {
 public:
  explicit PolicyService(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                      const v1::GetPolicyRequest* req,
                                      v1::GetPolicyResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read the policy",
                 [this, req, resp](const Principal&) -> Status {
                   RevisionStore& store = deps_.commits.store();
                   const uint64_t n = req->revision() ? req->revision() : store.current();
                   auto rev = store.revision(n);
                   if (!rev.ok()) return rev.status();
                   auto text = store.content(n);
                   if (!text.ok()) return text.status();
                   *resp->mutable_revision() = *rev;
                   resp->set_content(*text);
                   if (deps_.commits.pending()) *resp->mutable_pending() = *deps_.commits.pending();
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* ListRevisions(grpc::CallbackServerContext* ctx,
                                          const v1::ListRevisionsRequest*,
                                          v1::ListRevisionsResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "list revisions",
                 [this, resp](const Principal&) -> Status {
                   for (auto& r : deps_.commits.store().list())
                     *resp->add_revisions() = std::move(r);
                   resp->set_current(deps_.commits.current());
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* ctx,
                                           const v1::ValidatePolicyRequest* req,
                                           v1::ValidatePolicyResponse* resp) override {
    return serveLater(deps_, ctx, Role::kViewer, "validate policies",
                      [this, req, resp](const Principal&, Finish finish) {
                        deps_.commits.validate(
                            req->content(), [resp, finish](Result<ValidateOutcome> v) {
                              finish(v.ok() ? fillValidate(*v, resp) : v.status());
                            });
                      });
  }

  grpc::ServerUnaryReactor* ApplyPolicy(grpc::CallbackServerContext* ctx,
                                        const v1::ApplyPolicyRequest* req,
                                        v1::ApplyPolicyResponse* resp) override {
    return serveLater(deps_, ctx, Role::kAdmin, "apply policies",
                      [this, req, resp](const Principal& p, Finish finish) {
                        deps_.commits.apply(req->content(), req->expected_revision(),
                                            req->confirm_timeout_seconds(), req->comment(),
                                            callerOf(p), [resp, finish](CommitReply reply) {
                                              finishApply(reply, resp, finish);
                                            });
                      });
  }

  grpc::ServerUnaryReactor* ConfirmCommit(grpc::CallbackServerContext* ctx,
                                          const v1::ConfirmCommitRequest* req,
                                          v1::ConfirmCommitResponse* resp) override {
    return serve(deps_, ctx, Role::kOperator, "confirm commits",
                 [this, req, resp](const Principal& p) -> Status {
                   auto r = deps_.commits.confirm(req->revision(), callerOf(p));
                   if (!r.ok()) return r.status();
                   *resp->mutable_revision() = *r;
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const v1::RollbackRequest* req,
                                     v1::RollbackResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "roll back",
                      [this, req, resp](const Principal& p, Finish finish) {
                        deps_.commits.rollback(
                            req->revision(), req->expected_revision(), req->comment(), callerOf(p),
                            [resp, finish](CommitReply reply) {
                              finishRollback(reply, resp, finish);
                            });
                      });
  }

  grpc::ServerUnaryReactor* GetAuditLog(grpc::CallbackServerContext* ctx,
                                        const v1::GetAuditLogRequest*,
                                        v1::GetAuditLogResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read the audit log",
                 [this, resp](const Principal&) -> Status {
                   AuditChain chain = deps_.commits.auditChain();
                   for (auto& e : chain.entries) *resp->add_entries() = std::move(e);
                   resp->set_chain_ok(chain.ok);
                   resp->set_chain_error(chain.error);
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* ExplainPolicy(grpc::CallbackServerContext* ctx,
                                          const v1::ExplainPolicyRequest* req,
                                          v1::ExplainPolicyResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "explain policies",
                 [this, req, resp](const Principal&) -> Status {
                   auto explained = explainDevice(*deps_.engine.installedPolicy(),
                                                  deps_.engine.devicesSeen(), req->device());
                   if (!explained.ok()) return explained.status();
                   *resp = std::move(explained).value();
                   resp->set_revision(deps_.commits.current());
                   return Status();
                 });
  }

 private:
  ServiceDeps& deps_;
};

}  // namespace

std::unique_ptr<grpc::Service> makePolicyService(ServiceDeps& deps) {
  return std::make_unique<PolicyService>(deps);
}

}  // namespace muzzle

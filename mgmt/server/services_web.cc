// WebService: the web console's local accounts (proto/muzzle/v1/web.proto). Admin only. The
// accounts live in the console (mgmt/web/accounts.h, state_dir/web-users); a changed or removed
// account's sessions end at once. Hashing a password (yescrypt) takes a few tens of
// milliseconds, done on the gRPC thread that took the call — never on the engine thread.
#include "mgmt/server/service_calls.h"
#include "mgmt/web/console.h"
#include "muzzle/v1/web.grpc.pb.h"

namespace muzzle {
namespace {

class WebServiceImpl final : public v1::WebService::CallbackService {
 public:
  explicit WebServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* SetWebUser(grpc::CallbackServerContext* ctx,
                                       const v1::SetWebUserRequest* req,
                                       v1::WebUser* resp) override {
    return now(ctx, "add web console users", [&](const Principal& p) -> Status {
      auto role = parseRole(req->role());
      if (!role.ok()) return role.status();
      if (Status s = deps_.web->accounts().set(req->name(), *role, req->password()); !s.ok()) {
        return s;
      }
      deps_.web->sessions().endAccount(req->name());
      log(LogLine("web-user-set").add("user", req->name()).add("role", roleName(*role)), p);
      resp->set_name(req->name());
      resp->set_role(roleName(*role));
      return Status();
    });
  }

  grpc::ServerUnaryReactor* RemoveWebUser(grpc::CallbackServerContext* ctx,
                                          const v1::RemoveWebUserRequest* req,
                                          v1::RemoveWebUserResponse*) override {
    return now(ctx, "remove web console users", [&](const Principal& p) -> Status {
      if (Status s = deps_.web->accounts().remove(req->name()); !s.ok()) return s;
      deps_.web->sessions().endAccount(req->name());
      log(LogLine("web-user-removed").add("user", req->name()), p);
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ListWebUsers(grpc::CallbackServerContext* ctx,
                                         const v1::ListWebUsersRequest*,
                                         v1::ListWebUsersResponse* resp) override {
    return now(ctx, "list web console users", [&](const Principal&) -> Status {
      for (const web::Account& a : deps_.web->accounts().list()) {
        v1::WebUser* u = resp->add_users();
        u->set_name(a.name);
        u->set_role(roleName(a.role));
      }
      return Status();
    });
  }

 private:
  // Authorizes (admin) and runs `work` on this gRPC thread: the accounts have their own lock
  // and no engine state is touched.
  template <typename Work>
  grpc::ServerUnaryReactor* now(grpc::CallbackServerContext* ctx, const char* what, Work work) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    auto principal = deps_.auth.identifyCall(*ctx);
    Status s;
    if (!principal.ok()) {
      s = principal.status();
    } else if (principal->role < Role::kAdmin) {
      s = Status::error(StatusCode::kPermissionDenied,
                        std::string("role ") + roleName(principal->role) + " (" + principal->who +
                            ") may not " + what + "; it needs admin");
    } else if (deps_.web == nullptr) {
      s = Status::error(StatusCode::kUnavailable,
                        "the web console is off: set management.web.listen in muzzled.yaml");
    } else {
      s = work(*principal);
    }
    reactor->Finish(toGrpc(s));
    return reactor;
  }

  void log(LogLine line, const Principal& p) {
    deps_.web->log(std::move(line.add("by", p.who).add("peer", p.peer)));
  }

  ServiceDeps& deps_;
};

}  // namespace

std::unique_ptr<grpc::Service> makeWebService(ServiceDeps& deps) {
  return std::make_unique<WebServiceImpl>(deps);
}

}  // namespace muzzle

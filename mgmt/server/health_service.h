// HealthService: the standard grpc.health.v1.Health, for the server as a whole (service "").
// Check answers SERVING while muzzled runs, NOT_SERVING once it is stopping; another service
// name is NOT_FOUND. Watch sends the status, then holds the stream until the client leaves or
// muzzled stops; each Watch takes a StreamQuota slot like WatchEvents, so health streams cannot
// hold memory without bound either.
//
// Who may call is settled before a call gets here: peer credentials on the unix socket
// (UnixListener), a client certificate with a role over TCP (TcpCallGate). Handlers run on gRPC
// threads, touch no engine state and never block.
#pragma once

#include <atomic>
#include <mutex>
#include <set>

#include "grpc/health/v1/health.grpc.pb.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/stream_quota.h"

namespace muzzle {

class HealthWatch;

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // "*auth" and "*quota" must outlive the service.
  HealthService(Authorizer& auth, StreamQuota& quota) : auth_(auth), quota_(quota) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req) override;

  // NOT_SERVING from now on; ends every Watch (UNAVAILABLE). For shutdown.
  void stop();

 private:
  Authorizer& auth_;
  StreamQuota& quota_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::set<HealthWatch*> watches_;
};

}  // namespace muzzle

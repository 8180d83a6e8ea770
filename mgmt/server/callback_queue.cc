#include "mgmt/server/callback_queue.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

namespace muzzle {

void holdCallbackQueue() {
  // Never destroyed (a reachable pointer, not a leak): its reference is the point. No ports: it
  // serves nothing.
  static grpc::Server* const keeper = [] {
    static grpc::CallbackGenericService generic;
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&generic);
    return builder.BuildAndStart().release();
  }();
  (void)keeper;
}

}  // namespace muzzle

// holdCallbackQueue(): keeps gRPC's process-wide callback queue alive for the whole test program.
//
// gRPC 1.51 (Debian 12) serves the callback API from one process-wide completion queue when its
// I/O manager does not poll in the background, as on Linux here: the queue is made with the first
// server or channel that uses it and torn down (its threads joined, the queue freed) when the last
// one goes. Tests that start and destroy a server per case run that teardown between cases, and
// it races inside gRPC with the queue's own threads: "assertion failed: prior > 0" or, under ASan,
// a double free of the queue, in a gRPC thread, in whichever case runs next. A server that lives
// as long as the program keeps the count above zero, so the teardown runs once, at exit.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

namespace muzzle::testing {

inline void holdCallbackQueue() {
  // Never destroyed (a reachable pointer, not a leak): its reference is the point.
  static grpc::Server* const keeper = [] {
    static grpc::CallbackGenericService generic;
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&generic);
    return builder.BuildAndStart().release();
  }();
  (void)keeper;
}

}  // namespace muzzle::testing

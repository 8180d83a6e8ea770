// Every management service on a real gRPC server on a unix socket (a local admin: no role
// checks get in the way), over a test Box whose fake engine runs posted work on the test's
// thread. call() runs one call on another thread while the test's thread plays the engine
// thread until it is answered, as muzzled's engine thread would.
#pragma once

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "mgmt/server/callback_queue.h"
#include "mgmt/server/idle_box.h"
#include "mgmt/server/service_calls.h"
#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle::testing {

class LocalApi {
 public:
  // `box` (booted or not) and `clock` must outlive it; the socket is `dir`/s.sock. `mud`: the
  // MUD manager the proposal calls use (null: they answer UNAVAILABLE).
  // `idle`: the box is idle (mgmt/server/idle_box.h), as muzzled with no segment serves it.
  LocalApi(Box& box, const std::string& dir, const Clock& clock, MudManager* mud = nullptr,
           IdleBox* idle = nullptr)
      : box_(box), address_("unix:" + dir + "/s.sock") {
    holdCallbackQueue();  // this server goes at the end of the case (callback_queue.h)
    auto a = Authorizer::create(v1::TcpListener{}, "");
    REQUIRE(a.ok());
    auth_ = std::move(a).value();
    ServiceDeps deps{box.engine, box.commits, events_, *auth_, clock,
                     std::chrono::steady_clock::now()};
    deps.mud = mud;
    deps.idle = idle;
    services_ = std::make_unique<ManagementServices>(deps);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    for (grpc::Service* s : services_->services()) builder.RegisterService(s);
    server_ = builder.BuildAndStart();
    REQUIRE(server_);
  }
  ~LocalApi() { server_->Shutdown(std::chrono::system_clock::now()); }
  LocalApi(const LocalApi&) = delete;
  LocalApi& operator=(const LocalApi&) = delete;

  // A client of `Service` (e.g. v1::MudService) on the socket.
  template <typename Service>
  std::unique_ptr<typename Service::Stub> stub() const {
    return Service::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  // The server's in-process channel (the web console's way in), and its Authorizer (to give it
  // the console's key).
  std::shared_ptr<grpc::Channel> inProcessChannel() const {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }
  Authorizer& auth() { return *auth_; }
  EventRing& events() { return events_; }

  // `f(grpc::ClientContext&)` makes the call (a deadline of kPatience is set) and answers its
  // status.
  template <typename F>
  grpc::Status call(F f) {
    auto done = std::async(std::launch::async, [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kPatience);
      return f(ctx);
    });
    box_.engine.runUntil(
        [&] { return done.wait_for(std::chrono::milliseconds(1)) == std::future_status::ready; });
    return done.get();
  }

 private:
  Box& box_;
  const std::string address_;
  EventRing events_;
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<ManagementServices> services_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace muzzle::testing

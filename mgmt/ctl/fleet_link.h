// What `muzzlectl fleet apply` gives the rollout procedure (mgmt/fleet/rollout.h): a BoxLink over
// a box's gRPC channel, and a Sleeper that a signal can stop.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "mgmt/fleet/rollout.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {

// One box over its channel (client.h connect()). Every call has its own deadline, `timeout`
// from now; a call that fails keeps the box's message on one line, with the code: kUnavailable
// when the box could not be reached or did not answer in time (UNAVAILABLE,
// DEADLINE_EXCEEDED), the box's own code otherwise (INVALID_ARGUMENT for a policy that does not
// compile, FAILED_PRECONDITION for a commit pending, ...). Used by one thread at a time (the
// rollout's contract); the channel may be shared.
class GrpcBoxLink : public fleet::BoxLink {
 public:
  GrpcBoxLink(std::shared_ptr<grpc::Channel> channel, std::chrono::seconds timeout);

  // GetStatus: denied = every queue's rejected + dropped; queues = the queue ranges bound.
  Result<fleet::BoxSample> sample() override;
  // GetPolicy of the current revision.
  Result<Policy> policy() override;
  // ApplyPolicy with expected_revision 0 (whatever runs: the fleet directory is the truth).
  Result<fleet::Applied> apply(const std::string& text, uint32_t confirm_seconds,
                               const std::string& comment) override;
  Status confirm(uint64_t revision) override;
  // WatchEvents without follow: reads what the box holds after (epoch, sequence), then the
  // stream ends by itself. Gaps (events the buffer no longer holds) are passed over: the gate
  // checks the running revision separately, which catches a restart.
  Result<bool> policyErrorSince(uint64_t epoch, uint64_t sequence) override;

 private:
  void prepare(grpc::ClientContext& ctx) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::chrono::seconds timeout_;
  std::unique_ptr<v1::StatusService::Stub> status_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  std::unique_ptr<v1::EventService::Stub> events_;
};

// Really sleeps, until stop(): then every sleep, current or later, returns false at once.
// stop() may be called from any thread (a signal-watching thread; never a signal handler).
class StoppableSleeper : public fleet::Sleeper {
 public:
  bool sleepFor(std::chrono::milliseconds d) override;
  void stop();
  bool stopped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

// A gRPC failure as a muzzle Status (see GrpcBoxLink); `what` names the call ("GetStatus").
Status statusOf(const grpc::Status& s, const std::string& what);

}  // namespace muzzle::ctl

#include "mgmt/server/health_service.h"

#include <functional>

#include "mgmt/server/convert.h"

namespace muzzle {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

Status checkService(const HealthCheckRequest& req) {
  if (req.service().empty()) return Status();
  return Status::error(
      StatusCode::kNotFound,
      "muzzled reports health for the server as a whole: ask for service \"\", not \"" +
          req.service() + "\"");
}

}  // namespace

// One Watch stream: the status once, then nothing until the client leaves or muzzled stops.
class HealthWatch final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  HealthWatch(StreamQuota::Lease lease, std::function<void(HealthWatch*, bool)> registry)
      : lease_(std::move(lease)), registry_(std::move(registry)) {
    registry_(this, true);  // before mu_: stop() takes the registry's lock, then mu_
    std::lock_guard<std::mutex> lock(mu_);
    msg_.set_status(HealthCheckResponse::SERVING);
    in_flight_ = true;
    StartWrite(&msg_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = false;
    if (!ok) finishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
    if (!stop_reason_.empty())
      finishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, stop_reason_));
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    finishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    registry_(this, false);
    delete this;  // the lease goes with it
  }

  void stop(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    stop_reason_ = why;
    // A write in flight finishes first: Finish must not overtake it.
    if (!in_flight_) finishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, why));
  }

 private:
  void finishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  StreamQuota::Lease lease_;
  std::function<void(HealthWatch*, bool)> registry_;
  std::mutex mu_;
  HealthCheckResponse msg_;
  std::string stop_reason_;
  bool in_flight_ = false;
  bool finished_ = false;
};

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const HealthCheckRequest* req,
                                               HealthCheckResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The listeners already let only authorised callers through; this holds should they not.
  auto principal = auth_.identifyCall(*ctx);
  Status refused = principal.ok() ? checkService(*req) : principal.status();
  if (!refused.ok()) {
    reactor->Finish(toGrpc(refused));
    return reactor;
  }
  resp->set_status(stopping_ ? HealthCheckResponse::NOT_SERVING : HealthCheckResponse::SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* ctx, const HealthCheckRequest* req) {
  struct Refusal : grpc::ServerWriteReactor<HealthCheckResponse> {
    explicit Refusal(const grpc::Status& s) { Finish(s); }
    void OnDone() override { delete this; }
  };
  auto principal = auth_.identifyCall(*ctx);
  Status refused = principal.ok() ? checkService(*req) : principal.status();
  if (refused.ok() && stopping_)
    refused = Status::error(StatusCode::kUnavailable, "muzzled is stopping");
  if (!refused.ok()) return new Refusal(toGrpc(refused));
  auto lease = quota_.acquire(clientOf(*principal));
  if (!lease.ok()) return new Refusal(toGrpc(lease.status()));
  return new HealthWatch(std::move(lease).value(), [this](HealthWatch* w, bool add) {
    std::lock_guard<std::mutex> lock(mu_);
    if (add) {
      watches_.insert(w);
    } else {
      watches_.erase(w);
    }
  });
}

void HealthService::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  for (HealthWatch* w : watches_) w->stop("muzzled is stopping");
}

}  // namespace muzzle

#include "mgmt/ctl/fleet_link.h"

#include <grpcpp/client_context.h>

#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {
namespace {

// Progress and the state file hold one line per box: a multi-line message (a policy's errors)
// is joined with "; ".
std::string oneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n') {
      out += "; ";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

}  // namespace

Status statusOf(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return Status();
  StatusCode code = StatusCode::kUnknown;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: code = StatusCode::kUnavailable; break;
    case grpc::StatusCode::INVALID_ARGUMENT: code = StatusCode::kInvalidArgument; break;
    case grpc::StatusCode::NOT_FOUND: code = StatusCode::kNotFound; break;
    case grpc::StatusCode::ABORTED: code = StatusCode::kAborted; break;
    case grpc::StatusCode::FAILED_PRECONDITION: code = StatusCode::kFailedPrecondition; break;
    case grpc::StatusCode::PERMISSION_DENIED: code = StatusCode::kPermissionDenied; break;
    case grpc::StatusCode::UNAUTHENTICATED: code = StatusCode::kUnauthenticated; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = StatusCode::kResourceExhausted; break;
    default: break;
  }
  std::string message = s.error_message();
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) message = "no answer in time";
  return Status::error(code, oneLine(what + ": " + codeName(s.error_code()) + ": " + message +
                                     hintFor(s)));
}

GrpcBoxLink::GrpcBoxLink(std::shared_ptr<grpc::Channel> channel, std::chrono::seconds timeout)
    : channel_(std::move(channel)),
      timeout_(timeout),
      status_(v1::StatusService::NewStub(channel_)),
      policy_(v1::PolicyService::NewStub(channel_)),
      events_(v1::EventService::NewStub(channel_)) {}

void GrpcBoxLink::prepare(grpc::ClientContext& ctx) const {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
}

Result<fleet::BoxSample> GrpcBoxLink::sample() {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::GetStatusResponse r;
  if (grpc::Status s = status_->GetStatus(&ctx, v1::GetStatusRequest(), &r); !s.ok()) {
    return statusOf(s, "GetStatus");
  }
  fleet::BoxSample out;
  out.at = std::chrono::steady_clock::now();
  for (const v1::QueueStatus& q : r.queues()) out.denied += q.rejected() + q.dropped();
  out.queues = static_cast<uint32_t>(r.queues_size());
  out.revision = r.policy_revision();
  out.pending_revision = r.has_pending() ? r.pending().revision() : 0;
  out.event_epoch = r.event_epoch();
  out.last_event_sequence = r.last_event_sequence();
  return out;
}

Result<fleet::BoxLink::Policy> GrpcBoxLink::policy() {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::GetPolicyResponse r;
  if (grpc::Status s = policy_->GetPolicy(&ctx, v1::GetPolicyRequest(), &r); !s.ok()) {
    return statusOf(s, "GetPolicy");
  }
  return Policy{r.revision().number(), r.content(),
                r.has_pending() ? r.pending().revision() : 0};
}

Result<fleet::Applied> GrpcBoxLink::apply(const std::string& text, uint32_t confirm_seconds,
                                          const std::string& comment) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::ApplyPolicyRequest req;
  req.set_content(text);
  req.set_expected_revision(0);
  req.set_confirm_timeout_seconds(confirm_seconds);
  req.set_comment(comment);
  v1::ApplyPolicyResponse r;
  if (grpc::Status s = policy_->ApplyPolicy(&ctx, req, &r); !s.ok()) {
    return statusOf(s, "ApplyPolicy");
  }
  fleet::Applied out;
  out.revision = r.revision().number();
  out.previous_revision = r.previous_revision();
  out.unchanged = r.unchanged();
  if (r.has_pending()) out.deadline = timeText(r.pending().deadline());
  return out;
}

Status GrpcBoxLink::confirm(uint64_t revision) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::ConfirmCommitRequest req;
  req.set_revision(revision);
  v1::ConfirmCommitResponse r;
  return statusOf(policy_->ConfirmCommit(&ctx, req, &r), "ConfirmCommit");
}

Result<bool> GrpcBoxLink::policyErrorSince(uint64_t epoch, uint64_t sequence) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::WatchEventsRequest req;
  req.set_after_sequence(sequence);
  req.set_epoch(epoch);
  req.set_follow(false);
  auto reader = events_->WatchEvents(&ctx, req);
  v1::Event e;
  bool found = false;
  while (reader->Read(&e)) {
    if (!e.has_gap() && e.name() == "policy-error") {
      found = true;
      ctx.TryCancel();  // the answer is known: the rest need not be read
      break;
    }
  }
  const grpc::Status s = reader->Finish();
  if (found) return true;
  if (!s.ok()) return statusOf(s, "WatchEvents");
  return false;
}

bool StoppableSleeper::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopped_; });
  return !stopped_;
}

void StoppableSleeper::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool StoppableSleeper::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

}  // namespace muzzle::ctl

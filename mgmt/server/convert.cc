#include "mgmt/server/convert.h"

#include <google/protobuf/util/time_util.h>

namespace muzzle {

grpc::Status toGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, s.message()};
    case StatusCode::kAborted: return {grpc::StatusCode::ABORTED, s.message()};
    case StatusCode::kFailedPrecondition: return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
    case StatusCode::kPermissionDenied: return {grpc::StatusCode::PERMISSION_DENIED, s.message()};
    case StatusCode::kUnauthenticated: return {grpc::StatusCode::UNAUTHENTICATED, s.message()};
    case StatusCode::kResourceExhausted: return {grpc::StatusCode::RESOURCE_EXHAUSTED, s.message()};
    case StatusCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, s.message()};
    case StatusCode::kUnknown: break;
  }
  // Errors that did not classify themselves come from the box (disk, kernel): INTERNAL says
  // "not your request's fault".
  return {grpc::StatusCode::INTERNAL, s.message()};
}

StatusCode fromGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return StatusCode::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT: return StatusCode::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND: return StatusCode::kNotFound;
    case grpc::StatusCode::ABORTED: return StatusCode::kAborted;
    case grpc::StatusCode::FAILED_PRECONDITION: return StatusCode::kFailedPrecondition;
    case grpc::StatusCode::PERMISSION_DENIED: return StatusCode::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED: return StatusCode::kUnauthenticated;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return StatusCode::kResourceExhausted;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: return StatusCode::kUnavailable;
    default: return StatusCode::kUnknown;
  }
}

const char* queueModeText(QueueMode mode) { return mode == QueueMode::kNative ? "native" : "compat"; }

v1::DeviceInfo toDevice(const CompiledPolicy& policy, const DeviceSeen* seen, int policy_index,
                    std::chrono::steady_clock::time_point steady_now) {
  using google::protobuf::util::TimeUtil;
  v1::DeviceInfo d;
  uint32_t profile = policy.default_profile;
  if (policy_index >= 0) {
    const CompiledDevice& pd = policy.devices[policy_index];
    d.set_mac(pd.mac.toString());
    d.set_name(pd.name);
    d.set_listed(true);
    profile = pd.profile;
  }
  if (profile < policy.profiles.size()) d.set_profile(policy.profiles[profile].name);
  d.set_quarantined(d.profile() == "quarantine");
  if (seen != nullptr) {
    d.set_mac(seen->mac.toString());
    for (const IpAddress& ip : seen->ips) d.add_ips(ip.toString());
    if (seen->segment >= 0 && static_cast<size_t>(seen->segment) < policy.segments.size()) {
      d.set_segment(policy.segments[seen->segment].name);
    }
    // The table keeps steady-clock times; the API speaks wall time.
    const auto wall_now = TimeUtil::GetCurrentTime();
    auto ago = [&](std::chrono::steady_clock::time_point t) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady_now - t).count();
      return wall_now - TimeUtil::MillisecondsToDuration(ms);
    };
    *d.mutable_first_seen() = ago(seen->first_seen);
    *d.mutable_last_seen() = ago(seen->last_seen);
    d.set_allowed(seen->allowed);
    d.set_denied(seen->denied);
  }
  return d;
}

}  // namespace muzzle

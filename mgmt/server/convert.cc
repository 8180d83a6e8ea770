#include "mgmt/server/convert.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/support/error_details.h>

#include "google/rpc/status.pb.h"

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

grpc::Status toGrpc(const Status& s, const std::vector<v1::Violation>& violations) {
  grpc::Status plain = toGrpc(s);
  if (plain.ok() || violations.empty()) return plain;
  v1::PolicyViolations details;
  for (const v1::Violation& v : violations) *details.add_violations() = v;
  google::rpc::Status rich;
  rich.set_code(plain.error_code());
  rich.set_message(plain.error_message());
  rich.add_details()->PackFrom(details);
  grpc::Status out;
  grpc::SetErrorDetails(rich, &out);
  return out;
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

v1::DeviceInfo toDevice(const CompiledPolicy& policy, const DeviceRecord* seen, int policy_index,
                        std::chrono::steady_clock::time_point) {
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
  d.set_assignment(policy_index >= 0 ? "listed" : "default");
  if (seen != nullptr) {
    d.set_mac(seen->mac.toString());
    for (const IpAddress& ip : seen->addresses) d.add_ips(ip.toString());
    d.set_segment(seen->segment.str());
    *d.mutable_first_seen() = TimeUtil::SecondsToTimestamp(seen->first_seen_unix);
    *d.mutable_last_seen() = TimeUtil::SecondsToTimestamp(seen->last_seen_unix);
    d.set_allowed(seen->allowed_flows);
    d.set_denied(seen->denied_flows);
    d.set_connections(seen->connections);
    d.set_vendor(seen->vendor.str());
    d.set_randomised_mac(seen->randomised_mac);
    d.set_dhcp_hostname(seen->dhcp_hostname.str());
    d.set_dhcp_vendor_class(seen->dhcp_vendor_class.str());
    d.set_mud_url(seen->mud_url.str());
    // The data plane's own answer for unlisted devices: classified or default, and by what.
    if (policy_index < 0 && !seen->profile.empty()) {
      d.set_profile(seen->profile.str());
      d.set_assignment(seen->assignment.str());
      d.set_assigned_by(seen->assigned_by.str());
    }
    d.set_learning(seen->learning.str());
    auto traffic = [](const TrafficTotals& from, v1::Traffic* to) {
      to->set_bytes(from.bytes);
      to->set_packets(from.packets);
      to->set_bytes_per_second(from.bytes_per_second);
    };
    traffic(seen->upload, d.mutable_upload());
    traffic(seen->download, d.mutable_download());
    for (const ClassTraffic& c : seen->by_class) {
      v1::ClassTraffic* out = d.add_by_class();
      out->set_to(c.to.str());
      traffic(c.upload, out->mutable_upload());
      traffic(c.download, out->mutable_download());
    }
  }
  d.set_quarantined(d.profile() == "quarantine");
  return d;
}

v1::StateStatus toStateStatus(const StateReport& report) {
  v1::StateStatus out;
  out.set_ok(report.ok());
  out.set_writable(report.writable());
  out.set_fallback_revision(report.fallbackRevision());
  out.set_problems_dropped(report.dropped());
  for (const StateProblem& p : report.problems()) {
    v1::StateProblem* m = out.add_problems();
    m->set_kind(stateProblemKindName(p.kind));
    m->set_file(p.file);
    m->set_problem(p.problem);
    m->set_kept_as(p.kept_as);
  }
  return out;
}

}  // namespace muzzle

// The one place muzzle::Status becomes grpc::Status, and engine values become API messages.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <vector>

#include "fw/common/status.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/state_report.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

grpc::Status toGrpc(const Status& s);
// The same, with `violations` (when there are any) as muzzle.v1.PolicyViolations in the error
// details (gRPC's richer error model: google.rpc.Status in the grpc-status-details-bin trailer).
grpc::Status toGrpc(const Status& s, const std::vector<v1::Violation>& violations);
StatusCode fromGrpc(grpc::StatusCode code);

// A device as the API shows it: what the engine has seen (may be null) merged with the
// policy's entry (may be -1).
v1::DeviceInfo toDevice(const CompiledPolicy& policy, const DeviceRecord* seen, int policy_index,
                    std::chrono::steady_clock::time_point steady_now);

const char* queueModeText(QueueMode mode);

// The state folder's problems as GetStatus shows them.
v1::StateStatus toStateStatus(const StateReport& report);

}  // namespace muzzle

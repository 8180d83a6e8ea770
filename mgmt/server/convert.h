// The one place muzzle::Status becomes grpc::Status, and engine values become API messages.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>

#include "fw/common/status.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/state_report.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

grpc::Status toGrpc(const Status& s);
StatusCode fromGrpc(grpc::StatusCode code);

// A device as the API shows it: what the engine has seen (may be null) merged with the
// policy's entry (may be -1).
v1::DeviceInfo toDevice(const CompiledPolicy& policy, const DeviceRecord* seen, int policy_index,
                    std::chrono::steady_clock::time_point steady_now);

const char* queueModeText(QueueMode mode);

// The state folder's problems as GetStatus shows them.
v1::StateStatus toStateStatus(const StateReport& report);

}  // namespace muzzle

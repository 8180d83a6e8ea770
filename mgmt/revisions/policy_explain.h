// ExplainPolicy: the rules one device gets under a compiled policy, each with the file and line
// it was written on (the site's policy or a preset file), and why the device has its profile
// (listed, classified by a `classify` rule, or the default). A plain function over the engine's
// values and the API's messages: no gRPC, no I/O, no engine state (tested alone in
// tests/unit/mgmt/revisions/policy_explain_test.cc).
#pragma once

#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/device/device_record.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

// `device` is an Ethernet address or the name a policy entry gives a device. kNotFound when it
// names no device listed or seen, kInvalidArgument when it is empty. The response's `revision`
// is left for the caller.
Result<v1::ExplainPolicyResponse> explainDevice(const CompiledPolicy& policy,
                                                const std::vector<DeviceRecord>& seen,
                                                const std::string& device);

}  // namespace muzzle

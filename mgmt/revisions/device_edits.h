// Device edits: the rules behind SetDevice, Quarantine and Release, as edits of a policy's
// `devices` list made in the admin's text (PolicyCommitter::edit runs them on the compile
// thread; the text edit is fw/policy/device_text.h), and the merge of the
// devices the engine has seen with the devices the policy lists (ListDevices, GetDevice).
// Plain functions over the API's messages and the engine's values: no gRPC, no I/O, no engine
// state, so each rule is tested alone (tests/unit/mgmt/revisions/device_edits_test.cc).
// Failures are a Status naming the device and what to do instead; the policy is then unchanged
// by the failing edit (the committer discards it anyway).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/device/inventory.h"
#include "fw/policy/compiled_policy.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// The profile Quarantine moves a device to, and new entries get when the policy has no default.
inline constexpr char kQuarantineProfile[] = "quarantine";

// "mac: ... is not an Ethernet address" (kInvalidArgument) unless `text` is one.
Result<MacAddress> parseDeviceMac(const std::string& text);

// The device `mac` as the compiled `policy` lists it (name, mac, and its profile by name), or
// nullopt when it does not or there is no policy (null). For a device listed only in a device list file (Device.file), so
// that an edit of it starts from the file's line: the entry it appends wins over that line.
std::optional<v1::Device> listedDevice(const CompiledPolicy* policy, MacAddress mac);

// The policy's entry for `mac`; when there is none, a new one is appended: a copy of `listed`
// when given (listedDevice's), else named "device-aa-bb-cc-dd-ee-ff", in the policy's default
// profile (quarantine without one). With several entries for one address (the compiler refuses
// those), the last one.
v1::Device* findOrAddDevice(v1::Policy* policy, MacAddress mac,
                            const std::optional<v1::Device>& listed = std::nullopt);

// SetDevice: an empty field leaves that field as it is.
Status setDevice(v1::Device* device, const std::string& name, const std::string& profile);
// Quarantine: remembers the profile it leaves in `quarantined_from`. kFailedPrecondition when
// the device already is in quarantine. Errors name the device as the caller wrote it (`mac`).
Status quarantineDevice(v1::Device* device, const std::string& mac);
// Release: back to the profile Quarantine left. kFailedPrecondition when the device was not put
// in quarantine by Quarantine (then its profile is set instead).
Status releaseDevice(v1::Device* device, const std::string& mac);

// `change` made to `mac`'s entry (findOrAddDevice's) of the policy `text`, written into that
// text (withDevice: only the entry's lines change, comments elsewhere stay). The new text reads
// back as exactly the edited message, or the edit is refused (kUnknown, saying so) instead of
// committing something else. Errors in `text` name `label` and the line; `change`'s are its own.
// `listed`: as findOrAddDevice's. Pure; any thread.
Result<std::string> editDeviceText(const std::string& text, std::string_view label, MacAddress mac,
                                   const std::function<Status(v1::Device*)>& change,
                                   const std::optional<v1::Device>& listed = std::nullopt);

// One device as the API shows it: what the engine saw of it (null: never seen) and its entry
// in the policy (-1: not listed). Pointers into the vectors given to mergeDevices.
struct DeviceView {
  const DeviceRecord* seen = nullptr;
  int listed = -1;
};

// Every device seen and every device listed, each once, ordered by address.
std::vector<DeviceView> mergeDevices(const CompiledPolicy& policy,
                                     const std::vector<DeviceRecord>& seen);
// The device `mac`: seen, listed or both; kNotFound when it is neither.
Result<DeviceView> findDevice(const CompiledPolicy& policy, const std::vector<DeviceRecord>& seen,
                              MacAddress mac);

}  // namespace muzzle

// A device's entry written into policy text, the admin's text kept: SetDevice, Quarantine,
// Release and a MUD proposal's assignment change one entry of `devices:`, and the revision's
// diff shows that entry's lines and nothing else.
//
// How (fw/config/yaml_sections.h): the entry whose `mac` is the device's address (compared as
// an address: "44-47-CC-..." matches "44:47:cc:..."; with several, the last, as the compiler
// reads them) is edited in place. In a block mapping of one-line values, only the lines of the
// fields that changed are: a changed value is rewritten on its line (a comment beside it goes
// with the old value), a field now empty loses its line, a new field goes after the entry's
// last one; the entry's other comments stay. Any other
// entry (flow style, values over several lines) is replaced whole. A device not listed is
// appended at the end of `devices:` (created at the end of the text when missing). Every
// other line stays byte for byte. A flow-style (JSON) document — what muzzled wrote for device
// edits before — has no comments to keep: it is emitted again, whole, as block YAML; so is a
// flow-style `devices: [...]` list, alone. The result is parsed again and must hold the device
// as given, or the edit is refused. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include "fw/common/status.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

struct DeviceTextResult {
  std::string text;
  bool added = false;        // the device was not listed
  bool reformatted = false;  // flow-style input, emitted again whole (or its devices list)
};

// kInvalidArgument when `policy_text` is not a YAML mapping (the current revision always is),
// `devices` is not a list, `device.mac()` is not an Ethernet address, or the entry could not
// be written so that it reads back as `device`.
Result<DeviceTextResult> withDevice(std::string_view policy_text, const v1::Device& device);

}  // namespace muzzle

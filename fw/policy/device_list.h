// The text of a device list file a policy names (a `devices:` entry `{file: lists/devices.csv}`):
// what a spreadsheet or an asset database exports, one device a line.
//
//   # exported from the asset database, 2026-12-04
//   name,mac,profile
//   door-cam,44:47:cc:12:34:56,cams
//   hall-speaker,44:47:cc:12:34:57,     # an empty profile: the policy's default profile
//   lobby-tv,44-47-CC-12-34-58          # the profile left out: the same
//
// Accepted, exactly:
//   - lines end in "\n" or "\r\n"; a UTF-8 byte order mark may open the file (spreadsheets
//     write one); the whole line, comments included, must be UTF-8;
//   - `#` starts a comment that runs to the end of the line; blank lines are skipped;
//   - two or three fields separated by commas: name, mac, then profile (may be empty or left
//     out: the default profile). Spaces and tabs around a field are dropped, and so is one pair
//     of double quotes around a whole field (some exports quote every cell);
//   - name and profile: letters, digits, `_ . -` (as profile names are); mac: an Ethernet
//     address as MacAddress::parse reads it ("44:47:cc:12:34:56", "-" separators, any case);
//   - one header line, `name,mac` or `name,mac,profile` (any case), as the first line that is
//     not blank or a comment;
//   - at most kMaxDeviceLineBytes bytes a line.
// Everything else is a bad line. As with address lists (address_list.h), the file may be
// anything in the policy's folder, named by whoever may validate a policy: a bad line is
// reported by its number and which field is wrong, never by its contents. (The compiler then
// says which good lines repeat a name or mac, or name a profile the policy lacks: a caller who
// guesses a whole name learns it is there. That is only ever about lines that already read as
// devices, and a key or a certificate has none.)
//
// Cost: one pass over the text, no allocation per line (the lines are views into `text`).
// Pure function; any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

// Far above what a real line holds (a name, 17 bytes of address, a profile, a comment), far
// below what would let one line hide a whole file.
inline constexpr size_t kMaxDeviceLineBytes = 1024;

// What is wrong with a bad line, one per line (the first found, left to right).
enum class DeviceLineProblem {
  kNotUtf8,  // a byte that is not UTF-8
  kTooLong,  // more than kMaxDeviceLineBytes bytes
  kFields,   // not two or three comma-separated fields
  kName,     // the name is empty or holds other characters than letters, digits, _ . -
  kMac,      // the mac is not an Ethernet address
  kProfile,  // the profile holds other characters than letters, digits, _ . -
};

// What to tell the user about `problem`: which field, what it must be. Never file content.
const char* deviceLineProblemText(DeviceLineProblem problem);

struct DeviceLine {
  std::string_view name;  // into the parsed text
  MacAddress mac;
  std::string_view profile;  // empty: the default profile
  int line = 0;              // 1-based
};

struct DeviceLineError {
  int line = 0;  // 1-based
  DeviceLineProblem problem = DeviceLineProblem::kFields;
};

struct DeviceList {
  std::vector<DeviceLine> devices;   // in file order, at most `max_entries`
  std::vector<DeviceLineError> bad;  // the first kMaxListErrors (address_list.h)
  size_t bad_count = 0;              // all of them
  bool over_limit = false;           // more than `max_entries` devices; the rest are dropped
};

// The devices `text` lists. The views in the result point into `text`, which must outlive them.
DeviceList parseDeviceList(std::string_view text, size_t max_entries);

}  // namespace muzzle

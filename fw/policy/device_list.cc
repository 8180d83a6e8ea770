#include "fw/policy/device_list.h"

#include <algorithm>
#include <cstring>

#include "fw/common/utf8.h"
#include "fw/policy/address_list.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

std::string_view trimmed(std::string_view field) {
  while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
  return field;
}

// A field without the spaces around it and one pair of double quotes around all of it.
std::string_view fieldValue(std::string_view field) {
  field = trimmed(field);
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
    field = trimmed(field.substr(1, field.size() - 2));
  }
  return field;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == y;  // `b` is lowercase letters
         });
}

bool hasHighByte(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; });
}

}  // namespace

const char* deviceLineProblemText(DeviceLineProblem problem) {
  switch (problem) {
    case DeviceLineProblem::kNotUtf8:
      return "not UTF-8 text; save the file as UTF-8 (or plain ASCII)";
    case DeviceLineProblem::kTooLong:
      static_assert(kMaxDeviceLineBytes == 1024, "say the bound in the message below");
      return "longer than 1024 bytes; is it a device list (name,mac,profile a line)?";
    case DeviceLineProblem::kFields:
      return "not name,mac,profile (two or three fields separated by commas; # starts a "
             "comment)";
    case DeviceLineProblem::kName:
      return "the name is empty or not a valid name (use letters, digits, _ . -)";
    case DeviceLineProblem::kMac:
      return "the mac is not an Ethernet address (e.g. 44:47:cc:12:34:56)";
    case DeviceLineProblem::kProfile:
      return "the profile is not a valid profile name (use letters, digits, _ . -; empty: the "
             "default profile)";
  }
  return "not a device line";
}

DeviceList parseDeviceList(std::string_view text, size_t max_entries) {
  DeviceList list;
  // One line, one device, for most files: one allocation instead of the vector's doublings.
  list.devices.reserve(
      std::min<size_t>(max_entries, std::count(text.begin(), text.end(), '\n') + 1));
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  const auto bad = [&list](int line, DeviceLineProblem problem) {
    if (++list.bad_count <= kMaxListErrors) list.bad.push_back({line, problem});
  };
  bool header_allowed = true;
  int number = 0;
  for (size_t pos = 0; pos < text.size();) {
    const void* newline = std::memchr(text.data() + pos, '\n', text.size() - pos);
    const size_t end =
        newline == nullptr ? text.size() : static_cast<const char*>(newline) - text.data();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > kMaxDeviceLineBytes) {
      bad(number, DeviceLineProblem::kTooLong);
      continue;
    }
    if (hasHighByte(line) && !isUtf8(line)) {
      bad(number, DeviceLineProblem::kNotUtf8);
      continue;
    }
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    if (trimmed(line).empty()) continue;

    const size_t first = line.find(',');
    if (first == std::string_view::npos) {
      bad(number, DeviceLineProblem::kFields);
      continue;
    }
    const size_t second = line.find(',', first + 1);
    if (second != std::string_view::npos && line.find(',', second + 1) != std::string_view::npos) {
      bad(number, DeviceLineProblem::kFields);
      continue;
    }
    const std::string_view name = fieldValue(line.substr(0, first));
    const std::string_view mac_text = fieldValue(line.substr(
        first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1));
    const std::string_view profile =
        second == std::string_view::npos ? std::string_view() : fieldValue(line.substr(second + 1));

    if (header_allowed) {
      header_allowed = false;
      if (equalsIgnoringCase(name, "name") && equalsIgnoringCase(mac_text, "mac") &&
          (second == std::string_view::npos || equalsIgnoringCase(profile, "profile"))) {
        continue;
      }
    }
    if (!isValidName(name)) {
      bad(number, DeviceLineProblem::kName);
      continue;
    }
    const auto mac = MacAddress::parse(mac_text);
    if (!mac) {
      bad(number, DeviceLineProblem::kMac);
      continue;
    }
    if (!profile.empty() && !isValidName(profile)) {
      bad(number, DeviceLineProblem::kProfile);
      continue;
    }
    if (list.devices.size() >= max_entries) {
      list.over_limit = true;
      break;
    }
    list.devices.push_back(DeviceLine{name, *mac, profile, number});
  }
  return list;
}

}  // namespace muzzle

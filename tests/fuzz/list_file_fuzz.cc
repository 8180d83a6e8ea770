// libFuzzer target for the plain-text list files a policy names, read without YAML: device list
// files (`devices: [{file: ...}]`, parseDeviceList) and address lists (`{file: ...}` groups,
// `dns.doh_list`, parseAddressList), both fed the same bytes. policy_fuzz cannot reach them with
// content of its choosing: the files it may name are the shipped ones.
// Oracle: the sanitizers; and the contracts of the two parsers: every name and profile lies
// inside the input and is a valid name, line numbers rise and stay within the input's lines,
// at most `max_entries` results (over_limit when cut), at most kMaxListErrors bad lines kept and
// never more than counted.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fw/policy/address_list.h"
#include "fw/policy/device_list.h"
#include "fw/policy/policy_syntax.h"

namespace {

bool inside(std::string_view part, std::string_view text) {
  return part.empty() ||
         (part.data() >= text.data() && part.data() + part.size() <= text.data() + text.size());
}

void checkDevices(std::string_view text, size_t max_entries) {
  const muzzle::DeviceList list = muzzle::parseDeviceList(text, max_entries);
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (list.devices.size() > max_entries) std::abort();
  if (list.bad.size() > muzzle::kMaxListErrors || list.bad.size() > list.bad_count) std::abort();
  int last = 0;
  for (const muzzle::DeviceLine& d : list.devices) {
    if (!inside(d.name, text) || !inside(d.profile, text)) std::abort();
    if (!muzzle::isValidName(d.name)) std::abort();
    if (!d.profile.empty() && !muzzle::isValidName(d.profile)) std::abort();
    if (d.line <= last || d.line > lines) std::abort();
    last = d.line;
  }
  for (const muzzle::DeviceLineError& e : list.bad) {
    if (e.line < 1 || e.line > lines) std::abort();
    if (muzzle::deviceLineProblemText(e.problem)[0] == '\0') std::abort();
  }
}

void checkAddresses(std::string_view text, size_t max_entries) {
  const muzzle::AddressList list = muzzle::parseAddressList(text, max_entries);
  if (list.cidrs.size() > max_entries) std::abort();
  if (list.bad_lines.size() > muzzle::kMaxListErrors || list.bad_lines.size() > list.bad_count) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A small bound too, chosen by the input, so the cut is reached.
  const size_t small = size == 0 ? 0 : data[0] % 8;
  checkDevices(text, 1'000'000);
  checkDevices(text, small);
  checkAddresses(text, 1'000'000);
  checkAddresses(text, small);
  return 0;
}

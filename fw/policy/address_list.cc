#include "fw/policy/address_list.h"

#include <algorithm>
#include <cctype>

namespace muzzle {

AddressList parseAddressList(std::string_view text, size_t max_entries) {
  AddressList list;
  // One line, one address, for most files: one allocation instead of the vector's doublings.
  list.cidrs.reserve(std::min<size_t>(max_entries, std::count(text.begin(), text.end(), '\n') + 1));
  int number = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty()) continue;
    if (auto cidr = Cidr::parse(line)) {
      if (list.cidrs.size() >= max_entries) {
        list.over_limit = true;
        break;
      }
      list.cidrs.push_back(*cidr);
    } else if (++list.bad_count <= kMaxListErrors) {
      list.bad_lines.push_back(number);
    }
  }
  return list;
}

}  // namespace muzzle

// The text of an address list file a policy names (an address group's `file`, `dns.doh_list`):
// one IP or CIDR a line, `#` starts a comment, blank lines and surrounding spaces are fine.
//
// The file is not text the caller of a validation wrote: it may be anything in the policy's
// folder. So a bad line is reported by its number only, never by its contents, and every bad
// line gets the same message whatever it holds, so errors tell nothing about what a file says
// beyond which lines are not addresses. Pure function; any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

// Bad lines reported one by one; the rest are counted.
inline constexpr size_t kMaxListErrors = 20;

struct AddressList {
  std::vector<Cidr> cidrs;     // in file order, at most `max_entries`
  std::vector<int> bad_lines;  // 1-based, the first kMaxListErrors
  size_t bad_count = 0;        // all of them
  bool over_limit = false;     // more than `max_entries` addresses; the rest are dropped
};

AddressList parseAddressList(std::string_view text, size_t max_entries);

}  // namespace muzzle

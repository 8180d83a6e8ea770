#include "mgmt/revisions/text_diff.h"

#include <algorithm>
#include <vector>

#include "fw/common/text_lines.h"

namespace muzzle {
namespace {

struct Op {
  char kind;  // ' ', '-', '+'
  size_t a;   // index in a (for ' ' and '-')
  size_t b;   // index in b (for ' ' and '+')
};

}  // namespace

std::string unifiedDiff(std::string_view a_text, std::string_view b_text, std::string_view a_label,
                        std::string_view b_label) {
  if (a_text == b_text) return "";
  const auto a = splitLines(a_text);
  const auto b = splitLines(b_text);
  std::string out = "--- " + std::string(a_label) + "\n+++ " + std::string(b_label) + "\n";
  const size_t n = a.size(), m = b.size();
  if ((n + 1) * (m + 1) > kMaxDiffCells) {
    return out + "@@ too large to diff: " + std::to_string(n) + " -> " + std::to_string(m) + " lines @@\n";
  }
  // lcs[i][j]: longest common subsequence of a[i..] and b[j..].
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', i++, j++});
    } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
      ops.push_back({'-', i++, j});  // removals first, as diff(1) prints them
    } else {
      ops.push_back({'+', i, j++});
    }
  }
  constexpr size_t kContext = 3;
  size_t k = 0;
  while (k < ops.size()) {
    if (ops[k].kind == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext after the last change that is
    // within 2*kContext of the previous one.
    size_t begin = k >= kContext ? k - kContext : 0;
    size_t end = k;
    while (end < ops.size()) {
      if (ops[end].kind != ' ') {
        ++end;
        continue;
      }
      size_t run = end;
      while (run < ops.size() && ops[run].kind == ' ') ++run;
      if (run == ops.size() || run - end > 2 * kContext) {
        end = std::min(ops.size(), end + kContext);
        break;
      }
      end = run;
    }
    size_t a_start = ops[begin].a, b_start = ops[begin].b, a_count = 0, b_count = 0;
    std::string body;
    for (size_t x = begin; x < end; ++x) {
      const Op& op = ops[x];
      if (op.kind != '+') ++a_count;
      if (op.kind != '-') ++b_count;
      body += op.kind;
      body += op.kind == '+' ? b[op.b] : a[op.a];
      body += '\n';
    }
    out += "@@ -" + std::to_string(a_count ? a_start + 1 : a_start) + "," + std::to_string(a_count) +
           " +" + std::to_string(b_count ? b_start + 1 : b_start) + "," + std::to_string(b_count) +
           " @@\n" + body;
    k = end;
  }
  return out;
}

}  // namespace muzzle

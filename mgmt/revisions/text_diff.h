// A unified diff of two texts, line by line, for ValidatePolicy and `muzzlectl policy diff`.
#pragma once

#include <string>
#include <string_view>

namespace muzzle {

// "--- a_label\n+++ b_label\n@@ -l,n +l,n @@\n ..." with 3 lines of context; "" when equal.
// Quadratic in the line counts; texts over kMaxDiffCells line pairs get a one-line summary.
inline constexpr size_t kMaxDiffCells = 16u << 20;
std::string unifiedDiff(std::string_view a, std::string_view b, std::string_view a_label,
                        std::string_view b_label);

}  // namespace muzzle

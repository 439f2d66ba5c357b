// Small text helpers shared by the configuration and rule loaders.
#pragma once

#include <cstddef>
#include <string_view>

namespace handover::text {

// Levenshtein distance between `a` and `b` (insertions, deletions, substitutions of bytes),
// used for "did you mean" hints. O(|a| * |b|) time, O(|b|) memory.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace handover::text

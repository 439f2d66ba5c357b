// Transparent string hashing, so hash maps keyed by std::string accept string_view lookups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace handover::triggers {

// FNV-1a, 64 bit: cheap for the short keys of lexicons and stable across runs.
inline std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return static_cast<std::size_t>(fnv1a(s)); }
};

}  // namespace handover::triggers

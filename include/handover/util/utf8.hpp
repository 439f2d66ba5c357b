// UTF-8 checks for text that arrives from clients.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace handover::utf8 {

// True when `s` is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF.
bool is_valid(std::string_view s);

// Length of the well-formed sequence that starts at s[i] (i < s.size()), or 0 when the
// bytes there are not one.
std::size_t sequence_length(std::string_view s, std::size_t i);

// Number of code points in valid UTF-8 `s`.
std::size_t count_code_points(std::string_view s);

// The largest n <= max_bytes such that s.substr(0, n) ends on a code-point boundary.
std::size_t safe_prefix_length(std::string_view s, std::size_t max_bytes);

// True when valid UTF-8 `s` shows nothing: it holds only white space (ASCII, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) and invisible format characters
// (U+180E, U+200B..U+200D, U+2060, U+FEFF).
bool is_blank(std::string_view s);

// Byte offset in valid UTF-8 `s` of the first control character other than tab, line feed
// and carriage return (U+0000..U+001F, U+007F..U+009F), or std::string_view::npos.
std::size_t find_control(std::string_view s);

// `s` with every byte that is not part of a well-formed sequence written as "\xNN", so text
// of unknown encoding (a Latin-1 file quoted in an error) can go into JSON and logs.
std::string repair(std::string_view s);

}  // namespace handover::utf8

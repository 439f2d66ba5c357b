// Hashing and secret handling for API keys and conversation tokens (OpenSSL).
#pragma once

#include <string>
#include <string_view>

namespace handover::crypto {

// Lower-case hex SHA-256 of the bytes of `data`.
std::string sha256_hex(std::string_view data);

// Compares two strings without an early exit on the first difference.
// The length is not secret: strings of different length compare unequal at once.
bool constant_time_equal(std::string_view a, std::string_view b);

// `bytes` random bytes from the OS CSPRNG, base64url-encoded without padding.
// Aborts if the CSPRNG fails: there is no safe fallback for secrets.
std::string random_token(std::size_t bytes);

}  // namespace handover::crypto

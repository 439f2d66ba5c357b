// Hashing and secret handling for API keys, conversation tokens and webhook signatures
// (OpenSSL).
#pragma once

#include <optional>
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

// The raw 32-byte HMAC-SHA256 of `data` under `key` (webhook signatures).
std::string hmac_sha256(std::string_view key, std::string_view data);

// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string base64_encode(std::string_view bytes);

// Decodes standard base64 with padding; nullopt on any other character, a bad length or
// bad padding.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace handover::crypto

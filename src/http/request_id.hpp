// Request ids: the one a client sent when it is fit to echo, else one made here.
#pragma once

#include <string>
#include <string_view>

namespace handover::http {

// Longest client-sent X-Request-Id taken as it is.
inline constexpr std::size_t kMaxRequestIdLength = 128;

// Whether a client's X-Request-Id may be echoed and logged: 1 to kMaxRequestIdLength
// visible ASCII characters (no space, no control character).
bool is_acceptable_request_id(std::string_view id);

// Replaces `out` with a new id: six hex digits drawn once per process, '-', then a counter in
// hex shared by all threads ("5f1e09-2a"). Thread-safe. For the first 2^32 ids it fits the
// small-string buffer, so copying it allocates nothing.
void next_request_id(std::string& out);

}  // namespace handover::http

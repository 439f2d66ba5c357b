// Logging set-up (spdlog) and helpers that keep client data harmless in log lines.
#pragma once

#include <string>
#include <string_view>

#include "handover/util/status.hpp"

namespace handover::logging {

// Configures the default spdlog logger on stderr. `format` is "text" or "json" (one JSON
// object per line: ts, level, msg). `level` is trace|debug|info|warn|error|off.
Status configure(std::string_view level, std::string_view format);

// Makes client-supplied text safe for one log line: control characters (newlines
// included) become \n, \r, \t or \xNN; invalid UTF-8 bytes become \xNN; the result is
// cut at max_bytes with "..." appended.
std::string sanitize(std::string_view text, std::size_t max_bytes = 256);

}  // namespace handover::logging

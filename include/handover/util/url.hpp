// Parsing of the http:// URLs the server calls out to (bot webhooks, integration webhooks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handover/util/status.hpp"

namespace handover::url {

// A parsed "http://host[:port][/path][?query]" URL.
struct HttpUrl {
  std::string host;          // without brackets for IPv6
  std::uint16_t port = 80;
  std::string target = "/";  // path and query as sent in the request line

  bool operator==(const HttpUrl&) const = default;
};

// Parses an http:// URL. InvalidArgument "bad URL: <why>" for another scheme (https
// included), a missing host, a bad port, user info ("user@host"), a fragment, or spaces.
Result<HttpUrl> parse_http_url(std::string_view text);

}  // namespace handover::url

// Parsing of http:// URLs: scheme, authority and target, nothing resolved.
#include "handover/util/url.hpp"

#include <charconv>

namespace handover::url {
namespace {

constexpr std::string_view kScheme = "http://";

Status bad_url(std::string_view why) {
  return Status::invalid_argument("bad URL: " + std::string(why));
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into `url`.
Status parse_authority(std::string_view authority, HttpUrl& url) {
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_url("the '[' has no matching ']'");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return bad_url("only ':port' may follow ']'");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (url.host.find(':') != std::string::npos) return bad_url("an IPv6 host needs brackets");
  }
  if (url.host.empty()) return bad_url("the host is empty");
  if (port.empty()) return Status::ok();
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return bad_url("the port must be an integer from 1 to 65535");
  }
  url.port = static_cast<std::uint16_t>(value);
  return Status::ok();
}

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view text) {
  if (text.starts_with("https://")) {
    return bad_url("https is not supported; use http:// (behind a TLS proxy if needed)");
  }
  if (!text.starts_with(kScheme)) return bad_url("expected http://host[:port]/path");
  text.remove_prefix(kScheme.size());
  if (text.find('#') != std::string_view::npos) return bad_url("a fragment ('#') is not sent");
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f)
      return bad_url("spaces and control characters are not allowed");
  }
  const std::size_t path_start = text.find_first_of("/?");
  const std::string_view authority = text.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) {
    return bad_url("user info ('user@') is not supported; send credentials in a header");
  }
  HttpUrl url;
  if (Status s = parse_authority(authority, url); !s.is_ok()) return s;
  if (path_start != std::string_view::npos) {
    url.target = std::string(text.substr(path_start));
    if (url.target.starts_with('?')) url.target.insert(0, "/");
  }
  return url;
}

}  // namespace handover::url

// X-Forwarded-For, walked from the nearest hop outwards.
#include "forwarded.hpp"

#include <algorithm>
#include <optional>

namespace handover::http {
namespace {

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// A TCP port: 1 to 5 digits, at most 65535.
bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  return value <= 65535;
}

// The address an entry names, without the port some proxies append: "203.0.113.7",
// "203.0.113.7:51234", "2001:db8::1", "[2001:db8::1]" and "[2001:db8::1]:443". An IPv6
// address takes a port only in brackets, as in a URL: "2001:db8::1:443" is an address.
std::optional<std::string_view> entry_address(std::string_view entry) {
  if (entry.starts_with('[')) {
    const std::size_t close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view after = entry.substr(close + 1);
    if (!after.empty() && !(after.front() == ':' && is_port(after.substr(1)))) {
      return std::nullopt;
    }
    const std::string_view inside = entry.substr(1, close - 1);
    // Brackets hold an IPv6 address only.
    if (inside.find(':') == std::string_view::npos) return std::nullopt;
    return inside;
  }
  const std::size_t colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    if (!is_port(entry.substr(colon + 1))) return std::nullopt;
    return entry.substr(0, colon);  // IPv4 with a port
  }
  return entry;
}

}  // namespace

std::string forwarded_client(std::string_view forwarded_for,
                             const std::vector<ip::Network>& trusted) {
  std::string_view client;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const std::size_t comma = rest.rfind(',');
    const std::string_view entry =
        trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    const std::optional<std::string_view> text = entry_address(entry);
    const std::optional<ip::Address> address =
        text ? ip::parse_address(*text) : std::optional<ip::Address>();
    if (!address) break;
    client = *text;
    if (!ip::any_contains(trusted, *address)) break;
  }
  return std::string(client);
}

}  // namespace handover::http

// X-Forwarded-For, walked from the nearest hop outwards.
#include "forwarded.hpp"

namespace handover::http {
namespace {

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
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
    const std::optional<ip::Address> address = ip::parse_address(entry);
    if (!address) break;
    client = entry;
    if (!ip::any_contains(trusted, *address)) break;
  }
  return std::string(client);
}

}  // namespace handover::http

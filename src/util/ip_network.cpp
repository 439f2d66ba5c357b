// IP address and CIDR parsing on inet_pton, and prefix matching.
#include "handover/util/ip_network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace handover::ip {
namespace {

constexpr int kV4MappedPrefix = 96;

// The mask of the bits of byte `index` that lie within the first `prefix_bits`.
std::uint8_t prefix_mask(int prefix_bits, int index) {
  const int bits = prefix_bits - index * 8;
  if (bits >= 8) return 0xff;
  if (bits <= 0) return 0;
  return static_cast<std::uint8_t>(0xff << (8 - bits));
}

}  // namespace

std::optional<Address> parse_address(std::string_view text) {
  // inet_pton needs a terminated string; anything longer than an IPv6 literal is not one.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string terminated(text);
  Address out;
  if (text.find(':') != std::string_view::npos) {
    if (inet_pton(AF_INET6, terminated.c_str(), out.bytes.data()) != 1) return std::nullopt;
    return out;
  }
  if (inet_pton(AF_INET, terminated.c_str(), out.bytes.data() + 12) != 1) return std::nullopt;
  out.bytes[10] = 0xff;
  out.bytes[11] = 0xff;
  return out;
}

bool Network::contains(const Address& address) const {
  for (int i = 0; i < 16; ++i) {
    const std::uint8_t mask = prefix_mask(prefix_bits, i);
    if (mask == 0) break;
    if ((address.bytes[i] & mask) != base.bytes[i]) return false;
  }
  return true;
}

Result<Network> parse_network(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::optional<Address> base = parse_address(text.substr(0, slash));
  if (!base) return Status::invalid_argument("not an IP address");
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  const int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        bits < 0 || bits > max_bits) {
      return Status::invalid_argument("the prefix length must be 0 to " +
                                      std::to_string(max_bits));
    }
  }
  Network network{*base, v4 ? kV4MappedPrefix + bits : bits};
  for (int i = 0; i < 16; ++i) {
    if ((base->bytes[i] & ~prefix_mask(network.prefix_bits, i) & 0xff) != 0) {
      return Status::invalid_argument("bits are set past the prefix length");
    }
  }
  return network;
}

bool any_contains(const std::vector<Network>& networks, const Address& address) {
  for (const Network& network : networks) {
    if (network.contains(address)) return true;
  }
  return false;
}

}  // namespace handover::ip

// IP addresses and CIDR networks, for telling trusted proxies from other peers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::ip {

// An IPv4 or IPv6 address, in network byte order. IPv4 is held IPv4-mapped (::ffff:a.b.c.d),
// so a peer seen through a dual-stack socket matches an IPv4 network.
struct Address {
  std::array<std::uint8_t, 16> bytes{};

  bool operator==(const Address&) const = default;
};

// Parses a literal IPv4 or IPv6 address ("10.0.0.1", "::1"); nullopt for anything else,
// host names, brackets and ports included.
std::optional<Address> parse_address(std::string_view text);

struct Network {
  Address base;
  int prefix_bits = 128;  // of the 128-bit form: an IPv4 /8 is 104

  bool contains(const Address& address) const;
  bool operator==(const Network&) const = default;
};

// Parses "10.0.0.0/8", "::1/128" or a bare address (one host). InvalidArgument, saying why,
// when the address is not one, the prefix is not 0-32 (IPv4) or 0-128 (IPv6), or bits are
// set past the prefix (a likely typo: "10.1.0.0/8").
Result<Network> parse_network(std::string_view text);

// Whether any of `networks` holds `address`; false for an empty list.
bool any_contains(const std::vector<Network>& networks, const Address& address);

}  // namespace handover::ip

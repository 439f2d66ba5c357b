// The client behind trusted reverse proxies, read from X-Forwarded-For.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handover/util/ip_network.hpp"

namespace handover::http {

// The client of a request whose socket peer is a trusted proxy. `forwarded_for` is the
// request's X-Forwarded-For fields joined with commas, the client first and the nearest hop
// last. The answer is the address of the right-most entry not in `trusted`, or of the
// left-most when every entry is trusted. An entry is an IP address, optionally with the port
// some proxies append ("203.0.113.7:51234", "[2001:db8::1]:443"); the answer never has the
// port or the brackets. Any other entry ends the walk at the entry right of it: whatever lies
// left of a broken or forged entry cannot be believed. Empty when there is no usable entry,
// and the peer stays the client.
std::string forwarded_client(std::string_view forwarded_for,
                             const std::vector<ip::Network>& trusted);

}  // namespace handover::http

#include "handover/util/ip_network.hpp"

#include <gtest/gtest.h>

namespace handover::ip {
namespace {

Address address(std::string_view text) {
  auto parsed = parse_address(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Address{});
}

TEST(IpAddress, ParsesLiteralsAndRefusesEverythingElse) {
  EXPECT_TRUE(parse_address("10.0.0.1"));
  EXPECT_TRUE(parse_address("::1"));
  EXPECT_TRUE(parse_address("2001:db8::7"));
  EXPECT_EQ(address("10.0.0.1"), address("::ffff:10.0.0.1"));
  for (std::string_view bad : {"", "localhost", "10.0.0", "10.0.0.1:80", "[::1]", "::1 ",
                               "999.0.0.1", "unknown"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_address(bad));
  }
}

TEST(IpNetwork, MatchesAddressesWithinItsPrefix) {
  struct Case {
    const char* network;
    const char* address;
    bool inside;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.200.3.4", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},
      {"192.168.1.0/25", "192.168.1.127", true},
      {"192.168.1.0/25", "192.168.1.128", false},
      {"127.0.0.1", "127.0.0.1", true},
      {"127.0.0.1", "127.0.0.2", false},
      {"::1/128", "::1", true},
      {"::1/128", "127.0.0.1", false},
      {"fd00::/8", "fd12:3456::1", true},
      {"0.0.0.0/0", "203.0.113.9", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.network) + " " + c.address);
    auto network = parse_network(c.network);
    ASSERT_TRUE(network) << network.status().message();

    EXPECT_EQ(network->contains(address(c.address)), c.inside);
  }
}

TEST(IpNetwork, RefusesBadNetworksSayingWhy) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"10.0.0.0/33", "0 to 32"},      {"::/129", "0 to 128"},
      {"10.0.0.0/", "0 to 32"},        {"10.0.0.0/8x", "0 to 32"},
      {"10.1.0.0/8", "past the prefix"}, {"example.com/8", "not an IP address"},
      {"10.0.0.0/-1", "0 to 32"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto network = parse_network(c.text);

    ASSERT_FALSE(network);
    EXPECT_NE(network.status().message().find(c.reason), std::string::npos)
        << network.status().message();
  }
}

TEST(IpNetwork, AnEmptyListContainsNothing) {
  EXPECT_FALSE(any_contains({}, address("127.0.0.1")));
}

}  // namespace
}  // namespace handover::ip

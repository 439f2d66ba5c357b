// The client address behind trusted proxies: the X-Forwarded-For walk, and what handlers and
// the observer are told.
#include "forwarded.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include "http/http_test_support.hpp"

namespace handover::http {
namespace {

using namespace testing;  // handover::http::testing

std::vector<ip::Network> networks(std::initializer_list<const char*> texts) {
  std::vector<ip::Network> out;
  for (const char* text : texts) out.push_back(ip::parse_network(text).value());
  return out;
}

TEST(ForwardedClient, TakesTheRightMostAddressThatIsNotTrusted) {
  struct Case {
    const char* name;
    const char* header;
    const char* client;
  };
  const Case cases[] = {
      {"one hop", "203.0.113.7", "203.0.113.7"},
      {"trusted hops skipped", "203.0.113.7, 10.0.0.2, 10.0.0.3", "203.0.113.7"},
      {"a forged left part is ignored", "198.51.100.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"},
      {"all trusted: the left-most", "10.0.0.9,10.0.0.2", "10.0.0.9"},
      {"ipv6", "2001:db8::1", "2001:db8::1"},
      {"garbage ends the walk", "203.0.113.7, unknown, 10.0.0.2", "10.0.0.2"},
      {"ipv4 with a port", "203.0.113.7:4711", "203.0.113.7"},
      {"bracketed ipv6 with a port", "[2001:db8::1]:443", "2001:db8::1"},
      {"bracketed ipv6 without a port", "[2001:db8::1]", "2001:db8::1"},
      {"trusted hops with ports skipped", "203.0.113.7:1, 10.0.0.2:2, [::ffff:10.0.0.3]:3",
       "203.0.113.7"},
      {"unbracketed ipv6 keeps its last group", "2001:db8::1:443", "2001:db8::1:443"},
      {"a port past 65535 ends the walk", "203.0.113.7, 198.51.100.1:65536, 10.0.0.2",
       "10.0.0.2"},
      {"an empty port ends the walk", "203.0.113.7, 198.51.100.1:, 10.0.0.2", "10.0.0.2"},
      {"a port of letters ends the walk", "203.0.113.7, 198.51.100.1:http", ""},
      {"a host name with a port ends the walk", "203.0.113.7, proxy.example:80, 10.0.0.2",
       "10.0.0.2"},
      {"ipv4 in brackets ends the walk", "[203.0.113.7]:80", ""},
      {"an unclosed bracket ends the walk", "203.0.113.7, [2001:db8::1:443, 10.0.0.2",
       "10.0.0.2"},
      {"text after the bracket ends the walk", "[2001:db8::1]x443", ""},
      {"empty", "", ""},
      {"only spaces and commas", " , ", ""},
  };
  const auto trusted = networks({"10.0.0.0/8"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(forwarded_client(c.header, trusted), c.client);
  }
}

// Answers 200 and keeps the remote address each request carried.
RecordingHandler remote_recorder() {
  return RecordingHandler([](const Request& request) { return request.remote; });
}

std::vector<std::string> remotes_seen(const std::vector<ip::Network>& trusted,
                                      const std::string& request, RecordingHandler& handler,
                                      std::vector<std::string>& observed) {
  ServerOptions options;
  options.trusted_proxies = trusted;
  RunningServer server(options, handler);
  RawHttpClient client(server.port());
  bhttp::response<bhttp::string_body> response;
  EXPECT_FALSE(client.exchange(request, response));
  EXPECT_TRUE(server.stop());
  observed = server.observer.seen_remotes();
  return handler.seen();
}

TEST(ForwardedClient, ATrustedPeerNamesTheClientToHandlerAndObserver) {
  RecordingHandler handler = remote_recorder();
  std::vector<std::string> observed;

  const auto remotes = remotes_seen(
      networks({"127.0.0.1/32", "10.0.0.0/8"}),
      "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n"
      "X-Forwarded-For: 10.0.0.2\r\n\r\n",
      handler, observed);

  EXPECT_EQ(remotes, std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(observed, std::vector<std::string>{"203.0.113.7"});
}

TEST(ForwardedClient, AnUntrustedPeerIsItsOwnClient) {
  RecordingHandler handler = remote_recorder();
  std::vector<std::string> observed;

  const auto remotes =
      remotes_seen(networks({"10.0.0.0/8"}),
                   "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n", handler,
                   observed);

  ASSERT_EQ(remotes.size(), 1u);
  EXPECT_TRUE(remotes[0].starts_with("127.0.0.1:")) << remotes[0];
  EXPECT_EQ(observed, remotes);
}

}  // namespace
}  // namespace handover::http

// WebSocket routes on http::Server, end to end over loopback: handshake and refusal,
// frame rules, slow readers, dead peers, shutdown and ordering.
#include "handover/http/websocket.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "http/http_test_support.hpp"

namespace handover::http {
namespace {

using namespace testing;  // handover::http::testing
using Clock = std::chrono::steady_clock;

// Answers every plain request with 404 and remembers the targets.
class NotFoundHandler final : public Handler {
 public:
  void handle(Request request, Responder respond) override {
    {
      std::lock_guard lock(mu_);
      targets_.push_back(request.target);
    }
    respond(problem(404, "not-found", "Not found", "no such route"));
  }

  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> targets_;
};

// Echoes text messages; refuses upgrades whose target carries "token=bad"; records every
// open and close so tests can wait for them and check on_close ran exactly once.
class EchoHandler final : public WebSocketHandler {
 public:
  std::optional<Response> on_upgrade(const Request& request) override {
    if (request.target.find("token=bad") == std::string::npos) return std::nullopt;
    return problem(401, "unauthenticated", "Unauthenticated", "the token is not valid");
  }

  void on_open(const std::shared_ptr<WebSocketConnection>& connection,
               const Request& request) override {
    std::lock_guard lock(mu_);
    opened_.push_back(connection);
    open_targets_.push_back(request.target);
    cv_.notify_all();
  }

  void on_message(const std::shared_ptr<WebSocketConnection>& connection,
                  std::string text) override {
    connection->send(std::make_shared<const std::string>(std::move(text)));
  }

  void on_close(const std::shared_ptr<WebSocketConnection>& connection) override {
    std::lock_guard lock(mu_);
    ++closes_[connection->id()];
    closed_at_.emplace(connection->id(), Clock::now());
    cv_.notify_all();
  }

  // The index-th connection opened, waiting up to `limit`; nullptr if it did not open.
  std::shared_ptr<WebSocketConnection> wait_open(std::size_t index,
                                                 std::chrono::milliseconds limit = 2s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return opened_.size() > index; });
    return opened_.size() > index ? opened_[index] : nullptr;
  }

  // When on_close ran for `id`, waiting up to `limit`.
  std::optional<Clock::time_point> wait_closed(std::uint64_t id,
                                               std::chrono::milliseconds limit = 2s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return closed_at_.count(id) > 0; });
    const auto it = closed_at_.find(id);
    if (it == closed_at_.end()) return std::nullopt;
    return it->second;
  }

  bool is_closed(std::uint64_t id) {
    std::lock_guard lock(mu_);
    return closes_.count(id) > 0;
  }

  std::size_t open_count() {
    std::lock_guard lock(mu_);
    return opened_.size();
  }

  std::string open_target(std::size_t index) {
    std::lock_guard lock(mu_);
    return index < open_targets_.size() ? open_targets_[index] : std::string();
  }

  // Every opened connection saw on_close exactly once, and nothing else did.
  void expect_each_closed_once() {
    std::lock_guard lock(mu_);
    EXPECT_EQ(closes_.size(), opened_.size());
    for (const auto& connection : opened_) {
      EXPECT_EQ(closes_[connection->id()], 1) << "connection " << connection->id();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<WebSocketConnection>> opened_;
  std::vector<std::string> open_targets_;
  std::map<std::uint64_t, int> closes_;
  std::map<std::uint64_t, Clock::time_point> closed_at_;
};

WebSocketOptions test_options() {
  WebSocketOptions options;
  options.max_message_bytes = 4096;
  options.ping_interval_ms = 5000;
  options.pong_timeout_ms = 5000;
  options.handshake_timeout_ms = 1000;
  return options;
}

class WebSocketTest : public ::testing::Test {
 protected:
  void start(WebSocketOptions options = test_options()) {
    ServerOptions server_options;
    server_options.threads = 2;
    server_.emplace(server_options, plain_, [&](Server& server) {
      server.add_websocket("/ws", echo_, options);
    });
  }

  void TearDown() override {
    if (!server_) return;
    EXPECT_TRUE(server_->stop());
    echo_.expect_each_closed_once();
    EXPECT_EQ(server_->observer.opened.load(), server_->observer.closed.load());
  }

  std::uint16_t port() { return server_->port(); }
  std::size_t connections() { return server_->server().connection_count(); }

  NotFoundHandler plain_;
  EchoHandler echo_;
  std::optional<RunningServer> server_;
};

TEST_F(WebSocketTest, EchoesTextMessagesAndCountsOneConnection) {
  start();
  WsClient client;

  ASSERT_FALSE(client.connect(port(), "/ws?token=good"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);
  std::string first;
  std::string second;
  ASSERT_FALSE(client.write("hello"));
  ASSERT_FALSE(client.write("wörld"));
  ASSERT_FALSE(client.read(first));
  ASSERT_FALSE(client.read(second));

  EXPECT_EQ(first, "hello");
  EXPECT_EQ(second, "wörld");
  EXPECT_EQ(echo_.open_target(0), "/ws?token=good");
  EXPECT_TRUE(connection->is_open());
  EXPECT_EQ(connections(), 1u);
  EXPECT_EQ(server_->observer.opened.load(), 1);  // the upgrade is not counted twice

  ASSERT_FALSE(client.close());
  EXPECT_TRUE(echo_.wait_closed(connection->id()));
  EXPECT_FALSE(connection->is_open());
  connection->send(std::make_shared<const std::string>("dropped"));  // a no-op after close
  EXPECT_TRUE(eventually([&] { return connections() == 0; }));
}

// The session reads in pieces much smaller than this; characters straddle the pieces.
TEST_F(WebSocketTest, EchoesMessagesLargerThanOneReadPiece) {
  start();
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  std::string large;
  while (large.size() + 2 <= test_options().max_message_bytes) large += "\xC3\xBC";  // "ü"
  const std::string after_large = "small again";

  ASSERT_FALSE(client.write(large));
  ASSERT_FALSE(client.write(after_large));
  std::string first;
  std::string second;
  ASSERT_FALSE(client.read(first));
  ASSERT_FALSE(client.read(second));

  EXPECT_EQ(first, large);
  EXPECT_EQ(second, after_large);
}

TEST_F(WebSocketTest, RefusedUpgradeGetsTheHandlersProblemResponse) {
  start();
  WsClient client;
  websocket::response_type response;

  const auto ec = client.connect(port(), "/ws?token=bad", &response);

  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(response.result_int(), 401u);
  EXPECT_EQ(response[bhttp::field::content_type], "application/problem+json");
  EXPECT_NE(response.body().find("/problems/unauthenticated"), std::string::npos);
  EXPECT_EQ(echo_.open_count(), 0u);
}

TEST_F(WebSocketTest, UpgradeOnUnregisteredPathReachesThePlainHandler) {
  start();
  WsClient other;
  WsClient longer;
  websocket::response_type other_response;
  websocket::response_type longer_response;

  const auto other_ec = other.connect(port(), "/other", &other_response);
  const auto longer_ec = longer.connect(port(), "/ws/extra", &longer_response);

  EXPECT_EQ(other_ec, websocket::error::upgrade_declined);
  EXPECT_EQ(longer_ec, websocket::error::upgrade_declined);
  EXPECT_EQ(other_response.result_int(), 404u);
  EXPECT_EQ(longer_response.result_int(), 404u);
  EXPECT_EQ(plain_.targets(), (std::vector<std::string>{"/other", "/ws/extra"}));
  EXPECT_EQ(echo_.open_count(), 0u);
}

TEST_F(WebSocketTest, BinaryMessageClosesWith1003) {
  start();
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  ASSERT_FALSE(client.write(std::string("\x01\x02", 2), /*binary=*/true));
  std::string text;
  const auto ec = client.read(text);

  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(client.close_code(), 1003);
  EXPECT_TRUE(echo_.wait_closed(connection->id()));
}

TEST_F(WebSocketTest, OversizedMessageClosesWith1009) {
  start();
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  ASSERT_FALSE(client.write(std::string(test_options().max_message_bytes + 1, 'a')));
  std::string text;
  const auto ec = client.read(text);

  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(client.close_code(), 1009);
  EXPECT_TRUE(echo_.wait_closed(connection->id()));
}

TEST_F(WebSocketTest, ServerCloseComesAfterQueuedMessages) {
  start();
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  connection->send(std::make_shared<const std::string>("last words"));
  connection->close(4000, "bye");
  std::string last;
  std::string none;
  ASSERT_FALSE(client.read(last));
  const auto ec = client.read(none);

  EXPECT_EQ(last, "last words");
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(client.close_code(), 4000);
  EXPECT_TRUE(echo_.wait_closed(connection->id()));
}

TEST_F(WebSocketTest, OnCloseComesAsTheServerClosesEvenIfThePeerNeverAnswers) {
  WebSocketOptions options = test_options();
  options.handshake_timeout_ms = 5000;  // how long the socket itself waits for the answer
  start(options);
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  connection->close(1008, "token rotated");  // the client reads nothing, so never answers
  const auto closed = echo_.wait_closed(connection->id(), 2s);

  EXPECT_TRUE(closed.has_value());
  EXPECT_FALSE(connection->is_open());
}

// The slow client shrinks its receive buffer and never reads; the fast client reads each
// broadcast before the next is sent. Pings are slow here, so only the queue limit can cut
// the slow client off.
TEST_F(WebSocketTest, SlowReaderIsCutOffWhileOthersKeepReceiving) {
  WebSocketOptions options = test_options();
  options.max_queued_messages = 64;
  options.max_queued_bytes = 256 * 1024;
  options.handshake_timeout_ms = 300;  // bounds the close handshake the slow reader cannot finish
  options.ping_interval_ms = 60000;
  start(options);
  WsClient slow(/*receive_buffer=*/4096);
  WsClient fast;
  ASSERT_FALSE(slow.connect(port(), "/ws"));
  const auto slow_connection = echo_.wait_open(0);
  ASSERT_FALSE(fast.connect(port(), "/ws"));
  const auto fast_connection = echo_.wait_open(1);
  ASSERT_TRUE(slow_connection && fast_connection);

  constexpr int kMaxRounds = 100000;
  const std::string payload(1024, 'x');
  const auto started = Clock::now();
  Clock::duration slowest_round{};
  int rounds = 0;
  for (; rounds < kMaxRounds && !echo_.is_closed(slow_connection->id()); ++rounds) {
    const auto round_started = Clock::now();
    auto message = std::make_shared<const std::string>(std::to_string(rounds) + payload);
    slow_connection->send(message);
    fast_connection->send(message);
    std::string received;
    ASSERT_FALSE(fast.read(received, 2s)) << "round " << rounds;
    ASSERT_EQ(received, *message);
    slowest_round = std::max(slowest_round, Clock::now() - round_started);
  }
  const auto cut_off_after = Clock::now() - started;

  ASSERT_TRUE(echo_.wait_closed(slow_connection->id(), 2s)) << "after " << rounds << " rounds";
  fast_connection->send(std::make_shared<const std::string>("after"));
  std::string after;
  EXPECT_FALSE(fast.read(after, 2s));
  EXPECT_EQ(after, "after");
  const auto slow_end = slow.read_until_closed(10s);
  EXPECT_NE(slow_end, beast::error::timeout);
  if (slow_end == websocket::error::closed) {
    EXPECT_EQ(slow.close_code(), 1008);
  }
  EXPECT_TRUE(fast_connection->is_open());
  RecordProperty("slow_reader_rounds", rounds);
  const auto as_ms = [](Clock::duration d) {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  RecordProperty("slow_reader_closed_after_ms", as_ms(cut_off_after));
  RecordProperty("fast_reader_slowest_round_us",
                 static_cast<int>(
                     std::chrono::duration_cast<std::chrono::microseconds>(slowest_round).count()));
}

TEST_F(WebSocketTest, PeerThatStopsAnsweringPingsIsClosedWithinPingAndPongTimeouts) {
  WebSocketOptions options = test_options();
  options.ping_interval_ms = 200;
  options.pong_timeout_ms = 200;
  start(options);
  WsClient frozen;  // completes the handshake, then never reads: no pong ever comes back

  ASSERT_FALSE(frozen.connect(port(), "/ws"));
  const auto opened_at = Clock::now();
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);
  const auto closed_at = echo_.wait_closed(connection->id(), 2s);

  ASSERT_TRUE(closed_at);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(*closed_at - opened_at);
  EXPECT_GE(elapsed, 300ms);  // not before a ping went unanswered
  EXPECT_LE(elapsed, 400ms + 150ms);
  EXPECT_TRUE(eventually([&] { return connections() == 0; }));
  RecordProperty("dead_peer_closed_ms", static_cast<int>(elapsed.count()));
}

TEST_F(WebSocketTest, PeerThatAnswersPingsStaysOpen) {
  WebSocketOptions options = test_options();
  options.ping_interval_ms = 100;
  // Generous for a loaded machine, yet a peer that never answered would be closed after
  // 500 ms, well inside the read below.
  options.pong_timeout_ms = 400;
  start(options);
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  // While a read is pending the client answers pings: several ping rounds pass here.
  std::string text;
  const auto ec = client.read(text, 1500ms);

  EXPECT_EQ(ec, beast::error::timeout);
  EXPECT_FALSE(echo_.is_closed(connection->id()));
  EXPECT_TRUE(connection->is_open());
}

TEST_F(WebSocketTest, ShutdownClosesWith1001AndRunReturns) {
  start();
  WsClient first;
  WsClient second;
  ASSERT_FALSE(first.connect(port(), "/ws"));
  ASSERT_FALSE(second.connect(port(), "/ws"));
  ASSERT_TRUE(echo_.wait_open(1));

  server_->server().shutdown(2000);
  const auto first_end = first.read_until_closed(2s);
  const auto second_end = second.read_until_closed(2s);

  EXPECT_EQ(first_end, websocket::error::closed);
  EXPECT_EQ(second_end, websocket::error::closed);
  EXPECT_EQ(first.close_code(), 1001);
  EXPECT_EQ(second.close_code(), 1001);
  EXPECT_TRUE(server_->stop(2000, 3s));
  EXPECT_EQ(connections(), 0u);
}

TEST_F(WebSocketTest, ShutdownAbortsPeersThatDoNotFinishTheCloseHandshake) {
  start();
  WsClient frozen;  // never reads, so never answers the close frame
  ASSERT_FALSE(frozen.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  const auto started = Clock::now();
  const bool returned = server_->stop(/*grace_ms=*/300, 3s);

  EXPECT_TRUE(returned);
  EXPECT_LT(Clock::now() - started, 1s);
  EXPECT_TRUE(echo_.is_closed(connection->id()));
}

TEST_F(WebSocketTest, ConcurrentSendsFromOtherThreadsKeepTheirOrder) {
  WebSocketOptions options = test_options();
  options.max_queued_messages = 10000;
  start(options);
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);
  constexpr int kPerThread = 2000;
  const auto send_all = [&](char tag) {
    for (int i = 0; i < kPerThread; ++i) {
      connection->send(std::make_shared<const std::string>(tag + std::to_string(i)));
    }
  };

  std::map<char, int> next{{'a', 0}, {'b', 0}};
  {
    std::jthread a(send_all, 'a');
    std::jthread b(send_all, 'b');
    for (int n = 0; n < 2 * kPerThread; ++n) {
      std::string text;
      ASSERT_FALSE(client.read(text, 2s)) << "message " << n;
      ASSERT_FALSE(text.empty());
      ASSERT_EQ(text.substr(1), std::to_string(next[text[0]])) << "tag " << text[0];
      ++next[text[0]];
    }
  }

  EXPECT_EQ(next['a'], kPerThread);
  EXPECT_EQ(next['b'], kPerThread);
}

// Messages queued faster than the socket drains leave several to a socket write. Every size
// class of the frame header (7-bit, 16-bit and 64-bit lengths) occurs, the burst is far
// larger than what one write gathers, and the close frame queued last arrives last.
TEST_F(WebSocketTest, BurstOfQueuedMessagesArrivesIntactAndInOrder) {
  WebSocketOptions options = test_options();
  options.max_queued_messages = 10000;
  options.max_queued_bytes = 64 * 1024 * 1024;
  start(options);
  WsClient client;
  ASSERT_FALSE(client.connect(port(), "/ws"));
  const auto connection = echo_.wait_open(0);
  ASSERT_TRUE(connection);

  constexpr std::array<std::size_t, 8> kSizes = {0, 1, 125, 126, 1000, 65535, 65536, 70000};
  constexpr int kMessages = 1000;
  const auto message = [&](int i) {
    std::string text = std::to_string(i) + ":";
    text.append(kSizes[static_cast<std::size_t>(i) % kSizes.size()],
                static_cast<char>('a' + i % 26));
    return text;
  };
  for (int i = 0; i < kMessages; ++i)
    connection->send(std::make_shared<const std::string>(message(i)));
  connection->close(4001, "burst done");

  for (int i = 0; i < kMessages; ++i) {
    std::string text;
    ASSERT_FALSE(client.read(text, 5s)) << "message " << i;
    ASSERT_EQ(text, message(i)) << "message " << i;
  }
  std::string none;
  EXPECT_EQ(client.read(none, 5s), websocket::error::closed);
  EXPECT_EQ(client.close_code(), 4001);
  EXPECT_TRUE(echo_.wait_closed(connection->id()));
}

}  // namespace
}  // namespace handover::http

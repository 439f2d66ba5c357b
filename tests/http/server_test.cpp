// The plain HTTP side of http::Server over loopback: keep-alive, limits answered by the
// network layer, refusal of ambiguous framing, the head it composes and bodies made late.
#include "handover/http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "http/http_test_support.hpp"

namespace handover::http {
namespace {

using namespace testing;  // handover::http::testing

// POST /echo answers the body back; everything else is 404.
class EchoBodyHandler final : public Handler {
 public:
  void handle(Request request, Responder respond) override {
    requests_.fetch_add(1);
    if (request.target != "/echo") return respond(problem(404, "not-found", "Not found", "-"));
    Response response;
    response.content_type = "text/plain";
    response.body = std::move(request.body);
    respond(std::move(response));
  }

  int requests() const { return requests_.load(); }

 private:
  std::atomic<int> requests_{0};
};

class ServerTest : public ::testing::Test {
 protected:
  void start(std::size_t header_limit = 1024) {
    ServerOptions options;
    options.header_limit = header_limit;
    options.body_limit = 100;
    server_.emplace(options, handler_);
  }

  void TearDown() override {
    if (!server_) return;
    EXPECT_TRUE(server_->stop());
    EXPECT_EQ(server_->observer.opened.load(), server_->observer.closed.load());
  }

  std::uint16_t port() { return server_->port(); }

  EchoBodyHandler handler_;
  std::optional<RunningServer> server_;
};

TEST_F(ServerTest, KeepAliveServesRequestsInTurnOnOneConnection) {
  start();
  RawHttpClient client(port());
  bhttp::response<bhttp::string_body> first;
  bhttp::response<bhttp::string_body> second;

  ASSERT_FALSE(
      client.exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none", first));
  ASSERT_FALSE(client.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", second));

  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_EQ(first.body(), "one");
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.result_int(), 404u);
  EXPECT_EQ(handler_.requests(), 2);
  EXPECT_EQ(server_->observer.opened.load(), 1);
}

TEST_F(ServerTest, OversizedHeaderGets431AndClose) {
  start();
  RawHttpClient client(port());
  bhttp::response<bhttp::string_body> response;

  ASSERT_FALSE(client.exchange(
      "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", response));

  EXPECT_EQ(response.result_int(), 431u);
  EXPECT_EQ(response[bhttp::field::content_type], "application/problem+json");
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(handler_.requests(), 0);
  EXPECT_TRUE(eventually([&] { return server_->observer.exchanges.load() == 1; }));
  EXPECT_EQ(server_->observer.seen_methods(), std::vector<std::string>{"GET"});
}

// Beast applies its limit to what one parse call sees, and the fields it has parsed are
// gone from the buffer before the next call: a header of many short fields that the socket
// delivers in several reads passed at nearly twice the limit. The whole header counts.
TEST_F(ServerTest, AHeaderOfManyShortFieldsPastTheLimitGets431) {
  start(8192);
  RawHttpClient client(port());
  std::string header = "GET /echo HTTP/1.1\r\nHost: t\r\n";
  while (header.size() < 16000) header += "X-A: a\r\n";  // nearly twice the limit
  header += "\r\n";
  bhttp::response<bhttp::string_body> response;

  ASSERT_FALSE(client.exchange(header, response));

  EXPECT_EQ(response.result_int(), 431u);
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(handler_.requests(), 0);
}

// Only the header is sent: the 413 must not wait for a body that never comes.
TEST_F(ServerTest, OversizedBodyGets413BeforeTheBodyIsSent) {
  start();
  RawHttpClient client(port());
  bhttp::response<bhttp::string_body> response;

  ASSERT_FALSE(client.exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
                               response, 2s));

  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(handler_.requests(), 0);
  // Counted with its method, which the request line gave.
  EXPECT_TRUE(eventually([&] { return server_->observer.exchanges.load() == 1; }));
  EXPECT_EQ(server_->observer.seen_methods(), std::vector<std::string>{"POST"});
}

// Some of these Beast's parser refuses itself, the rest the server's own framing check.
TEST_F(ServerTest, AmbiguousFramingGets400AndClose) {
  const std::vector<std::string> requests = {
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\none",
      "POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
  };
  start();

  for (const auto& request : requests) {
    SCOPED_TRACE(request);
    RawHttpClient client(port());
    bhttp::response<bhttp::string_body> response;
    ASSERT_FALSE(client.exchange(request, response));

    EXPECT_EQ(response.result_int(), 400u);
    EXPECT_EQ(response[bhttp::field::content_type], "application/problem+json");
    EXPECT_TRUE(client.closed_by_server());
  }
  EXPECT_EQ(handler_.requests(), 0);
}

// A stream that ends as soon as it opens.
class EmptyStream final : public StreamSource {
 public:
  void on_open(std::shared_ptr<StreamWriter> writer) override { writer->close(); }
  void on_close() override {}
};

// GET /fixed answers "hello" with the headers a test chose; /empty answers 204, /refused 422
// and /stream a (short) stream.
class FixedHandler final : public Handler {
 public:
  explicit FixedHandler(Headers headers) : headers_(std::move(headers)) {}

  void handle(Request request, Responder respond) override {
    Response response;
    if (request.target == "/empty") {
      response.status = 204;
      return respond(std::move(response));
    }
    if (request.target == "/refused") return respond(problem(422, "refused", "Refused", "-"));
    if (request.target == "/stream") {
      response.content_type = "text/event-stream";
      response.stream = std::make_shared<EmptyStream>();
      return respond(std::move(response));
    }
    response.content_type = "text/plain";
    response.body = "hello";
    response.headers = headers_;
    respond(std::move(response));
  }

 private:
  const Headers headers_;
};

// A server answering as FixedHandler does, and a raw client connected to it.
struct FixedServer {
  explicit FixedServer(Headers headers = {})
      : handler(std::move(headers)), server(ServerOptions{}, handler), client(server.port()) {}

  FixedHandler handler;
  RunningServer server;
  RawHttpClient client;
};

// ---- Streams and their queue ---------------------------------------------------------------

constexpr std::size_t kStreamLimit = 64 * 1024;

// Writes `total` bytes in parts of `part`: all at once from a thread of its own (a source fed
// by another thread, such as the feed), or the next part each time the queue drained.
class BulkStream final : public StreamSource {
 public:
  BulkStream(std::size_t total, std::size_t part, bool paced)
      : total_(total), part_(std::make_shared<const std::string>(part, 'x')), paced_(paced) {}
  ~BulkStream() override {
    if (pusher_.joinable()) pusher_.join();
  }

  void on_open(std::shared_ptr<StreamWriter> writer) override {
    writer_ = std::move(writer);
    opened_ = true;
    if (paced_) return next_part();
    // A little slower than the network thread takes the parts in, as the feed would be: the
    // backlog builds up behind the socket, not in front of the network thread.
    pusher_ = std::thread([this] {
      while (written_ < total_) {
        if (!writer_->write(part_)) {
          refused_ = true;
          return;
        }
        written_ += part_->size();
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      writer_->close();
    });
  }
  void on_close() override {}
  void on_drained() override {
    if (paced_) next_part();
  }

  bool refused() const { return refused_.load(); }
  std::size_t written() const { return written_.load(); }
  void abort() { writer_->abort(); }  // from the test's thread, once opened
  bool opened() const { return opened_.load(); }

 private:
  void next_part() {
    if (written_ >= total_) return writer_->close();
    if (!writer_->write(part_)) {
      refused_ = true;
      return;
    }
    written_ += part_->size();
  }

  const std::size_t total_;
  const std::shared_ptr<const std::string> part_;
  const bool paced_;
  std::shared_ptr<StreamWriter> writer_;
  std::thread pusher_;
  std::atomic<std::size_t> written_{0};
  std::atomic<bool> refused_{false};
  std::atomic<bool> opened_{false};
};

class BulkHandler final : public Handler {
 public:
  explicit BulkHandler(std::shared_ptr<BulkStream> stream) : stream_(std::move(stream)) {}
  void handle(Request, Responder respond) override {
    Response response;
    response.content_type = "text/event-stream";
    response.stream = stream_;
    respond(std::move(response));
  }

 private:
  std::shared_ptr<BulkStream> stream_;
};

ServerOptions small_stream_queue() {
  ServerOptions options;
  options.stream_max_queued_bytes = kStreamLimit;
  return options;
}

// The limit holds what the client has not read yet, wherever it waits: a client that stops
// reading is dropped once that passes the limit, not buffered without bound.
TEST(StreamQueueTest, DropsAClientThatStopsReadingOnceItsBacklogPassesTheLimit) {
  auto stream = std::make_shared<BulkStream>(std::size_t{32} << 20, 16 * 1024, false);
  BulkHandler handler(stream);
  RunningServer server(small_stream_queue(), handler);
  RawHttpClient client(server.port());
  std::string head;
  ASSERT_FALSE(client.write("GET /bulk HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head));

  EXPECT_TRUE(eventually([&] { return stream->refused(); }, 5s));
  // What went out before is what the socket buffers took, not the 32 MiB offered.
  EXPECT_LT(stream->written(), std::size_t{24} << 20);
  EXPECT_TRUE(server.stop());
}

// A source that writes its next part once the queue drained sends any amount through a queue
// of 64 KiB, all of it, in order.
TEST(StreamQueueTest, ASourcePacedByDrainSendsFarMoreThanTheLimit) {
  constexpr std::size_t kPart = 48 * 1024;
  constexpr std::size_t kTotal = 88 * kPart;  // 4.1 MiB
  auto stream = std::make_shared<BulkStream>(kTotal, kPart, true);
  BulkHandler handler(stream);
  RunningServer server(small_stream_queue(), handler);
  RawHttpClient client(server.port());
  std::string head;
  std::string body;
  ASSERT_FALSE(client.write("GET /bulk HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head));

  EXPECT_EQ(client.read_until_closed(body, 10s), net::error::eof);
  EXPECT_FALSE(stream->refused());
  EXPECT_EQ(stream->written(), kTotal);
  EXPECT_EQ(std::count(body.begin(), body.end(), 'x'), static_cast<std::ptrdiff_t>(kTotal));
  EXPECT_TRUE(body.ends_with("0\r\n\r\n"));
  EXPECT_TRUE(server.stop());
}

// An abort throws away what is queued, in the kernel too: the client gets a reset, not the
// rest of the body and its end.
TEST(StreamQueueTest, AnAbortDropsWhatIsQueuedAndResetsTheConnection) {
  auto stream = std::make_shared<BulkStream>(std::size_t{64} << 20, 48 * 1024, true);
  BulkHandler handler(stream);
  RunningServer server(ServerOptions{}, handler);
  RawHttpClient client(server.port());
  std::string head;
  std::string body;
  ASSERT_FALSE(client.write("GET /bulk HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head));
  ASSERT_TRUE(eventually([&] { return stream->opened(); }, 2s));
  std::this_thread::sleep_for(200ms);  // the socket buffers fill while the client waits

  stream->abort();
  EXPECT_TRUE(eventually([&] { return server.observer.closed.load() == 1; }, 2s));
  const auto ec = client.read_until_closed(body, 5s);

  EXPECT_EQ(ec, net::error::connection_reset) << ec.message();
  EXPECT_LT(body.size(), stream->written());
  EXPECT_FALSE(body.ends_with("0\r\n\r\n"));
  EXPECT_TRUE(server.stop());
}

// A client that reads nothing of what waits for it is cut off after stream_stall_ms, even
// when what waits is under the queue limit (a source paced by on_drained stops at that).
TEST(StreamQueueTest, ClosesAStreamWhoseClientStoppedReading) {
  auto stream = std::make_shared<BulkStream>(std::size_t{64} << 20, 48 * 1024, true);
  BulkHandler handler(stream);
  ServerOptions options;
  options.stream_heartbeat_ms = 50;
  options.stream_stall_ms = 300;
  RunningServer server(options, handler);
  RawHttpClient client(server.port());
  std::string head;
  ASSERT_FALSE(client.write("GET /bulk HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head));

  EXPECT_TRUE(eventually([&] { return server.observer.closed.load() == 1; }, 5s));
  EXPECT_FALSE(stream->refused());  // the queue limit was never reached
  // Reset, so the kernel keeps nothing for a peer that is gone.
  std::string body;
  EXPECT_EQ(client.read_until_closed(body, 5s), net::error::connection_reset);
  EXPECT_TRUE(server.stop());
}

// Occurrences of "\r\n<name>:" in a response head; names as the server wrote them.
int count_fields(const std::string& head, const std::string& name) {
  int count = 0;
  for (std::size_t at = head.find("\r\n" + name + ":"); at != std::string::npos;
       at = head.find("\r\n" + name + ":", at + 1)) {
    ++count;
  }
  return count;
}

TEST(ServerHeadTest, WritesEachHeaderOnceWithItsLastValueAndLeavesOutBrokenOnes) {
  FixedServer fixed({{"X-Kind", "first"},
                     {"x-kind", "last"},
                     {"X-Split", "a\r\nInjected: yes"},
                     {"X-Nul", std::string("a\0b", 3)},
                     {"Bad Name", "x"},
                     {"content-length", "999"},
                     {"Connection", "keep-alive"},
                     {"X-Fine", "kept"}});
  RawHttpClient& client = fixed.client;
  std::string head;

  ASSERT_FALSE(client.write("GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head));

  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_EQ(count_fields(head, "X-Kind") + count_fields(head, "x-kind"), 1) << head;
  EXPECT_NE(head.find("\r\nx-kind: last\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("Injected"), std::string::npos) << head;
  EXPECT_EQ(count_fields(head, "X-Split"), 0) << head;
  EXPECT_EQ(count_fields(head, "X-Nul"), 0) << head;
  EXPECT_EQ(count_fields(head, "Bad Name"), 0) << head;
  EXPECT_NE(head.find("\r\nX-Fine: kept\r\n"), std::string::npos) << head;
  EXPECT_EQ(count_fields(head, "content-length"), 0) << head;
  EXPECT_EQ(count_fields(head, "Connection"), 0) << head;
  EXPECT_NE(head.find("\r\nContent-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_EQ(count_fields(head, "Date"), 1) << head;
}

// HEAD gets GET's Content-Length and no body; 204 gets neither. Either way the connection
// stays in step: the next answer's head comes right after.
TEST(ServerHeadTest, HeadAndNoContentAnswersEndWithTheirHead) {
  FixedServer fixed;
  RawHttpClient& client = fixed.client;
  std::string head_answer;
  std::string no_content;
  bhttp::response<bhttp::string_body> get;

  ASSERT_FALSE(client.write("HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /empty HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(head_answer));
  ASSERT_FALSE(client.read_head(no_content));
  ASSERT_FALSE(client.read_response(get));

  EXPECT_NE(head_answer.find("\r\nContent-Length: 5\r\n"), std::string::npos) << head_answer;
  EXPECT_TRUE(no_content.starts_with("HTTP/1.1 204 No Content\r\n")) << no_content;
  EXPECT_EQ(count_fields(no_content, "Content-Length"), 0) << no_content;
  EXPECT_EQ(get.result_int(), 200u);
  EXPECT_EQ(get.body(), "hello");
}

// HEAD of a streamed answer announces GET's chunked coding, not a length; a status has its
// RFC 9110 phrase.
TEST(ServerHeadTest, HeadOfAStreamIsChunkedAndPhrasesAreRfc9110s) {
  FixedServer fixed;
  RawHttpClient& client = fixed.client;
  std::string stream_head;
  std::string refused;

  ASSERT_FALSE(client.write("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /refused HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(client.read_head(stream_head));
  ASSERT_FALSE(client.read_head(refused));

  EXPECT_TRUE(stream_head.starts_with("HTTP/1.1 200 OK\r\n")) << stream_head;
  EXPECT_EQ(count_fields(stream_head, "Content-Length"), 0) << stream_head;
  EXPECT_NE(stream_head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos)
      << stream_head;
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 422 Unprocessable Content\r\n")) << refused;
}

// A 1xx is not for HTTP/1.0 (RFC 9110, section 10.1.1): such a client gets the answer only.
TEST(ServerHeadTest, SendsNoContinueToAnHttp10Client) {
  FixedServer fixed;
  RawHttpClient& client = fixed.client;
  std::string head;

  ASSERT_FALSE(client.write("POST /fixed HTTP/1.0\r\nExpect: 100-continue\r\n"
                            "Content-Length: 2\r\n\r\nhi"));
  ASSERT_FALSE(client.read_head(head));

  EXPECT_TRUE(head.starts_with("HTTP/1.0 200 OK\r\n")) << head;
}

// A request that cannot be parsed is answered in HTTP/1.1, whatever the one before it was.
TEST(ServerHeadTest, AnswersAMalformedRequestInHttp11AfterAnHttp10One) {
  FixedServer fixed;
  RawHttpClient& client = fixed.client;
  bhttp::response<bhttp::string_body> first;
  std::string second;

  ASSERT_FALSE(client.exchange("GET /fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", first));
  ASSERT_FALSE(client.write("GET /fixed HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"));
  ASSERT_FALSE(client.read_head(second));

  EXPECT_EQ(first.version(), 10u);
  EXPECT_TRUE(second.starts_with("HTTP/1.1 400 Bad Request\r\n")) << second;
  EXPECT_NE(second.find("\r\nConnection: close\r\n"), std::string::npos) << second;
}

// A server must accept a request target in absolute form (RFC 9112, section 3.2.2); the
// handler routes on its path and query.
TEST_F(ServerTest, AcceptsAnAbsoluteFormTarget) {
  start();
  RawHttpClient client(port());
  bhttp::response<bhttp::string_body> echoed;
  bhttp::response<bhttp::string_body> missing;

  ASSERT_FALSE(client.exchange(
      "POST http://t/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi", echoed));
  ASSERT_FALSE(client.exchange("GET HTTPS://t HTTP/1.1\r\nHost: t\r\n\r\n", missing));

  EXPECT_EQ(echoed.result_int(), 200u);
  EXPECT_EQ(echoed.body(), "hi");
  EXPECT_EQ(missing.result_int(), 404u);
  EXPECT_EQ(handler_.requests(), 2);
}

// The answers the network layer makes itself carry what the API's answers do.
TEST_F(ServerTest, ItsOwnRefusalsAreNeitherCachedNorSniffed) {
  start();
  RawHttpClient client(port());
  bhttp::response<bhttp::string_body> response;

  ASSERT_FALSE(client.write("GET /echo HTTP/1.1\r\n\r\n"));  // no Host
  ASSERT_FALSE(client.read_response(response));

  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_EQ(response[bhttp::field::cache_control], "no-store");
  EXPECT_EQ(response["X-Content-Type-Options"], "nosniff");
  EXPECT_TRUE(client.closed_by_server());
}

// HTTP/1.0 keeps a connection only when asked, and then says so.
TEST(ServerHeadTest, AnswersHttp10InKindAndKeepsAliveOnlyWhenAsked) {
  FixedServer fixed;
  RawHttpClient& client = fixed.client;
  bhttp::response<bhttp::string_body> kept;
  bhttp::response<bhttp::string_body> last;

  ASSERT_FALSE(client.exchange("GET /fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", kept));
  ASSERT_FALSE(client.exchange("GET /fixed HTTP/1.0\r\n\r\n", last));

  EXPECT_EQ(kept.version(), 10u);
  EXPECT_TRUE(kept.keep_alive());
  EXPECT_EQ(kept[bhttp::field::connection], "keep-alive");
  EXPECT_EQ(last.body(), "hello");
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(client.closed_by_server());
}

// Answers from a thread of its own, as a handler answering after a store commit does, with a
// body left to the connection to make.
class LateBodyHandler final : public Handler {
 public:
  ~LateBodyHandler() override {
    for (auto& answer : answers_) answer.join();
  }

  void handle(Request request, Responder respond) override {
    std::lock_guard lock(mutex_);
    answers_.emplace_back([this, respond, text = std::move(request.body)] {
      responder_thread_ = std::this_thread::get_id();
      Response response;
      response.status = 201;
      response.content_type = "text/plain";
      response.make_body = [this, text] {
        body_thread_ = std::this_thread::get_id();
        return "made: " + text;
      };
      respond(std::move(response));
    });
  }

  std::atomic<std::thread::id> responder_thread_;
  std::atomic<std::thread::id> body_thread_;

 private:
  std::mutex mutex_;
  std::vector<std::thread> answers_;
};

TEST(ServerLateBodyTest, MakesTheBodyOnTheConnectionsThreadNotTheRespondersOne) {
  LateBodyHandler handler;
  RunningServer server(ServerOptions{}, handler);
  RawHttpClient client(server.port());
  bhttp::response<bhttp::string_body> response;

  ASSERT_FALSE(client.exchange("POST /late HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
                               response));

  EXPECT_EQ(response.result_int(), 201u);
  EXPECT_EQ(response.body(), "made: hi");
  EXPECT_EQ(response[bhttp::field::content_length], "8");
  EXPECT_NE(handler.body_thread_.load(), std::thread::id());
  EXPECT_NE(handler.body_thread_.load(), handler.responder_thread_.load());
}

// Lowers this process's soft limit on open descriptors and takes all but one of those left,
// so the next connection the server accepts fails with EMFILE. Everything is given back on
// destruction: gtest runs every test in this one process.
class DescriptorStarvation {
 public:
  DescriptorStarvation() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 32);
    setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers_.push_back(fd);
    release_one();
  }
  ~DescriptorStarvation() { release_all(); }

  void release_one() {
    if (fillers_.empty()) return;
    ::close(fillers_.back());
    fillers_.pop_back();
  }

  void release_all() {
    for (int fd : fillers_) ::close(fd);
    fillers_.clear();
    setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  static int highest_open_fd() {
    int highest = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      highest = std::max(highest, std::stoi(entry.path().filename().string()));
    }
    return highest;
  }

  rlimit saved_{};
  std::vector<int> fillers_;
};

// A blocking loopback connection on a plain descriptor: it needs no descriptor but its own.
int connect_raw(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(ServerAcceptTest, BacksOffWhileOutOfDescriptorsAndServesOnceSomeAreFree) {
  EchoBodyHandler handler;
  RunningServer server(ServerOptions{}, handler);
  auto starvation = std::make_unique<DescriptorStarvation>();

  // The kernel completes the handshake; the server cannot take the connection.
  const int pending = connect_raw(server.port());
  ASSERT_GE(pending, 0);
  ASSERT_TRUE(eventually([&] { return server.observer.accept_failures.load() > 0; }));
  // Failed accepts are counted, not timed: a loop that retried at once would count thousands
  // in this while, one that backs off from 50 ms a handful.
  const int first = server.observer.accept_failures.load();
  std::this_thread::sleep_for(300ms);
  const int during = server.observer.accept_failures.load() - first;
  starvation.reset();

  EXPECT_LE(during, 8);
  EXPECT_TRUE(eventually([&] { return server.observer.opened.load() == 1; }, 3s));
  RawHttpClient client(server.port());
  bhttp::response<bhttp::string_body> res;
  ASSERT_FALSE(client.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", res));
  EXPECT_EQ(res.result_int(), 404u);
  ::close(pending);
}

// A liveness probe that failed under a connection flood would get a healthy server restarted
// and drop every agent's WebSocket: probes are answered past the limit, other requests not.
TEST(ServerLimitTest, AnswersProbesPastTheConnectionLimitAndRefusesTheRest) {
  EchoBodyHandler handler;
  ServerOptions options;
  options.max_connections = 1;
  options.probe_paths = {"/livez"};
  RunningServer server(options, handler);
  RawHttpClient holder(server.port());
  bhttp::response<bhttp::string_body> held;
  ASSERT_FALSE(holder.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", held));

  RawHttpClient probe(server.port());
  RawHttpClient other(server.port());
  bhttp::response<bhttp::string_body> probed;
  bhttp::response<bhttp::string_body> refused;
  ASSERT_FALSE(probe.exchange("GET /livez?full=1 HTTP/1.1\r\nHost: t\r\n\r\n", probed));
  ASSERT_FALSE(other.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", refused));

  EXPECT_EQ(probed.result_int(), 404u) << "answered by the handler";
  EXPECT_FALSE(probed.keep_alive());
  EXPECT_TRUE(probe.closed_by_server());
  EXPECT_EQ(refused.result_int(), 503u);
  EXPECT_NE(refused.body().find("/problems/too-many-connections"), std::string::npos);
  EXPECT_EQ(refused[bhttp::field::retry_after], "1");
  EXPECT_EQ(handler.requests(), 2);
}

// A flood of connections that send nothing, or a request head they never finish, must not
// keep probes out for longer than the short deadline those past the limit get from their
// accept, however long read_timeout_ms is.
TEST(ServerLimitTest, SlowConnectionsPastTheLimitLoseTheirPlaceAndAProbeGetsIn) {
  constexpr int kProbePlaces = 16;  // kOverLimitSessions in server.cpp
  EchoBodyHandler handler;  // answers GET /echo with 200, so /echo stands in for a probe
  ServerOptions options;
  options.max_connections = 1;
  options.probe_paths = {"/echo"};
  options.read_timeout_ms = 60000;
  options.idle_timeout_ms = 60000;
  RunningServer server(options, handler);
  RawHttpClient holder(server.port());
  bhttp::response<bhttp::string_body> held;
  ASSERT_FALSE(holder.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", held));

  // Half never send a byte, half stop inside the head of a probe.
  std::vector<std::unique_ptr<RawHttpClient>> slow;
  for (int i = 0; i < kProbePlaces; ++i) {
    slow.push_back(std::make_unique<RawHttpClient>(server.port()));
    if (i % 2 == 1) {
      ASSERT_FALSE(slow.back()->write("GET /echo HTTP/1.1\r\nHo"));
    }
  }
  RawHttpClient one_too_many(server.port());
  bhttp::response<bhttp::string_body> refused;
  ASSERT_FALSE(one_too_many.read_response(refused));
  const auto started = std::chrono::steady_clock::now();
  int probe_status = 0;
  while (probe_status != 200 && std::chrono::steady_clock::now() - started < 15s) {
    RawHttpClient probe(server.port());
    bhttp::response<bhttp::string_body> probed;
    if (!probe.exchange("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", probed)) {
      probe_status = probed.result_int();
    }
    if (probe_status != 200) std::this_thread::sleep_for(20ms);
  }

  EXPECT_EQ(refused.result_int(), 503u) << "the slow connections took every place";
  EXPECT_EQ(probe_status, 200);
  for (auto& client : slow) {
    std::string rest;
    EXPECT_EQ(client->read_until_closed(rest, 5s), net::error::eof) << rest;
  }
  EXPECT_TRUE(eventually([&] { return server.server().connection_count() == 1; }))
      << "only the holder is left";
}

}  // namespace
}  // namespace handover::http

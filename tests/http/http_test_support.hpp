// Test helpers for the network layer: an in-process server on a thread, and small
// loopback clients (plain HTTP and WebSocket) whose every wait is bounded.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handover/http/server.hpp"

namespace handover::http::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// Counts connection opens and closes, so tests can check they balance.
class CountingObserver final : public Observer {
 public:
  void on_exchange(const ExchangeRecord& record) override {
    {
      std::lock_guard lock(mu);
      methods.push_back(record.method);
      remotes.push_back(record.remote);
      request_ids.push_back(record.request_id);
    }
    exchanges.fetch_add(1);
  }
  std::vector<std::string> seen_methods() {
    std::lock_guard lock(mu);
    return methods;
  }
  std::vector<std::string> seen_remotes() {
    std::lock_guard lock(mu);
    return remotes;
  }
  std::vector<std::string> seen_request_ids() {
    std::lock_guard lock(mu);
    return request_ids;
  }
  void on_connection_open() override { opened.fetch_add(1); }
  void on_connection_close() override { closed.fetch_add(1); }
  void on_accept_failure() override { accept_failures.fetch_add(1); }

  std::atomic<int> exchanges{0};
  std::atomic<int> accept_failures{0};
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};

 private:
  std::mutex mu;
  std::vector<std::string> methods;
  std::vector<std::string> remotes;
  std::vector<std::string> request_ids;
};

// Answers 200 and keeps one string of each request it handled (picked by `field`, such as
// the remote address or the request id), in order.
class RecordingHandler final : public Handler {
 public:
  explicit RecordingHandler(std::function<std::string(const Request&)> field)
      : field_(std::move(field)) {}

  void handle(Request request, Responder respond) override {
    {
      std::lock_guard lock(mu_);
      seen_.push_back(field_(request));
    }
    respond(Response{});
  }

  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::function<std::string(const Request&)> field_;
  std::mutex mu_;
  std::vector<std::string> seen_;
};

// An http::Server on 127.0.0.1 and an OS-chosen port, running on its own thread.
class RunningServer {
 public:
  using Setup = std::function<void(Server&)>;

  RunningServer(ServerOptions options, Handler& handler, const Setup& setup = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(std::move(options), handler, &observer);
    if (setup) setup(*server_);
    const Status status = server_->listen();
    EXPECT_TRUE(status.is_ok()) << status.to_string();
    done_ = std::async(std::launch::async, [this] { server_->run(); });
  }

  ~RunningServer() { EXPECT_TRUE(stop()) << "Server::run() did not return"; }

  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // Requests shutdown and waits up to `limit` for run() to return; true if it did.
  bool stop(int grace_ms = 1000, std::chrono::milliseconds limit = 5s) {
    if (stopped_) return true;
    server_->shutdown(grace_ms);
    stopped_ = done_.wait_for(limit) == std::future_status::ready;
    return stopped_;
  }

  Server& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }

  CountingObserver observer;

 private:
  std::unique_ptr<Server> server_;
  std::future<void> done_;
  bool stopped_ = false;
};

// Polls `condition` until it holds or `limit` passes; returns its last value.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Runs one asynchronous client operation on `ioc` for at most `limit`. On timeout the
// operation is cancelled through `cancel` and the result is beast::error::timeout.
template <class Start>
beast::error_code run_bounded(net::io_context& ioc, const std::function<void()>& cancel,
                              std::chrono::milliseconds limit, Start start) {
  beast::error_code result;
  bool done = false;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  ioc.run_for(limit);
  if (done) return result;
  cancel();
  ioc.restart();
  ioc.run();
  return beast::error::timeout;
}

// A plain TCP client that speaks raw bytes and reads HTTP responses.
class RawHttpClient {
 public:
  explicit RawHttpClient(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  beast::error_code write(const std::string& bytes, std::chrono::milliseconds limit = 2s) {
    return run_bounded(ioc_, [this] { socket_.cancel(); }, limit, [&](auto handler) {
      net::async_write(socket_, net::buffer(bytes), std::move(handler));
    });
  }

  beast::error_code read_response(bhttp::response<bhttp::string_body>& res,
                                  std::chrono::milliseconds limit = 2s) {
    res = {};
    return run_bounded(ioc_, [this] { socket_.cancel(); }, limit, [&](auto handler) {
      bhttp::async_read(socket_, buffer_, res, std::move(handler));
    });
  }

  // Sends `bytes`, then reads one response into `res`; the first error of the two.
  beast::error_code exchange(const std::string& bytes, bhttp::response<bhttp::string_body>& res,
                             std::chrono::milliseconds limit = 2s) {
    if (const auto ec = write(bytes, limit)) return ec;
    return read_response(res, limit);
  }

  // Reads up to the blank line that ends a response's head, which goes to `head` (with the
  // blank line); bytes after it stay buffered for the next read.
  beast::error_code read_head(std::string& head, std::chrono::milliseconds limit = 2s) {
    std::size_t end = std::string::npos;
    while ((end = buffered().find("\r\n\r\n")) == std::string::npos) {
      std::size_t n = 0;
      const auto ec = run_bounded(ioc_, [this] { socket_.cancel(); }, limit, [&](auto handler) {
        socket_.async_read_some(buffer_.prepare(4096),
                                [&n, handler](beast::error_code error, std::size_t read) mutable {
                                  n = read;
                                  handler(error);
                                });
      });
      if (ec) return ec;
      buffer_.commit(n);
    }
    head = buffered().substr(0, end + 4);
    buffer_.consume(end + 4);
    return {};
  }

  // Reads until the server closes the connection or `limit` passes; returns what came after
  // the bytes already taken. The error is eof when the server closed.
  beast::error_code read_until_closed(std::string& out, std::chrono::milliseconds limit = 5s) {
    out = buffered();
    buffer_.consume(buffer_.size());
    std::array<char, 65536> chunk{};
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds::zero()) return net::error::timed_out;
      std::size_t n = 0;
      const auto ec = run_bounded(ioc_, [this] { socket_.cancel(); }, left, [&](auto handler) {
        socket_.async_read_some(net::buffer(chunk),
                                [&n, handler](beast::error_code error, std::size_t read) mutable {
                                  n = read;
                                  handler(error);
                                });
      });
      out.append(chunk.data(), n);
      if (ec) return ec;
    }
  }

  // True when the server closes the connection within `limit` (no further bytes).
  bool closed_by_server(std::chrono::milliseconds limit = 2s) {
    char byte = 0;
    const auto ec = run_bounded(ioc_, [this] { socket_.cancel(); }, limit, [&](auto handler) {
      socket_.async_read_some(net::buffer(&byte, 1), std::move(handler));
    });
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  std::string buffered() const { return beast::buffers_to_string(buffer_.data()); }

  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// A WebSocket client on Beast's client stream; each call waits at most `limit`. A client
// that stops calling read() neither reads nor answers pings, like a stopped process.
class WsClient {
 public:
  // `receive_buffer` > 0 shrinks the socket's receive buffer (for slow-reader tests).
  explicit WsClient(int receive_buffer = 0) : ws_(ioc_) {
    if (receive_buffer > 0) {
      auto& socket = beast::get_lowest_layer(ws_).socket();
      socket.open(tcp::v4());
      socket.set_option(net::socket_base::receive_buffer_size(receive_buffer));
    }
  }

  // Connects and performs the opening handshake; `response` receives the server's answer.
  beast::error_code connect(std::uint16_t port, const std::string& target,
                            websocket::response_type* response = nullptr,
                            std::chrono::milliseconds limit = 2s) {
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    auto ec = run_bounded(ioc_, cancel(), limit, [&](auto handler) {
      beast::get_lowest_layer(ws_).async_connect(endpoint, std::move(handler));
    });
    if (ec) return ec;
    websocket::response_type ignored;
    websocket::response_type& res = response ? *response : ignored;
    return run_bounded(ioc_, cancel(), limit, [&](auto handler) {
      ws_.async_handshake(res, "127.0.0.1", target, std::move(handler));
    });
  }

  beast::error_code write(const std::string& text, bool binary = false,
                          std::chrono::milliseconds limit = 2s) {
    ws_.binary(binary);
    return run_bounded(ioc_, cancel(), limit, [&](auto handler) {
      ws_.async_write(net::buffer(text), std::move(handler));
    });
  }

  // Reads one message into `text`; beast::error::timeout if none arrives in time.
  beast::error_code read(std::string& text, std::chrono::milliseconds limit = 2s) {
    beast::flat_buffer buffer;
    const auto ec = run_bounded(ioc_, cancel(), limit, [&](auto handler) {
      ws_.async_read(buffer, std::move(handler));
    });
    text = beast::buffers_to_string(buffer.data());
    return ec;
  }

  // Reads and discards messages until the connection ends; returns the ending error.
  beast::error_code read_until_closed(std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string ignored;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return beast::error::timeout;
      const auto ec = read(ignored, left);
      if (ec) return ec;
    }
  }

  beast::error_code close(std::chrono::milliseconds limit = 2s) {
    return run_bounded(ioc_, cancel(), limit, [&](auto handler) {
      ws_.async_close(websocket::close_code::normal, std::move(handler));
    });
  }

  // The close frame the server sent, after a read ended with websocket::error::closed.
  std::uint16_t close_code() const { return ws_.reason().code; }

 private:
  std::function<void()> cancel() {
    return [this] { beast::get_lowest_layer(ws_).cancel(); };
  }

  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
};

}  // namespace handover::http::testing

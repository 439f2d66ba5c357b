// The Beast side of WsClient: one io_context driven from the calling thread, a read always
// pending, and writes and waits that run the context for a bounded time.
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

namespace handover::testing {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
  std::deque<std::string> inbox;  // frames as received
  bool open = false;

  void start_read() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        open = false;
        return;
      }
      inbox.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      start_read();
    });
  }

  // Runs handlers until `done()` or the deadline.
  template <class Done>
  void run_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return;
      if (ioc.stopped()) ioc.restart();
      if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped() && !open) return;
    }
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}

WsClient::~WsClient() {
  if (impl_->open) drop();
}

bool WsClient::connect(std::uint16_t port, const std::string& target, const std::string& bearer) {
  try {
    tcp::resolver resolver(impl_->ioc);
    net::connect(impl_->ws.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    impl_->ws.set_option(websocket::stream_base::decorator([bearer](websocket::request_type& r) {
      if (!bearer.empty()) r.set(beast::http::field::authorization, "Bearer " + bearer);
    }));
    websocket::response_type response;
    beast::error_code ec;
    impl_->ws.handshake(response, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
      refused_status_ = static_cast<int>(response.result_int());
      refused_body_ = response.body();
      return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  impl_->open = true;
  impl_->start_read();
  return true;
}

bool WsClient::send(const std::string& text) { return write(text, /*binary=*/false); }

bool WsClient::send_binary(const std::string& data) { return write(data, /*binary=*/true); }

bool WsClient::write(const std::string& text, bool binary) {
  if (!impl_->open) return false;
  bool done = false;
  bool ok = false;
  impl_->ws.text(!binary);
  impl_->ws.async_write(net::buffer(text), [&](beast::error_code ec, std::size_t) {
    done = true;
    ok = !ec;
  });
  impl_->run_until([&] { return done; }, std::chrono::milliseconds(5000));
  return ok;
}

namespace {

nlohmann::json parse_frame(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(text) : std::move(parsed);
}

}  // namespace

std::optional<std::string> WsClient::read_text(int timeout_ms) {
  impl_->run_until([this] { return !impl_->inbox.empty() || !impl_->open; },
                   std::chrono::milliseconds(timeout_ms));
  if (impl_->inbox.empty()) return std::nullopt;
  auto frame = std::move(impl_->inbox.front());
  impl_->inbox.pop_front();
  return frame;
}

std::optional<nlohmann::json> WsClient::read(int timeout_ms) {
  auto text = read_text(timeout_ms);
  if (!text) return std::nullopt;
  return parse_frame(*text);
}

std::optional<std::string> WsClient::read_type_text(const std::string& type, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto text = read_text(static_cast<int>(left.count()));
    if (!text) return std::nullopt;
    const auto frame = parse_frame(*text);
    if (frame.is_object() && frame.value("type", "") == type) return text;
  }
}

std::optional<nlohmann::json> WsClient::read_type(const std::string& type, int timeout_ms) {
  auto text = read_type_text(type, timeout_ms);
  if (!text) return std::nullopt;
  return parse_frame(*text);
}

std::deque<nlohmann::json> WsClient::drain(int wait_ms) {
  if (wait_ms > 0) {
    impl_->run_until([] { return false; }, std::chrono::milliseconds(wait_ms));
  } else {
    impl_->ioc.poll();
  }
  std::deque<nlohmann::json> out;
  for (const auto& text : impl_->inbox) out.push_back(parse_frame(text));
  impl_->inbox.clear();
  return out;
}

void WsClient::close() {
  if (!impl_->open) return;
  bool done = false;
  impl_->ws.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  impl_->run_until([&] { return done && !impl_->open; }, std::chrono::milliseconds(3000));
  drop();
}

void WsClient::drop() {
  beast::error_code ignored;
  impl_->ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->ws.next_layer().close(ignored);
  impl_->open = false;
  impl_->ioc.restart();
  impl_->ioc.poll();
}

bool WsClient::closed() const { return !impl_->open; }

}  // namespace handover::testing

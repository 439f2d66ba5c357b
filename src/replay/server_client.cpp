// Beast-based HTTP and WebSocket clients for handover-replay --server. Asio and Beast are
// compiled once in the http module; this file only instantiates the stream templates.
#include "server_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <thread>

namespace handover::replay {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Result<Endpoint> parse_http_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return Status::invalid_argument("--server must be http://HOST:PORT, not '" + url + "'");
  }
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string::npos) {
    return Status::invalid_argument("--server must be http://HOST:PORT, not '" + url + "'");
  }
  Endpoint endpoint{rest.substr(0, colon), rest.substr(colon + 1)};
  if (endpoint.host.size() > 2 && endpoint.host.front() == '[') {
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  }
  return endpoint;
}

struct HttpConnection::Impl {
  Endpoint endpoint;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;

  void connect() {
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(endpoint.host, endpoint.port));
    open = true;
  }

  HttpReply exchange(const http::request<http::string_body>& request) {
    http::write(stream, request);
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    if (!response.keep_alive()) close();
    return {static_cast<int>(response.result_int()), std::move(response.body())};
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    open = false;
  }
};

HttpConnection::HttpConnection(Endpoint endpoint) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
}

HttpConnection::~HttpConnection() {
  if (impl_->open) impl_->close();
}

Result<HttpReply> HttpConnection::request(const std::string& method, const std::string& target,
                                          const std::string& body, const std::string& bearer) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, impl_->endpoint.host + ":" + impl_->endpoint.port);
  request.set(http::field::authorization, "Bearer " + bearer);
  request.keep_alive(true);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  // A kept-alive connection the server has since closed fails once; one retry on a fresh
  // connection tells that apart from a server that is down.
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!impl_->open) impl_->connect();
      return impl_->exchange(request);
    } catch (const std::exception& e) {
      if (impl_->open) impl_->close();
      if (attempt == 1) return Status::unavailable(method + " " + target + ": " + e.what());
    }
  }
  return Status::unavailable(method + " " + target);
}

namespace {

// One agent's socket with its pending writes; at most one write in flight.
struct AgentSocket {
  explicit AgentSocket(net::io_context& ioc) : ws(ioc) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buffer;
  std::deque<std::string> outbox;
  bool writing = false;
  bool open = true;
};

}  // namespace

struct AgentPool::Impl {
  Endpoint endpoint;
  FrameHandler on_frame;
  net::io_context ioc;
  std::vector<std::unique_ptr<AgentSocket>> agents;
  std::thread thread;
  bool stopped = false;

  void send(std::size_t index, std::string text) {
    AgentSocket& agent = *agents[index];
    agent.outbox.push_back(std::move(text));
    do_write(index);
  }

  void do_write(std::size_t index) {
    AgentSocket& agent = *agents[index];
    if (agent.writing || agent.outbox.empty() || !agent.open) return;
    agent.writing = true;
    agent.ws.text(true);
    agent.ws.async_write(net::buffer(agent.outbox.front()),
                         [this, index](beast::error_code ec, std::size_t) { on_write(index, ec); });
  }

  void on_write(std::size_t index, beast::error_code ec) {
    AgentSocket& agent = *agents[index];
    agent.writing = false;
    agent.outbox.pop_front();
    if (ec) {
      agent.open = false;
      return;
    }
    do_write(index);
  }

  void do_read(std::size_t index) {
    agents[index]->ws.async_read(
        agents[index]->buffer,
        [this, index](beast::error_code ec, std::size_t) { on_read(index, ec); });
  }

  void on_read(std::size_t index, beast::error_code ec) {
    AgentSocket& agent = *agents[index];
    if (ec) {
      agent.open = false;
      return;
    }
    const std::string text = beast::buffers_to_string(agent.buffer.data());
    agent.buffer.consume(agent.buffer.size());
    const nlohmann::json frame = nlohmann::json::parse(text, nullptr, false);
    if (frame.is_object()) {
      for (const auto& answer : on_frame(index, frame)) send(index, answer.dump());
    }
    do_read(index);
  }
};

AgentPool::AgentPool(Endpoint endpoint, FrameHandler on_frame) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  impl_->on_frame = std::move(on_frame);
}

AgentPool::~AgentPool() { stop(); }

Status AgentPool::connect(const std::string& token) {
  auto agent = std::make_unique<AgentSocket>(impl_->ioc);
  try {
    tcp::resolver resolver(impl_->ioc);
    net::connect(agent->ws.next_layer(),
                 resolver.resolve(impl_->endpoint.host, impl_->endpoint.port));
    agent->ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& r) {
      r.set(http::field::authorization, "Bearer " + token);
    }));
    agent->ws.handshake(impl_->endpoint.host + ":" + impl_->endpoint.port, "/v1/agents/ws");
    agent->ws.text(true);
    agent->ws.write(net::buffer(std::string(R"({"type":"hello"})")));
  } catch (const std::exception& e) {
    return Status::unavailable(std::string("agent WebSocket: ") + e.what());
  }
  impl_->agents.push_back(std::move(agent));
  return Status::ok();
}

void AgentPool::start() {
  for (std::size_t i = 0; i < impl_->agents.size(); ++i) impl_->do_read(i);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void AgentPool::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  net::post(impl_->ioc, [this] {
    for (auto& agent : impl_->agents) {
      beast::error_code ignored;
      agent->ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      agent->ws.next_layer().close(ignored);
      agent->open = false;
    }
  });
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  } else {
    impl_->ioc.run();
  }
}

}  // namespace handover::replay

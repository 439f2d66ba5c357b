// Outbound HTTP/1.1 exchanges on Boost.Beast: resolve, connect, write, read, each bounded
// by a deadline, one connection per exchange.
#include "handover/http/client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "handover/util/thread_name.hpp"

namespace handover::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

const std::string* ClientResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

const char* client_error_name(ClientError error) {
  switch (error) {
    case ClientError::kNone:
      return "none";
    case ClientError::kConnect:
      return "connect";
    case ClientError::kTimeout:
      return "timeout";
    case ClientError::kProtocol:
      return "protocol";
    case ClientError::kStopped:
      return "stopped";
  }
  return "?";
}

struct Client::Impl {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};
  std::once_flag stop_once;
};

namespace {

// One request and its response on its own connection and strand.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(net::io_context& ioc, ClientRequest request, ClientCallback done)
      : resolver_(net::make_strand(ioc)),
        stream_(resolver_.get_executor()),
        request_(std::move(request)),
        done_(std::move(done)) {}

  void start() {
    build_request();
    stream_.expires_after(std::chrono::milliseconds(request_.connect_timeout_ms));
    // The resolver has no deadline of its own; the stream's timer bounds the whole connect
    // phase and closes the resolver's work through cancel().
    connect_timer_ = std::make_shared<net::steady_timer>(resolver_.get_executor());
    connect_timer_->expires_after(std::chrono::milliseconds(request_.connect_timeout_ms));
    connect_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(request_.url.host, std::to_string(request_.url.port),
                            beast::bind_front_handler(&Exchange::on_resolve, shared_from_this()));
  }

 private:
  void build_request() {
    message_.method_string(request_.method);
    message_.target(request_.url.target);
    message_.version(11);
    for (const auto& [name, value] : request_.headers) message_.insert(name, value);
    const bool v6 = request_.url.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + request_.url.host + "]" : request_.url.host;
    message_.set(bhttp::field::host, host + ":" + std::to_string(request_.url.port));
    message_.set(bhttp::field::connection, "close");
    message_.body() = request_.body;
    message_.prepare_payload();
  }

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) return fail(ClientError::kConnect, "cannot resolve host: " + ec.message());
    stream_.async_connect(results,
                          beast::bind_front_handler(&Exchange::on_connect, shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    connect_timer_->cancel();
    if (ec == beast::error::timeout) return fail(ClientError::kConnect, "connect timed out");
    if (ec) return fail(ClientError::kConnect, "cannot connect: " + ec.message());
    stream_.expires_after(std::chrono::milliseconds(request_.response_timeout_ms));
    bhttp::async_write(stream_, message_,
                       beast::bind_front_handler(&Exchange::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec == beast::error::timeout) return fail(ClientError::kTimeout, "request write timed out");
    if (ec) return fail(ClientError::kProtocol, "cannot send the request: " + ec.message());
    parser_.emplace();
    parser_->body_limit(request_.max_response_bytes);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Exchange::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == beast::error::timeout) return fail(ClientError::kTimeout, "no response in time");
    if (ec) return fail(ClientError::kProtocol, "bad or missing response: " + ec.message());
    ClientOutcome outcome;
    const auto& res = parser_->get();
    outcome.response.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      outcome.response.headers.emplace_back(lower(field.name_string()),
                                            std::string(field.value()));
    }
    outcome.response.body = res.body();
    close();
    finish(std::move(outcome));
  }

  void fail(ClientError error, std::string detail) {
    close();
    ClientOutcome outcome;
    outcome.error = error;
    outcome.detail = std::move(detail);
    finish(std::move(outcome));
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (connect_timer_) connect_timer_->cancel();
  }

  void finish(ClientOutcome outcome) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(outcome));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::shared_ptr<net::steady_timer> connect_timer_;
  ClientRequest request_;
  ClientCallback done_;
  bhttp::request<bhttp::string_body> message_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
};

}  // namespace

Client::Client(int threads) : impl_(std::make_shared<Impl>()) {
  const int count = std::max(1, threads);
  for (int i = 0; i < count; ++i) {
    impl_->threads.emplace_back([impl = impl_] {
      set_thread_name("http-client");
      impl->ioc.run();
    });
  }
}

Client::~Client() { stop(); }

void Client::send(ClientRequest request, ClientCallback done) {
  if (impl_->stopped.load()) {
    ClientOutcome outcome;
    outcome.error = ClientError::kStopped;
    outcome.detail = "the client is stopped";
    return done(std::move(outcome));
  }
  auto exchange = std::make_shared<Exchange>(impl_->ioc, std::move(request), std::move(done));
  net::post(impl_->ioc, [exchange] { exchange->start(); });
}

void Client::run_after(std::int64_t delay_ms, std::function<void()> task) {
  if (impl_->stopped.load()) return;
  auto timer = std::make_shared<net::steady_timer>(impl_->ioc);
  timer->expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, delay_ms)));
  timer->async_wait([timer, task = std::move(task)](beast::error_code ec) {
    if (!ec) task();
  });
}

void Client::stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->stopped.store(true);
    impl_->work.reset();
    impl_->ioc.stop();
    for (auto& thread : impl_->threads) {
      if (thread.joinable()) thread.join();
    }
  });
}

}  // namespace handover::http

// WebSocket sessions: the opening handshake, a read loop that delivers text messages, a
// bounded send queue with one message write in flight (the layer under the stream gathers
// the frames queued meanwhile into one socket write), server pings that find dead peers, and
// the closing handshake under a deadline.
//
// Each session lives on the strand of the connection it took over from the HTTP session.
// One steady timer serves three phases: the handshake deadline, then the ping schedule,
// then the closing deadline. Idle sessions are kept small: the upgrade request lives only
// in the accept handler, the read buffer holds at most kReadChunk bytes between messages,
// and the send queue exists only while frames wait.
#include "websocket_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "corked_stream.hpp"

namespace handover::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
// permessage-deflate is compiled out: it costs memory per connection and our frames are small.
// The corked layer under the stream gathers the frames written while a socket write is in
// flight into the next one (corked_stream.hpp).
using WsStream = websocket::stream<CorkedStream, /*deflateSupported=*/false>;

// Messages are read in pieces of at most this, which is also what an idle connection's
// pending read holds; a buffer grown past it for a larger message is given back.
constexpr std::size_t kReadChunk = 512;
constexpr std::size_t kMaxCloseReasonBytes = 123;  // RFC 6455 section 5.5: 125 minus the code
constexpr std::uint16_t kNormalClosure = 1000;

std::uint64_t next_connection_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Peer-triggered warnings: at most one a second for the whole process.
bool warn_allowed() {
  static std::atomic<Clock::rep> next_allowed{0};
  const Clock::rep now = Clock::now().time_since_epoch().count();
  Clock::rep next = next_allowed.load(std::memory_order_relaxed);
  const Clock::rep later = now + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::seconds(1)).count();
  return now >= next && next_allowed.compare_exchange_strong(next, later);
}

// Codes an endpoint may put in a close frame (RFC 6455 section 7.4 and the IANA registry).
bool is_sendable_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// Cut at a UTF-8 character boundary so the reason stays valid UTF-8.
std::string fit_close_reason(std::string reason) {
  if (reason.size() <= kMaxCloseReasonBytes) return reason;
  std::size_t n = kMaxCloseReasonBytes;
  while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  reason.resize(n);
  return reason;
}

std::chrono::milliseconds ms(int value) { return std::chrono::milliseconds(value); }

class WebSocketSession;

// What handlers hold. It refers to its session weakly, so a handle kept past on_close pins
// neither the socket nor the buffers, and calls on it are dropped.
class ConnectionHandle final : public WebSocketConnection {
 public:
  ConnectionHandle(std::uint64_t id, std::string remote) : id_(id), remote_(std::move(remote)) {}

  // Called once, before any handler sees the handle.
  void attach(std::weak_ptr<WebSocketSession> session) { session_ = std::move(session); }
  void set_open(bool open) { open_.store(open, std::memory_order_release); }

  void send(std::shared_ptr<const std::string> text) override;
  void close(std::uint16_t code, std::string reason) override;
  std::uint64_t id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  bool is_open() const override { return open_.load(std::memory_order_acquire); }
  void when_drained(std::function<void()> ready) override;

 private:
  const std::uint64_t id_;
  const std::string remote_;
  std::weak_ptr<WebSocketSession> session_;
  std::atomic<bool> open_{false};
};

class WebSocketSession final : public TrackedSession,
                               public std::enable_shared_from_this<WebSocketSession> {
  enum class Phase { kHandshake, kOpen, kClosing, kClosed };

 public:
  WebSocketSession(tcp::socket socket, std::string remote, const WebSocketRoute& route,
                   ServerState& state, ConnectionSlot slot)
      : executor_(socket.get_executor()),
        ws_(std::move(socket)),
        timer_(executor_),
        handle_(std::make_shared<ConnectionHandle>(next_connection_id(), std::move(remote))),
        route_(route),
        options_(route.options),
        state_(state),
        slot_(std::move(slot)) {}

  ~WebSocketSession() override { state_.untrack(this); }

  // On the strand.
  void start(std::unique_ptr<bhttp::request<bhttp::string_body>> upgrade, Request request) {
    handle_->attach(weak_from_this());
    ws_.next_layer().set_owner(weak_from_this());
    state_.track(shared_from_this());
    do_accept(std::move(upgrade), std::move(request));
  }

  // Any thread. The frame counts against the limits before it is posted, so frames on
  // their way to the strand are bounded too.
  void send(std::shared_ptr<const std::string> text) {
    if (!text || !accepting_sends_.load(std::memory_order_acquire)) return;
    const std::size_t size = text->size();
    const std::size_t messages = queued_messages_.fetch_add(1) + 1;
    const std::size_t bytes = queued_bytes_.fetch_add(size) + size;
    if (messages > options_.max_queued_messages || bytes > options_.max_queued_bytes) {
      forget(size);
      if (accepting_sends_.exchange(false)) {
        net::post(executor_, beast::bind_front_handler(&WebSocketSession::on_overflow,
                                                       shared_from_this()));
      }
      return;
    }
    net::post(executor_, [self = shared_from_this(), t = std::move(text)]() mutable {
      self->on_enqueue(std::move(t));
    });
  }

  // Any thread. Posted after the sends before it, so it sees their frames queued.
  void when_drained(std::function<void()> ready) {
    net::post(executor_, [self = shared_from_this(), ready = std::move(ready)]() mutable {
      if (self->phase_ != Phase::kOpen) return;
      if (!self->queue_) return ready();
      self->drained_.push_back(std::move(ready));
    });
  }

  // Any thread.
  void close(std::uint16_t code, std::string reason) {
    if (!is_sendable_close_code(code)) code = kNormalClosure;
    net::post(executor_,
              [self = shared_from_this(), code, r = fit_close_reason(std::move(reason))] {
                self->begin_close(code, r);
              });
  }

  void on_shutdown() override {
    begin_close(websocket::close_code::going_away, "server shutting down");
  }

  void on_abort() override { do_abort(); }

  net::any_io_executor executor() override { return executor_; }

 private:
  std::shared_ptr<WebSocketConnection> connection() const { return handle_; }

  // ---- opening handshake

  void do_accept(std::unique_ptr<bhttp::request<bhttp::string_body>> upgrade, Request request) {
    // A connection upgraded while the server stops is accepted and closed at once with 1001.
    if (state_.stopping) on_shutdown();
    ws_.read_message_max(options_.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.text(true);
    // Otherwise Beast names itself and its version in the 101 response.
    ws_.set_option(websocket::stream_base::decorator(
        [id = request.request_id](websocket::response_type& res) {
          res.set(bhttp::field::server, "handover");
          res.set("X-Request-Id", id);
        }));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      note_activity();
      if (kind == websocket::frame_type::close) on_peer_close();
    });
    arm_timer(ms(options_.handshake_timeout_ms));
    // The handler owns the requests, so they are freed as soon as the handshake ends.
    const auto& upgrade_ref = *upgrade;
    ws_.async_accept(upgrade_ref, [self = shared_from_this(), upgrade = std::move(upgrade),
                                   request = std::move(request)](beast::error_code ec) mutable {
      upgrade.reset();
      self->on_accept(ec, request);
    });
  }

  void on_accept(beast::error_code ec, const Request& request) {
    if (ec) {
      spdlog::debug("websocket conn={} remote={} handshake failed: {}", handle_->id(),
                    handle_->remote(), ec.message());
      return finish(ec);
    }
    phase_ = Phase::kOpen;
    note_activity();
    arm_timer(ms(options_.ping_interval_ms));
    if (close_pending_) {
      start_closing();
    } else {
      do_open(request);
    }
    do_read();
  }

  void do_open(const Request& request) {
    opened_ = true;
    accepting_sends_.store(true, std::memory_order_release);
    handle_->set_open(true);
    spdlog::debug("websocket conn={} remote={} open", handle_->id(), handle_->remote());
    try {
      route_.handler->on_open(connection(), request);
    } catch (const std::exception& e) {
      spdlog::error("websocket on_open threw: {}", e.what());
      begin_close(websocket::close_code::internal_error, "internal error");
    }
  }

  // ---- reading

  void do_read() {
    ws_.async_read_some(buffer_, kReadChunk,
                        beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this()));
  }

  // One piece of a message. Beast enforces read_message_max (1009) across the pieces.
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish(ec);
    note_activity();
    if (phase_ != Phase::kOpen) {
      buffer_.clear();  // closing: whatever still arrives is discarded
    } else if (!ws_.got_text()) {
      buffer_.clear();  // a binary message is only counted, piece by piece
      if (ws_.is_message_done()) deliver_binary();
    } else if (ws_.is_message_done()) {
      deliver();
    }
    do_read();
  }

  void deliver_binary() {
    try {
      route_.handler->on_binary_message(connection());
    } catch (const std::exception& e) {
      spdlog::error("websocket on_binary_message threw: {}", e.what());
      begin_close(websocket::close_code::internal_error, "internal error");
    }
  }

  void deliver() {
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.clear();
    if (buffer_.capacity() > kReadChunk) buffer_.shrink_to_fit();
    try {
      route_.handler->on_message(connection(), std::move(text));
    } catch (const std::exception& e) {
      spdlog::error("websocket on_message threw: {}", e.what());
      begin_close(websocket::close_code::internal_error, "internal error");
    }
  }

  // Any frame from the peer (message, ping, pong, close) proves it alive.
  void note_activity() {
    last_rx_ = Clock::now();
    awaiting_pong_ = false;
  }

  // ---- writing

  void on_enqueue(std::shared_ptr<const std::string> text) {
    if (phase_ != Phase::kOpen) return forget(text->size());
    if (!queue_) queue_.emplace();
    queue_->push_back(std::move(text));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(net::buffer(*queue_->front()),
                    beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    forget(queue_->front()->size());
    queue_->pop_front();
    if (queue_->empty()) queue_.reset();  // an empty std::deque still holds ~600 bytes
    if (ec) return do_abort();            // the read fails next and finishes the session
    if (queue_) return do_write();
    if (!drained_.empty() && phase_ == Phase::kOpen) {
      auto ready = std::move(drained_);
      drained_.clear();
      for (auto& callback : ready) callback();
    }
    if (phase_ == Phase::kClosing && !close_sent_) do_send_close();
  }

  // The peer does not read fast enough: keep memory bounded and cut it off.
  void on_overflow() {
    if (phase_ != Phase::kOpen) return;
    if (warn_allowed()) {
      spdlog::warn("websocket conn={} remote={} send queue overflow, closing", handle_->id(),
                   handle_->remote());
    }
    drop_queued();
    begin_close(websocket::close_code::policy_error, "send queue overflow");
  }

  // Frees queued frames except the one being written, which the write still refers to.
  void drop_queued() {
    const std::size_t keep = writing_ ? 1 : 0;
    while (queue_ && queue_->size() > keep) {
      forget(queue_->back()->size());
      queue_->pop_back();
    }
    if (queue_ && queue_->empty()) queue_.reset();
  }

  void forget(std::size_t bytes) {
    queued_messages_.fetch_sub(1);
    queued_bytes_.fetch_sub(bytes);
  }

  // ---- pings and deadlines

  void arm_timer(Clock::duration after) {
    timer_.expires_after(after);
    timer_.async_wait(beast::bind_front_handler(&WebSocketSession::on_timer, shared_from_this()));
  }

  void on_timer(beast::error_code ec) {
    // A wait replaced by a later arm_timer may still complete without error; the expiry
    // tells which one is current.
    if (ec || timer_.expiry() > Clock::now() || phase_ == Phase::kClosed) return;
    if (phase_ != Phase::kOpen) {
      spdlog::debug("websocket conn={} {} handshake timed out", handle_->id(),
                    phase_ == Phase::kHandshake ? "opening" : "closing");
      return do_abort();
    }
    if (awaiting_pong_) {
      spdlog::debug("websocket conn={} remote={} no pong, closing", handle_->id(),
                    handle_->remote());
      return do_abort();
    }
    const auto idle = Clock::now() - last_rx_;
    const auto interval = ms(options_.ping_interval_ms);
    if (idle < interval) return arm_timer(interval - idle);
    do_ping();
  }

  void do_ping() {
    awaiting_pong_ = true;
    arm_timer(ms(options_.pong_timeout_ms));
    // A ping stuck behind a write that the peer does not drain is not repeated.
    if (ping_in_flight_) return;
    ping_in_flight_ = true;
    ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {
      self->ping_in_flight_ = false;
    });
  }

  // ---- closing

  // Sends a close frame after the frames already queued, within the handshake timeout.
  // `code` is sendable and `reason` at most kMaxCloseReasonBytes.
  void begin_close(std::uint16_t code, std::string_view reason) {
    if (phase_ != Phase::kHandshake && phase_ != Phase::kOpen) return;
    close_code_ = code;
    close_text_ = reason;
    if (phase_ == Phase::kHandshake) {
      close_pending_ = true;
      return;
    }
    start_closing();
  }

  void start_closing() {
    enter_closing();
    if (!writing_) do_send_close();
  }

  // The peer sent a close frame, which Beast answers: send nothing more, and bound the
  // time until the peer closes its end.
  void on_peer_close() {
    if (phase_ != Phase::kOpen) return;
    enter_closing();
    close_sent_ = true;
    drop_queued();
  }

  // The connection carries no more messages either way, so the handler hears of it now: a
  // peer that never answers the close must not keep it open for the handler meanwhile.
  void enter_closing() {
    phase_ = Phase::kClosing;
    accepting_sends_.store(false, std::memory_order_release);
    handle_->set_open(false);
    arm_timer(ms(options_.handshake_timeout_ms));
    if (opened_) notify_close();
  }

  void do_send_close() {
    close_sent_ = true;
    websocket::close_reason reason(close_code_);
    reason.reason.assign(close_text_.data(), close_text_.size());
    close_text_ = std::string();
    ws_.async_close(reason, [self = shared_from_this()](beast::error_code ec) {
      if (ec) self->do_abort();
    });
  }

  // Closes the socket under the stream: every pending operation completes with an error.
  void do_abort() { beast::get_lowest_layer(ws_).close(); }

  // The read loop ended: the connection is gone, whatever the cause.
  void finish(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    accepting_sends_.store(false, std::memory_order_release);
    handle_->set_open(false);
    timer_.cancel();
    do_abort();
    drop_queued();
    spdlog::debug("websocket conn={} closed: {}", handle_->id(), ec.message());
    if (opened_) notify_close();
    slot_.release();
  }

  void notify_close() {
    opened_ = false;
    try {
      route_.handler->on_close(connection());
    } catch (const std::exception& e) {
      spdlog::error("websocket on_close threw: {}", e.what());
    }
  }

  const net::any_io_executor executor_;
  WsStream ws_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_;
  std::optional<std::deque<std::shared_ptr<const std::string>>> queue_;  // while frames wait
  std::vector<std::function<void()>> drained_;  // when_drained() callers waiting for queue_
  const std::shared_ptr<ConnectionHandle> handle_;
  const WebSocketRoute& route_;
  const WebSocketOptions& options_;
  ServerState& state_;
  ConnectionSlot slot_;
  std::string close_text_;  // reason for the close frame, until it is sent
  Clock::time_point last_rx_;
  std::uint16_t close_code_ = kNormalClosure;
  Phase phase_ = Phase::kHandshake;
  bool opened_ = false;  // on_open was called and on_close not yet
  bool writing_ = false;
  bool ping_in_flight_ = false;
  bool awaiting_pong_ = false;
  bool close_pending_ = false;  // shutdown asked for a close during the handshake
  bool close_sent_ = false;
  std::atomic<bool> accepting_sends_{false};
  std::atomic<std::size_t> queued_messages_{0};  // posted or queued, not yet written
  std::atomic<std::size_t> queued_bytes_{0};
};

void ConnectionHandle::send(std::shared_ptr<const std::string> text) {
  if (auto session = session_.lock()) session->send(std::move(text));
}

void ConnectionHandle::close(std::uint16_t code, std::string reason) {
  if (auto session = session_.lock()) session->close(code, std::move(reason));
}

void ConnectionHandle::when_drained(std::function<void()> ready) {
  if (auto session = session_.lock()) session->when_drained(std::move(ready));
}

}  // namespace

void start_websocket_session(tcp::socket socket, bhttp::request<bhttp::string_body> upgrade,
                             Request request, const WebSocketRoute& route, ServerState& state,
                             ConnectionSlot slot) {
  std::string remote = request.remote;
  std::make_shared<WebSocketSession>(std::move(socket), std::move(remote), route, state,
                                     std::move(slot))
      ->start(std::make_unique<bhttp::request<bhttp::string_body>>(std::move(upgrade)),
              std::move(request));
}

}  // namespace handover::http

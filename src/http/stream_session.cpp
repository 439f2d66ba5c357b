// Streamed responses: the head, then HTTP/1.1 chunks from a StreamSource, one write in
// flight, a bounded queue, heartbeat comments on idle streams, and a read that only watches
// for the client going away. Each session lives on its connection's strand.
#include "stream_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <mutex>

namespace handover::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// SSE comment lines are ignored by clients; they keep idle connections from timing out.
const auto kHeartbeat = std::make_shared<const std::string>(":\n\n");

std::string chunk(const std::string& bytes) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string out;
  out.reserve(static_cast<std::size_t>(n) + bytes.size() + 2);
  out.append(size, static_cast<std::size_t>(n)).append(bytes).append("\r\n");
  return out;
}

class StreamSession;

// What the source holds. It refers to its session weakly: writes after the session ended
// are dropped.
class Writer final : public StreamWriter {
 public:
  explicit Writer(std::weak_ptr<StreamSession> session) : session_(std::move(session)) {}
  bool write(std::shared_ptr<const std::string> bytes) override;
  void close() override;
  void abort() override;

 private:
  std::weak_ptr<StreamSession> session_;
};

class StreamSession final : public TrackedSession,
                            public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket socket, std::shared_ptr<StreamSource> source, ServerState& state,
                ConnectionSlot slot)
      : socket_(std::move(socket)),
        heartbeat_(socket_.get_executor()),
        source_(std::move(source)),
        state_(state),
        slot_(std::move(slot)) {}

  ~StreamSession() override { state_.untrack(this); }

  void start(std::string head) {
    state_.track(shared_from_this());
    queue_.push_back({std::make_shared<const std::string>(std::move(head)), 0});
    do_write();
    do_watch();
    source_->on_open(std::make_shared<Writer>(weak_from_this()));
    opened_ = true;
    if (closed_) notify_closed();
    arm_heartbeat();
  }

  // From any thread.
  bool enqueue(std::shared_ptr<const std::string> bytes) {
    {
      std::lock_guard lock(mu_);
      if (ending_) return false;
      if (unsent_bytes_ + bytes->size() > state_.options.stream_max_queued_bytes) {
        ending_ = true;  // a client that lags this far is dropped, never buffered without bound
        net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_close(); });
        return false;
      }
      unsent_bytes_ += bytes->size();
    }
    net::post(socket_.get_executor(),
              [self = shared_from_this(), b = std::move(bytes)]() mutable {
                self->push(std::make_shared<const std::string>(chunk(*b)), b->size());
              });
    return true;
  }

  // From any thread: closes at once and discards what is queued (a linger of 0 makes the
  // kernel drop its unsent bytes and reset the connection).
  void abort() {
    {
      std::lock_guard lock(mu_);
      ending_ = true;
    }
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->socket_.set_option(net::socket_base::linger(true, 0), ignored);
      self->do_close();
    });
  }

  // From any thread: the last chunk once the queue is sent, then close.
  void finish() {
    {
      std::lock_guard lock(mu_);
      if (ending_) return;
      ending_ = true;
    }
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_finish(); });
  }

  void on_shutdown() override { do_finish(); }
  void on_abort() override { do_close(); }
  net::any_io_executor executor() override { return socket_.get_executor(); }

 private:
  void push(std::shared_ptr<const std::string> bytes, std::size_t payload) {
    if (closed_ || finishing_) return sent(payload);
    queue_.push_back({std::move(bytes), payload});
    if (queue_.size() == 1) start_writing();
  }

  // `payload` bytes that enqueue() counted have left the queue (sent, or dropped).
  void sent(std::size_t payload) {
    std::lock_guard lock(mu_);
    unsent_bytes_ -= payload;
  }

  void do_finish() {
    if (closed_ || finishing_) return;
    finishing_ = true;
    queue_.push_back({std::make_shared<const std::string>("0\r\n\r\n"), 0});
    if (queue_.size() == 1) start_writing();
  }

  // The queue was empty: the client's time to read starts now.
  void start_writing() {
    last_progress_ = std::chrono::steady_clock::now();
    do_write();
  }

  void do_write() {
    net::async_write(socket_, net::buffer(*queue_.front().bytes),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  }

  void on_write(error_code ec) {
    // A close while the write was under way emptied the queue: nothing is left to pop.
    if (closed_) return;
    if (ec) return do_close();
    last_progress_ = std::chrono::steady_clock::now();
    sent(queue_.front().payload);
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (finishing_) return do_close();
    if (opened_ && source_ && nothing_unsent()) source_->on_drained();
  }

  // Writes posted to the strand and not queued yet count: the source is told of a drain only
  // once all it wrote has gone out.
  bool nothing_unsent() {
    std::lock_guard lock(mu_);
    return unsent_bytes_ == 0;
  }

  // Nothing is expected from the client; any read completing ends the stream.
  void do_watch() {
    socket_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](error_code ec, std::size_t) {
                              if (ec != net::error::operation_aborted) self->do_close();
                            });
  }

  void arm_heartbeat() {
    if (closed_) return;
    heartbeat_.expires_after(std::chrono::milliseconds(state_.options.stream_heartbeat_ms));
    heartbeat_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      // A client that has read nothing of what waits for it for this long has stopped.
      const auto stall = std::chrono::milliseconds(self->state_.options.stream_stall_ms);
      const auto waited = std::chrono::steady_clock::now() - self->last_progress_;
      if (!self->queue_.empty() && waited > stall) {
        // Reset: the kernel would otherwise keep the unsent bytes for a peer that is gone.
        error_code ignored;
        self->socket_.set_option(net::socket_base::linger(true, 0), ignored);
        return self->do_close();
      }
      if (self->queue_.empty() && !self->finishing_) {
        self->push(std::make_shared<const std::string>(chunk(*kHeartbeat)), 0);
      }
      self->arm_heartbeat();
    });
  }

  void do_close() {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard lock(mu_);
      ending_ = true;
    }
    heartbeat_.cancel();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    for (const Queued& queued : queue_) sent(queued.payload);
    queue_.clear();
    slot_.release();
    if (opened_) notify_closed();
  }

  void notify_closed() {
    if (notified_) return;
    notified_ = true;
    auto source = std::move(source_);
    source->on_close();
  }

  tcp::socket socket_;
  net::steady_timer heartbeat_;
  std::shared_ptr<StreamSource> source_;
  ServerState& state_;
  ConnectionSlot slot_;
  struct Queued {
    std::shared_ptr<const std::string> bytes;  // a chunk as it goes on the wire
    std::size_t payload;                       // what enqueue() counted of it
  };
  std::deque<Queued> queue_;  // strand only
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
  std::array<char, 256> discard_{};
  bool opened_ = false;
  bool closed_ = false;
  bool finishing_ = false;
  bool notified_ = false;
  std::mutex mu_;                // guards the two below, written from any thread
  std::size_t unsent_bytes_ = 0;  // written by the source and not sent yet
  bool ending_ = false;
};

bool Writer::write(std::shared_ptr<const std::string> bytes) {
  auto session = session_.lock();
  return session && session->enqueue(std::move(bytes));
}

void Writer::close() {
  if (auto session = session_.lock()) session->finish();
}

void Writer::abort() {
  if (auto session = session_.lock()) session->abort();
}

}  // namespace

void start_stream_session(tcp::socket socket, std::string head,
                          std::shared_ptr<StreamSource> source, ServerState& state,
                          ConnectionSlot slot) {
  auto session =
      std::make_shared<StreamSession>(std::move(socket), std::move(source), state, std::move(slot));
  session->start(std::move(head));
}

}  // namespace handover::http

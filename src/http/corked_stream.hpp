// The layer under a server WebSocket stream that gathers its writes: every frame Beast
// writes (messages, pings, pongs, the close frame, the 101 response) is copied into a
// pending buffer and reported written at once, and one socket write at a time carries all
// that is pending. Frames queued while a write is in flight leave together in the next one,
// so a burst of N messages costs a few writes instead of N.
//
// Order is kept: Beast issues one frame write at a time and the bytes are appended in that
// order. Memory is bounded: while more than kCorkLimit bytes wait, the write that crossed
// the limit completes only once the socket took them, which holds back Beast's next frame
// and with it the session's bounded queue. Teardown (the end of the closing handshake)
// waits until everything pending has been written. Only private headers include this; it
// is used by websocket_session.cpp alone.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace handover::http {

class CorkedStream {
 public:
  // The socket itself: the session keeps its own timer, so Beast's timed stream (two more
  // timers per connection) would only cost memory.
  using next_layer_type = boost::asio::ip::tcp::socket;
  using executor_type = next_layer_type::executor_type;
  using error_code = boost::beast::error_code;

  // Bytes pending past which a write waits for the socket.
  static constexpr std::size_t kCorkLimit = 64 * 1024;
  // A buffer grown past this for a burst is given back once it has been written.
  static constexpr std::size_t kKeepCapacity = 4 * 1024;

  explicit CorkedStream(boost::asio::ip::tcp::socket socket) : next_(std::move(socket)) {}

  // What keeps the owner of this stream alive while a socket write is in flight; set once,
  // before the first write.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  executor_type get_executor() { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  const next_layer_type& next_layer() const { return next_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return next_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& data) { start_write(std::move(handler), data); },
        token, buffers);
  }

  // Completes once nothing is pending or in flight (or the socket failed).
  template <class Token>
  auto async_drain(Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [this](auto handler) {
          if (error_ || !flushing_) return complete(std::move(handler), error_);
          drain_waiter_ = erase<void(error_code)>(std::move(handler));
        },
        token);
  }

 private:
  using WriteHandler = std::function<void(error_code, std::size_t)>;
  using DrainHandler = std::function<void(error_code)>;

  // A waiting handler, copyable for std::function (Beast's handlers are move-only); calling
  // it posts the handler itself, so it still runs on its associated executor.
  template <class Signature, class Handler>
  std::function<Signature> erase(Handler handler) {
    auto held = std::make_shared<Handler>(std::move(handler));
    return [this, held](auto... args) { complete(std::move(*held), args...); };
  }

  template <class Handler, class... Args>
  void complete(Handler&& handler, Args... args) {
    // Posted, never run inline: an initiating function must not complete in its caller. The
    // handler still runs on its own associated executor.
    boost::asio::post(next_.get_executor(),
                      boost::beast::bind_front_handler(std::forward<Handler>(handler), args...));
  }

  template <class Handler, class ConstBuffers>
  void start_write(Handler handler, const ConstBuffers& data) {
    const std::size_t size = boost::asio::buffer_size(data);
    if (error_) return complete(std::move(handler), error_, std::size_t{0});
    const std::size_t at = pending_.size();
    pending_.resize(at + size);
    boost::asio::buffer_copy(boost::asio::buffer(pending_.data() + at, size), data);
    flush();
    if (pending_.size() + in_flight_.size() > kCorkLimit) {
      write_waiter_ = erase<void(error_code, std::size_t)>(std::move(handler));
      waiter_bytes_ = size;
      return;
    }
    complete(std::move(handler), error_code{}, size);
  }

  void flush() {
    if (flushing_ || pending_.empty()) return;
    auto owner = owner_.lock();
    if (!owner) return;  // the session is going away; nothing will read the result
    flushing_ = true;
    in_flight_.swap(pending_);
    boost::asio::async_write(
        next_, boost::asio::buffer(in_flight_),
        [this, owner = std::move(owner)](error_code ec, std::size_t) { on_flushed(ec); });
  }

  void on_flushed(error_code ec) {
    flushing_ = false;
    if (in_flight_.capacity() > kKeepCapacity) {
      std::string().swap(in_flight_);
    } else {
      in_flight_.clear();
    }
    if (ec) {
      error_ = ec;
      std::string().swap(pending_);
    } else {
      flush();
    }
    if (write_waiter_ && (error_ || pending_.size() + in_flight_.size() <= kCorkLimit)) {
      const WriteHandler waiter = std::exchange(write_waiter_, nullptr);
      waiter(error_, error_ ? std::size_t{0} : waiter_bytes_);
    }
    if (drain_waiter_ && (error_ || !flushing_)) {
      const DrainHandler waiter = std::exchange(drain_waiter_, nullptr);
      waiter(error_);
    }
  }

  next_layer_type next_;
  std::weak_ptr<void> owner_;
  std::string pending_;    // appended to while a write is in flight
  std::string in_flight_;  // what the socket write in flight refers to
  WriteHandler write_waiter_;
  std::size_t waiter_bytes_ = 0;
  DrainHandler drain_waiter_;
  error_code error_;  // the first failed socket write; every later write fails with it
  bool flushing_ = false;
};

// Beast ends the closing handshake with a teardown of the layer under the stream: here that
// is the socket's teardown once every pending byte (the close frame last) was written.
template <class Handler>
void async_teardown(boost::beast::role_type role, CorkedStream& stream, Handler&& handler) {
  auto executor = boost::asio::get_associated_executor(handler, stream.get_executor());
  stream.async_drain(boost::asio::bind_executor(
      executor,
      [role, &stream, h = std::forward<Handler>(handler)](CorkedStream::error_code ec) mutable {
        if (ec) return h(ec);
        using boost::beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::move(h));
      }));
}

inline void teardown(boost::beast::role_type role, CorkedStream& stream,
                     CorkedStream::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

}  // namespace handover::http

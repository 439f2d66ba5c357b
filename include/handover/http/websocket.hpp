// WebSocket endpoints on the HTTP server: the upgrade hand-off, one session per
// socket with a bounded send queue, and server pings that find dead peers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "handover/http/message.hpp"

namespace handover::http {

// All values must be positive. A frame counts against the queue limits from send() until
// it has been written to the socket.
struct WebSocketOptions {
  std::size_t max_message_bytes = 65536;    // a larger incoming message closes with 1009
  std::size_t max_queued_messages = 1024;   // a peer that does not read is cut off past this
  std::size_t max_queued_bytes = 8u << 20;  // ... or past this many queued bytes
  int ping_interval_ms = 15000;             // server ping when the peer was silent this long
  int pong_timeout_ms = 10000;              // no pong (or any frame) in time: dead peer, close
  // Limit on the opening handshake, and on the closing handshake including the frames
  // queued before it. Past it the socket is closed without further ado.
  int handshake_timeout_ms = 10000;
};

// A live connection as handlers see it. Thread-safe: every call may come from any thread.
// Holding it does not keep the socket open or its buffers alive; after on_close, calls on
// it are dropped. It must not be used after the Server is destroyed.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  // Queues a text frame (valid UTF-8). Frames are written in call order, one write in
  // flight. When the queue passes its limits the queue is dropped and the connection is
  // closed (1008); sends after a close has begun are dropped. The shared buffer lets one
  // serialised event go to many connections without copies.
  virtual void send(std::shared_ptr<const std::string> text) = 0;
  // Sends a close frame with `code` and `reason` after the frames already queued. on_close
  // follows as the close begins, without waiting for the peer's answer (the socket itself
  // stays until the peer answers or the handshake timeout passes). A code an endpoint may
  // not send is replaced by 1000; the reason is cut to 123 bytes.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Process-unique id, for logs and maps.
  virtual std::uint64_t id() const = 0;
  virtual const std::string& remote() const = 0;  // "ip:port" of the peer
  // True from on_open until a close begins.
  virtual bool is_open() const = 0;
  // Calls `ready` on the connection's network thread once every frame sent before this call
  // has been written to the socket (at once, from a posted handler, when none is waiting);
  // never when the connection closes first. A sender with more frames than the queue limits
  // allow (a long replay) sends them in parts, each after the last one drained.
  virtual void when_drained(std::function<void()> ready) = 0;
};

// Application side of one WebSocket route. Callbacks for one connection never overlap
// and arrive in order (they run on its strand); callbacks for different connections may
// run concurrently. An exception from a callback is logged; from on_upgrade it becomes a
// 500, from on_open or on_message it closes the connection with 1011.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // Called with the upgrade request before the handshake. Return a response (e.g. 401,
  // 403 problem) to refuse it, or nullopt to accept. A refusal closes the connection.
  virtual std::optional<Response> on_upgrade(const Request& request) = 0;
  // The handshake completed; `connection` is open. `request` is the upgrade request, valid
  // during the call only. Connections upgraded while the server stops are closed with
  // 1001 without on_open.
  virtual void on_open(const std::shared_ptr<WebSocketConnection>& connection,
                       const Request& request) = 0;
  // One complete text message.
  virtual void on_message(const std::shared_ptr<WebSocketConnection>& connection,
                          std::string text) = 0;
  // One complete binary message, whose bytes the session discarded as they came. By default
  // the connection is closed with 1003; a handler may answer it and keep the connection.
  virtual void on_binary_message(const std::shared_ptr<WebSocketConnection>& connection) {
    connection->close(1003, "binary messages are not supported");
  }
  // Exactly once per opened connection, whatever the cause (peer close, dead peer,
  // slow reader cut off, server shutdown), as soon as either side begins the close or the
  // socket fails: no message is delivered after it, and sends are dropped.
  virtual void on_close(const std::shared_ptr<WebSocketConnection>& connection) = 0;
};

}  // namespace handover::http

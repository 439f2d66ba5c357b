// WebSocket endpoints on the HTTP server: the upgrade hand-off, one session per
// socket with a bounded send queue, and server pings that find dead peers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "handover/http/message.hpp"

namespace handover::http {

struct WebSocketOptions {
  std::size_t max_message_bytes = 65536;    // a larger incoming frame closes with 1009
  std::size_t max_queued_messages = 1024;   // a peer that does not read is cut off past this
  std::size_t max_queued_bytes = 8u << 20;  // ... or past this many queued bytes
  int ping_interval_ms = 15000;             // server ping when the peer was silent this long
  int pong_timeout_ms = 10000;              // no pong (or any frame) in time: dead peer, close
  int handshake_timeout_ms = 10000;
};

// A live connection as handlers see it. Thread-safe: every call may come from any thread.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  // Queues a text frame. Frames are written in call order, one write in flight. When the
  // queue passes its limits the connection is closed (1008) and further sends are dropped.
  // The shared buffer lets one serialised event go to many connections without copies.
  virtual void send(std::shared_ptr<const std::string> text) = 0;
  // Sends a close frame with `code` and `reason` after the frames already queued.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Process-unique id, for logs and maps.
  virtual std::uint64_t id() const = 0;
  virtual const std::string& remote() const = 0;
  virtual bool is_open() const = 0;
};

// Application side of one WebSocket route. Callbacks for one connection never overlap
// and arrive in order; callbacks for different connections may run concurrently.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // Called with the upgrade request before the handshake. Return a response (e.g. 401,
  // 403 problem) to refuse it, or nullopt to accept.
  virtual std::optional<Response> on_upgrade(const Request& request) = 0;
  virtual void on_open(const std::shared_ptr<WebSocketConnection>& connection,
                       const Request& request) = 0;
  // One complete text message. Binary messages are refused by the session (close 1003).
  virtual void on_message(const std::shared_ptr<WebSocketConnection>& connection,
                          std::string text) = 0;
  // Exactly once per opened connection, whatever the cause (peer close, dead peer,
  // slow reader cut off, server shutdown).
  virtual void on_close(const std::shared_ptr<WebSocketConnection>& connection) = 0;
};

}  // namespace handover::http

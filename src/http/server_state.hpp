// State shared by the listener and every session (HTTP or WebSocket): options, routes,
// the tracked-session registry that shutdown walks, and the per-connection count.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "handover/http/message.hpp"
#include "handover/http/server.hpp"
#include "handover/http/websocket.hpp"

namespace handover::http {

// A session the server reaches at shutdown. Both calls are posted to the session's strand.
class TrackedSession {
 public:
  virtual ~TrackedSession() = default;
  // Shutdown began: finish the current exchange (HTTP) or close with 1001 (WebSocket).
  virtual void on_shutdown() = 0;
  // The grace period ran out: close the socket now.
  virtual void on_abort() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
};

struct WebSocketRoute {
  std::string path;  // exact match on the request target's path, before any '?'
  WebSocketHandler* handler;
  WebSocketOptions options;
};

struct ServerState {
  ServerState(ServerOptions o, Handler& h, Observer* obs)
      : options(std::move(o)), handler(h), observer(obs) {}

  // The route whose path equals `target` up to its '?', or nullptr.
  const WebSocketRoute* find_websocket_route(std::string_view target) const;
  // Registers a session for shutdown; untrack() is called from its destructor.
  void track(const std::shared_ptr<TrackedSession>& session);
  void untrack(TrackedSession* session);
  // Sessions alive right now, for posting shutdown or abort to them.
  std::vector<std::shared_ptr<TrackedSession>> live_sessions();

  ServerOptions options;
  Handler& handler;
  Observer* observer;
  std::vector<WebSocketRoute> websocket_routes;  // fixed before listen(), read-only after
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> over_limit_sessions{0};  // accepted past max_connections for probes
  std::mutex mu;
  std::unordered_map<TrackedSession*, std::weak_ptr<TrackedSession>> sessions;
};

// One accepted TCP connection, counted in connection_count() and reported to the observer
// from construction until release(). It moves from the HTTP session to the WebSocket
// session on upgrade, so an upgraded connection is counted once.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(ServerState& state);
  ConnectionSlot(ConnectionSlot&& other) noexcept : state_(other.state_) {
    other.state_ = nullptr;
  }
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() { release(); }

  // Idempotent.
  void release();

 private:
  ServerState* state_;
};

}  // namespace handover::http

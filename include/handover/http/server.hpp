// HTTP/1.1 server on Boost.Beast: keep-alive, limits, timeouts and graceful shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "handover/http/message.hpp"
#include "handover/http/websocket.hpp"
#include "handover/util/ip_network.hpp"
#include "handover/util/status.hpp"

namespace handover::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;          // 0: the OS picks one; see Server::port()
  int threads = 1;
  std::size_t max_connections = 10000;
  // Paths (before any '?', a trailing '/' ignored) still answered past max_connections, so a
  // health probe does not fail under a connection flood; such a connection closes after its
  // answer, and any other request on it gets 503. A few of these are read at a time.
  std::vector<std::string> probe_paths;
  // Milliseconds from its accept within which a connection past max_connections must have
  // sent its whole request (at most read_timeout_ms); it is closed then, so connections that
  // send nothing or trickle bytes cannot hold the few places probes are read in.
  int probe_read_timeout_ms = 2000;
  std::size_t header_limit = 8192;
  std::size_t body_limit = 65536;
  int read_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int stream_heartbeat_ms = 15000;          // a comment line on idle streams keeps proxies open
  std::size_t stream_max_queued_bytes = 1 << 20;  // a stream whose client lags more closes
  int stream_stall_ms = 60000;  // a stream whose client read nothing for this long closes
  // Peers whose X-Forwarded-For names the client (Request::remote, the access log); empty:
  // the socket peer is always the client.
  std::vector<ip::Network> trusted_proxies;
};

class Server {
 public:
  // `handler` and `observer` must outlive the server; observer may be null.
  Server(ServerOptions options, Handler& handler, Observer* observer);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes WebSocket upgrades whose target path (the part before any '?') equals `path`
  // to `handler`, which must outlive the server; registering a path again replaces it.
  // Other upgrades reach the Handler like any request. Call before listen(), from the
  // thread that owns the server. An upgraded connection stays in connection_count(), and
  // shutdown() closes it with 1001 (going away).
  void add_websocket(std::string path, WebSocketHandler& handler, WebSocketOptions options);
  // Binds and listens. Fails with a clear message when the address is taken or invalid.
  // A host name is resolved: its first IPv4 address is used, else its first address.
  Status listen();
  // Whether listen() could bind `address` (an IP address or a host name) and `port` now,
  // found by binding a socket and closing it again: for start-up, before anything is
  // created. The port may still be taken in between.
  static Status check_can_listen(const std::string& address, std::uint16_t port);
  // The bound port (after listen()).
  std::uint16_t port() const;
  // Runs the network threads; returns after shutdown() completes. Call once.
  void run();
  // Thread-safe and signal-safe to request from any thread: stops accepting, lets
  // in-flight requests finish (new requests on kept-alive connections are refused by
  // closing), closes WebSockets with 1001, and waits up to grace_ms. Connections still
  // open then are aborted (WebSocket handlers still get on_close), and the network threads
  // stop at most 200 ms later.
  void shutdown(int grace_ms);
  // Number of open connections.
  std::size_t connection_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::http

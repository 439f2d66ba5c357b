// Outbound HTTP/1.1 client for bot webhooks and integration webhooks, with connect and
// response timeouts. Plain http:// only: put a TLS-terminating proxy in front of https
// endpoints. Keeps Beast out of its callers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "handover/http/message.hpp"
#include "handover/util/status.hpp"
#include "handover/util/url.hpp"

namespace handover::http {

struct ClientRequest {
  std::string method = "POST";
  url::HttpUrl url;
  Headers headers;  // sent as given; Host, Content-Length and Connection are set by the client
  std::string body;
  int connect_timeout_ms = 2000;    // resolving and connecting
  int response_timeout_ms = 5000;   // from connected to the whole response read
  std::size_t max_response_bytes = 1 << 20;  // larger responses fail with kProtocol
};

struct ClientResponse {
  int status = 0;
  Headers headers;  // names lower-cased, in arrival order
  std::string body;

  // First value of a header (name in lower case), or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

// Why an exchange failed before a response arrived.
enum class ClientError {
  kNone,
  kConnect,   // name resolution failed, connection refused or not established in time
  kTimeout,   // connected, but the response did not arrive in time
  kProtocol,  // the peer closed early or sent something that is not an HTTP response
  kStopped,   // the client was stopped
};

const char* client_error_name(ClientError error);

struct ClientOutcome {
  ClientError error = ClientError::kNone;
  std::string detail;       // why, for logs; empty on success
  ClientResponse response;  // valid when error is kNone (any status, also 5xx)

  bool ok() const { return error == ClientError::kNone; }
};

using ClientCallback = std::function<void(ClientOutcome)>;

// Owns its I/O threads. Every exchange uses a new connection ("Connection: close"), which
// keeps retries simple and is cheap on loopback and behind a proxy.
// Thread-safety: every method may be called from any thread, also from a callback.
class Client {
 public:
  explicit Client(int threads = 1);
  ~Client();  // calls stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request`; `done` runs exactly once on an I/O thread with the outcome, unless the
  // client is stopped first (then it gets kStopped, or does not run if the threads are gone).
  void send(ClientRequest request, ClientCallback done);

  // Runs `task` on an I/O thread after `delay_ms` (0: soon). Tasks still waiting when the
  // client stops are dropped without running.
  void run_after(std::int64_t delay_ms, std::function<void()> task);

  // Cancels every exchange and timer and joins the I/O threads. Idempotent. Must not be
  // called from an I/O thread (a callback).
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace handover::http

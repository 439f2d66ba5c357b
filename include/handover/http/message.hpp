// Plain request and response values that cross from the network layer to handlers,
// so that handlers never include Beast.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handover::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent, e.g. "/v1/conversations/c_1/turns?after=3"
  unsigned version = 11;  // 10 or 11
  Headers headers;      // names lower-cased, in arrival order
  std::string body;
  // The client: "ip:port" of the socket peer, or, when the peer is a trusted proxy, the
  // client's "ip" from X-Forwarded-For (see ServerOptions::trusted_proxies).
  std::string remote;
  // The client's X-Request-Id when it is 1 to 128 visible ASCII characters, else one the
  // server made; the answer carries it back in X-Request-Id.
  std::string request_id;
  std::int64_t received_at_ns = 0;  // steady clock, for latency

  // First value of a header (name in lower case), or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

// The network side of a streamed response body. Thread-safe; calls after the stream closed
// are ignored.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues bytes for the client. False when the stream is closed, or when the client reads
  // too slowly and the queue is full: the stream then closes.
  virtual bool write(std::shared_ptr<const std::string> bytes) = 0;
  // Ends the body and closes the connection once what is queued is sent.
  virtual void close() = 0;
  // Closes the connection now, throwing away what is queued, in the kernel's buffers too: for
  // a stream whose content may no longer be sent (its conversation was erased).
  virtual void abort() { close(); }
};

// A handler's side of a streamed response (Server-Sent Events). The network layer calls it
// on the connection's strand, one call at a time.
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // The status line and headers are sent. `writer` stays usable until on_close.
  virtual void on_open(std::shared_ptr<StreamWriter> writer) = 0;
  // The peer went away, the stream was closed, or the server is stopping. Called once,
  // after on_open.
  virtual void on_close() = 0;
  // Everything written so far has reached the socket. A source with much to send (a replay)
  // writes a part, then the next part from here, so the client's queue stays short.
  virtual void on_drained() {}
};

struct Response {
  int status = 200;
  std::string content_type;  // empty for no body
  std::string body;
  Headers headers;           // extra headers
  bool close = false;        // close the connection after this response
  std::string route;         // route template for logs and metrics, e.g. "/v1/conversations/{id}"
  // When set, the body is streamed (chunked) from this source instead of `body`, and the
  // connection serves nothing else afterwards.
  std::shared_ptr<StreamSource> stream;
  // When set, the body is what this returns, called on the connection's strand just before
  // the response is written: a handler that answers from another thread (after a store
  // commit, say) leaves the serialising to the network thread.
  std::function<std::string()> make_body;

  void set_header(std::string name, std::string value);
};

// Delivers the response for one request. Callable from any thread, exactly once.
using Responder = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the connection's strand. Must eventually call `respond` once; may do so
  // later from another thread (for example after a store commit).
  virtual void handle(Request request, Responder respond) = 0;
};

// Told about every finished exchange, including ones the network layer answered itself
// (431, 413, framing errors). Called on the connection's strand.
struct ExchangeRecord {
  const std::string& method;
  const std::string& route;
  int status;
  double seconds;
  std::size_t bytes_in;
  std::size_t bytes_out;
  const std::string& remote;      // as Request::remote
  const std::string& request_id;  // as Request::request_id, or made for a request refused early
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_exchange(const ExchangeRecord& record) = 0;
  virtual void on_connection_open() = 0;
  virtual void on_connection_close() = 0;
  // accept() failed, for want of descriptors or memory, say. Called on the listener's strand.
  virtual void on_accept_failure() {}
};

// An RFC 9457 problem+json response. `type_slug` becomes "/problems/<slug>".
Response problem(int status, std::string_view type_slug, std::string_view title,
                 std::string_view detail);

// Standard reason phrase ("Not Found").
std::string_view reason_phrase(int status);

}  // namespace handover::http

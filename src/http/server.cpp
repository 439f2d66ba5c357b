// HTTP/1.1 listener and per-connection sessions on Boost.Beast.
//
// Each session lives on its own strand (with one network thread, on that thread), reads one
// request at a time (no pipelining is answered out of order), hands it to the Handler and
// writes the response when the handler's Responder fires, possibly from another thread. A
// WebSocket upgrade on a registered path hands the socket to a WebSocket session
// (websocket_session.cpp).
#include "handover/http/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "forwarded.hpp"
#include "handover/logging/request_context.hpp"
#include "handover/util/log_throttle.hpp"
#include "handover/util/thread_name.hpp"
#include "request_id.hpp"
#include "server_state.hpp"
#include "stream_session.hpp"
#include "websocket_session.hpp"

namespace handover::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// RFC 9110 IMF-fixdate, recomputed at most once per second per thread.
const std::string& http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const std::string kEmptyRoute;

// Whether the peer is a trusted proxy, whose X-Forwarded-For names the client.
bool is_trusted_proxy(const net::ip::address& peer, const std::vector<ip::Network>& trusted) {
  if (trusted.empty()) return false;
  const std::optional<ip::Address> address = ip::parse_address(peer.to_string());
  return address && ip::any_contains(trusted, *address);
}

// What the network layer adds to the answers it makes itself, as the API does to its own: they
// are never cached or sniffed, and the connection closes after them.
Response closing(Response r) {
  r.close = true;
  r.set_header("Cache-Control", "no-store");
  r.set_header("X-Content-Type-Options", "nosniff");
  return r;
}

// An absolute-form request target ("http://host/path?query"), which a server must accept
// (RFC 9112, section 3.2.2), as the origin form the handlers route on ("/path?query").
std::string origin_form(std::string_view target) {
  std::size_t scheme_end = target.find("://");
  if (target.empty() || target.front() == '/' || scheme_end == std::string_view::npos ||
      !(beast::iequals(target.substr(0, scheme_end), "http") ||
        beast::iequals(target.substr(0, scheme_end), "https"))) {
    return std::string(target);
  }
  const std::string_view rest = target.substr(scheme_end + 3);
  const std::size_t path = rest.find_first_of("/?#");
  if (path == std::string_view::npos) return "/";
  if (rest[path] == '/') return std::string(rest.substr(path));
  return "/" + std::string(rest.substr(path));
}

class Session final : public TrackedSession, public std::enable_shared_from_this<Session> {
  beast::tcp_stream stream_;
  // Bounds the time to receive one whole request. Unlike the stream's own timeout it
  // only cancels the read, so the session can still answer 408.
  net::steady_timer read_timer_;
  bool read_timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // The response being written: its head, composed here, and its body. response_status_ is 0
  // while none is.
  std::string response_head_;
  std::string response_body_;
  int response_status_ = 0;
  ServerState& shared_;
  ConnectionSlot slot_;  // moves to the WebSocket session on upgrade
  // Accepted past max_connections: serves one probe (see ServerOptions::probe_paths) and
  // answers anything else 503. Its whole request must arrive by over_limit_deadline_, so that
  // silent or slow connections cannot keep the few such slots from a probe.
  const bool over_limit_;
  bool holds_over_limit_slot_ = false;
  std::chrono::steady_clock::time_point over_limit_deadline_;
  std::string remote_;     // the socket peer, "ip:port"
  bool peer_trusted_ = false;
  std::string forwarded_;  // this request's client from X-Forwarded-For, if the peer is trusted
  std::string method_;
  std::string route_;
  std::string request_id_;  // echoed in the answer; empty until the request has one
  unsigned version_ = 11;
  bool request_keep_alive_ = true;
  bool in_flight_ = false;
  bool request_complete_ = false;
  bool close_after_write_ = false;
  std::size_t bytes_in_ = 0;
  std::int64_t started_ns_ = 0;
  // Chunk extensions count against the header limit: Beast bounds neither them nor the
  // chunk-size lines that carry them. The parser keeps a reference to the callback.
  std::size_t chunk_extension_bytes_ = 0;
  std::function<void(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_header_ =
      [this](std::uint64_t, beast::string_view extensions, beast::error_code& ec) {
        chunk_extension_bytes_ += extensions.size();
        if (chunk_extension_bytes_ > shared_.options.header_limit) {
          ec = bhttp::error::bad_chunk_extension;
        }
      };

 public:
  Session(tcp::socket socket, ServerState& shared, bool over_limit)
      : stream_(std::move(socket)),
        read_timer_(stream_.get_executor()),
        shared_(shared),
        slot_(shared),
        over_limit_(over_limit) {
    if (over_limit_) {
      shared_.over_limit_sessions.fetch_add(1);
      holds_over_limit_slot_ = true;
      close_after_write_ = true;
      over_limit_deadline_ =
          std::chrono::steady_clock::now() +
          std::chrono::milliseconds(
              std::min(shared_.options.probe_read_timeout_ms, shared_.options.read_timeout_ms));
    }
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return;
    remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    peer_trusted_ = is_trusted_proxy(ep.address(), shared_.options.trusted_proxies);
  }

  ~Session() override {
    release_slots();
    shared_.untrack(this);
  }

  void start() {
    shared_.track(shared_from_this());
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::do_wait_request, shared_from_this()));
  }

  // Posted by Server::shutdown: an idle connection closes now, a busy one after its
  // current response. (After an upgrade in_flight_ stays set, so this does nothing.)
  void on_shutdown() override {
    close_after_write_ = true;
    if (!in_flight_) do_close();
  }

  void on_abort() override { do_close(); }

  net::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  void do_wait_request() {
    if (shared_.stopping) return do_close();
    if (buffer_.size() > 0) return do_read_header();
    // Waiting for the first byte of the next request is governed by the idle timeout; a
    // connection over the limit has its deadline from the accept.
    if (over_limit_) {
      stream_.expires_at(over_limit_deadline_);
    } else {
      stream_.expires_after(std::chrono::milliseconds(shared_.options.idle_timeout_ms));
    }
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::on_first_bytes,
                                                      shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (ec) return do_close();
    buffer_.commit(n);
    do_read_header();
  }

  void do_read_header() {
    started_ns_ = steady_ns();
    bytes_in_ = buffer_.size();
    method_.clear();
    route_.clear();
    forwarded_.clear();
    request_id_.clear();
    version_ = 11;  // until this request's own line is read: a malformed one is answered in 1.1
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
    parser_->body_limit(shared_.options.body_limit);
    chunk_extension_bytes_ = 0;
    parser_->on_chunk_header(on_chunk_header_);
    stream_.expires_never();
    arm_read_timer();
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header,
                                                       shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t header_bytes) {
    in_flight_ = true;
    request_complete_ = false;
    // Beast checks its limit per parse call and drops the fields it parsed before the next
    // one, so a header read in several pieces could pass at nearly twice the limit.
    if (!ec && header_bytes > shared_.options.header_limit) ec = bhttp::error::header_limit;
    // A refused header (too large, a body over the limit) is still counted with its method
    // when the request line was read.
    if (ec) {
      method_ = std::string(parser_->get().method_string());
      return fail_read(ec, /*header_phase=*/true);
    }

    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    version_ = req.version();
    if (peer_trusted_) read_forwarded_for(req);
    take_request_id(req);
    if (auto problem_response = check_framing(req)) return write(std::move(*problem_response));
    if (over_limit_ && !is_probe(origin_form({req.target().data(), req.target().size()}))) {
      return write(too_many_connections());
    }

    // An HTTP/1.0 client would take a 100 for the answer (RFC 9110, section 10.1.1).
    if (version_ >= 11 && lower(req[bhttp::field::expect]) == "100-continue") {
      return do_continue();
    }
    do_read_body();
  }

  // Fields sent more than once form one list, in order.
  void read_forwarded_for(const bhttp::request<bhttp::string_body>& req) {
    std::string joined;
    for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
      if (!joined.empty()) joined += ',';
      joined.append(it->value().data(), it->value().size());
    }
    forwarded_ = forwarded_client(joined, shared_.options.trusted_proxies);
  }

  // The client's X-Request-Id when it is fit to echo, else a new one.
  void take_request_id(const bhttp::request<bhttp::string_body>& req) {
    const auto sent = req["X-Request-Id"];
    if (is_acceptable_request_id(std::string_view(sent.data(), sent.size()))) {
      request_id_.assign(sent.data(), sent.size());
    } else {
      next_request_id(request_id_);
    }
  }

  // The request's client: the peer, or whom a trusted proxy forwarded for.
  const std::string& client() const { return forwarded_.empty() ? remote_ : forwarded_; }

  bool is_probe(std::string_view target) const {
    std::string_view path = target.substr(0, target.find('?'));
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    const auto& probes = shared_.options.probe_paths;
    return std::find(probes.begin(), probes.end(), path) != probes.end();
  }

  static Response too_many_connections() {
    Response r = problem(503, "too-many-connections", "Too many connections",
                         "the server is at its connection limit");
    r.set_header("Retry-After", "1");
    return closing(std::move(r));
  }

  // Refuses requests whose body length is ambiguous (request smuggling vectors).
  std::optional<Response> check_framing(const bhttp::request<bhttp::string_body>& req) {
    const auto lengths = req.count(bhttp::field::content_length);
    const bool has_te = req.count(bhttp::field::transfer_encoding) > 0;
    std::string detail;
    if (lengths > 1) detail = "more than one Content-Length header";
    else if (lengths == 1 && has_te) detail = "both Content-Length and Transfer-Encoding";
    else if (has_te && req.version() < 11) detail = "Transfer-Encoding on HTTP/1.0";
    else if (has_te && lower(req[bhttp::field::transfer_encoding]) != "chunked")
      detail = "unsupported Transfer-Encoding (only 'chunked')";
    if (detail.empty()) return check_fields(req);
    return closing(problem(400, "bad-framing", "Ambiguous request framing", detail));
  }

  // RFC 9112 requires exactly one Host on HTTP/1.1; two Authorization headers would let
  // different parts of a chain pick different credentials.
  static std::optional<Response> check_fields(const bhttp::request<bhttp::string_body>& req) {
    const auto hosts = req.count(bhttp::field::host);
    std::string detail;
    if (req.version() >= 11 && hosts == 0) detail = "an HTTP/1.1 request needs a Host header";
    else if (hosts > 1) detail = "more than one Host header";
    else if (req.count(bhttp::field::authorization) > 1)
      detail = "more than one Authorization header";
    if (detail.empty()) return std::nullopt;
    return closing(problem(400, "bad-request", "Malformed HTTP request", detail));
  }

  void do_continue() {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->do_close();
                       self->do_read_body();
                     });
  }

  void do_read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void arm_read_timer() {
    read_timed_out_ = false;
    if (over_limit_) {
      read_timer_.expires_at(over_limit_deadline_);
    } else {
      read_timer_.expires_after(std::chrono::milliseconds(shared_.options.read_timeout_ms));
    }
    read_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the request arrived in time
      self->read_timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return fail_read(ec, /*header_phase=*/false);
    read_timer_.cancel();
    request_complete_ = true;
    dispatch_request();
  }

  void fail_read(beast::error_code ec, bool header_phase) {
    read_timer_.cancel();
    if (read_timed_out_) ec = beast::error::timeout;
    const bool nothing_read = header_phase && parser_ && !parser_->got_some();
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        (nothing_read && ec == beast::error::timeout)) {
      return do_close();
    }
    Response r;
    if (ec == bhttp::error::header_limit) {
      r = problem(431, "header-too-large", "Request header fields too large",
                  "request line and headers exceed " +
                      std::to_string(shared_.options.header_limit) + " bytes");
    } else if (ec == bhttp::error::body_limit) {
      r = problem(413, "body-too-large", "Request body too large",
                  "body exceeds " + std::to_string(shared_.options.body_limit) + " bytes");
    } else if (ec == beast::error::timeout) {
      r = problem(408, "request-timeout", "Request timeout",
                  "the request was not received in time");
    } else if (chunk_extension_bytes_ > shared_.options.header_limit) {
      r = problem(400, "bad-request", "Malformed HTTP request",
                  "chunk extensions exceed " + std::to_string(shared_.options.header_limit) +
                      " bytes");
    } else {
      r = problem(400, "bad-request", "Malformed HTTP request", ec.message());
    }
    in_flight_ = true;
    write(closing(std::move(r)));
  }

  Request to_request(bhttp::request<bhttp::string_body>& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = origin_form(msg.target());
    req.version = msg.version();
    request_keep_alive_ = msg.keep_alive();
    req.headers.reserve(8);
    for (const auto& field : msg) {
      req.headers.emplace_back(lower(field.name_string()), field.value());
    }
    req.body = std::move(msg.body());
    req.remote = client();
    req.request_id = request_id_;
    req.received_at_ns = started_ns_;
    bytes_in_ = req.body.size() + req.target.size();
    return req;
  }

  void dispatch_request() {
    auto msg = parser_->release();
    Request req = to_request(msg);
    if (beast::websocket::is_upgrade(msg)) {
      if (const auto* route = shared_.find_websocket_route(req.target)) {
        return do_upgrade(*route, std::move(msg), std::move(req));
      }
    }

    auto self = shared_from_this();
    auto responder = [self](Response response) {
      net::post(self->executor(), [self, r = std::move(response)]() mutable {
        self->write(std::move(r));
      });
    };
    // What the handler logs names the request; the access line, written with the answer
    // after this returns, has the id already.
    logging::RequestScope scope(request_id_);
    // A handler bug must cost one request, not the process.
    try {
      shared_.handler.handle(std::move(req), responder);
    } catch (const std::exception& e) {
      spdlog::error("handler threw: {}", e.what());
      responder(
          closing(problem(500, "internal", "Internal error", "the request could not be handled")));
    }
  }

  // The route's handler may refuse the upgrade with a response; otherwise the socket and the
  // request go to a WebSocket session, and this session ends once its handlers return.
  // Bytes the client sent after the upgrade request are dropped: RFC 6455 forbids them
  // before the handshake response.
  void do_upgrade(const WebSocketRoute& route, bhttp::request<bhttp::string_body> msg,
                  Request req) {
    std::optional<Response> refusal;
    {
      logging::RequestScope scope(request_id_);
      try {
        refusal = route.handler->on_upgrade(req);
      } catch (const std::exception& e) {
        spdlog::error("websocket on_upgrade threw: {}", e.what());
        refusal = problem(500, "internal", "Internal error", "the request could not be handled");
      }
    }
    if (refusal) {
      refusal->close = true;
      if (refusal->route.empty()) refusal->route = route.path;
      return write(std::move(*refusal));
    }
    route_ = route.path;
    record(101, 0);
    start_websocket_session(stream_.release_socket(), std::move(msg), std::move(req), route,
                            shared_, std::move(slot_));
  }

  // `chunked_head`: the head of a streamed answer, for HEAD, which announces the chunked
  // coding GET would use instead of a length.
  void write(Response r, bool chunked_head = false) {
    read_timer_.cancel();
    // A request refused before its header was read has no id yet.
    if (request_id_.empty()) next_request_id(request_id_);
    route_ = r.route;
    if (r.make_body) r.body = std::exchange(r.make_body, nullptr)();
    if (r.stream) return do_stream(std::move(r));
    const bool keep_alive = request_keep_alive_ && !r.close && !close_after_write_ &&
                            !shared_.stopping && request_complete_;
    close_after_write_ = close_after_write_ || !keep_alive;
    response_status_ = r.status;
    response_head_ = compose_head(r, keep_alive, chunked_head);
    response_body_ = std::move(r.body);
    if (method_ == "HEAD" || !may_have_body(r.status)) response_body_.clear();
    // A connection over the limit that does not read its answer must not keep its slot long.
    stream_.expires_after(std::chrono::milliseconds(
        over_limit_ ? std::min(shared_.options.probe_read_timeout_ms,
                               shared_.options.read_timeout_ms)
                    : shared_.options.read_timeout_ms));
    const std::array<net::const_buffer, 2> buffers{net::buffer(response_head_),
                                                   net::buffer(response_body_)};
    net::async_write(stream_, buffers,
                     beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  // 1xx, 204 and 304 answers end with their head (RFC 9110, section 6.4.1).
  static bool may_have_body(int status) {
    return status >= 200 && status != 204 && status != 304;
  }

  // The status line and header block, composed in one string: a response is one buffer of
  // head and one of body, written in one call. Content-Length counts the body a GET would get,
  // also for HEAD.
  std::string compose_head(const Response& r, bool keep_alive, bool chunked_head) const {
    std::string head;
    head.reserve(192 + r.content_type.size());
    head += version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    head += std::to_string(r.status);
    head += ' ';
    head += phrase_of(r.status);
    append_field(head, "Date", http_date());
    if (!r.content_type.empty()) append_field(head, "Content-Type", r.content_type);
    append_field(head, "X-Request-Id", request_id_);
    for (std::size_t i = 0; i < r.headers.size(); ++i) {
      const auto& [name, value] = r.headers[i];
      if (!replaced_later(r.headers, i) && !owned_by_server(name)) append_field(head, name, value);
    }
    if (chunked_head) {
      append_field(head, "Transfer-Encoding", "chunked");
    } else if (may_have_body(r.status)) {
      append_field(head, "Content-Length", std::to_string(r.body.size()));
    }
    if (!keep_alive && version_ >= 11) append_field(head, "Connection", "close");
    if (keep_alive && version_ < 11) append_field(head, "Connection", "keep-alive");
    head += "\r\n\r\n";
    return head;
  }

  // RFC 9110's phrase where reason_phrase() knows the status, else Beast's.
  static std::string_view phrase_of(int status) {
    const std::string_view phrase = reason_phrase(status);
    if (phrase != "Unknown") return phrase;
    return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  }

  // A header set twice counts once, with its last value, as Response::set_header would have.
  static bool replaced_later(const Headers& headers, std::size_t i) {
    for (std::size_t j = i + 1; j < headers.size(); ++j) {
      if (beast::iequals(headers[j].first, headers[i].first)) return true;
    }
    return false;
  }

  // The fields the session writes itself: one from a handler would frame the answer twice.
  static bool owned_by_server(std::string_view name) {
    for (std::string_view owned :
         {"Date", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection",
          "X-Request-Id"}) {
      if (beast::iequals(name, owned)) {
        spdlog::error("http: response header {} left out: the server sets it", name);
        return true;
      }
    }
    return false;
  }

  // A field name must be a token and a value may hold no control character but a tab
  // (RFC 9110, section 5). Anything else is a handler bug, and the field is left out rather
  // than let it break the head.
  static void append_field(std::string& head, std::string_view name, std::string_view value) {
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), is_token_char);
    const bool value_ok = std::none_of(value.begin(), value.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return (byte < 0x20 && byte != '\t') || byte == 0x7f;
    });
    if (!name_ok || !value_ok) {
      spdlog::error("http: response header {} left out: it would break the head", name);
      return;
    }
    head += "\r\n";
    head += name;
    head += ": ";
    head += value;
  }

  static bool is_token_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte)) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  }

  // Hands the socket to a stream session once the head is composed. A stream needs chunked
  // framing, which HTTP/1.0 lacks.
  void do_stream(Response r) {
    if (method_ == "HEAD") {
      // The head a GET would get, without the stream.
      r.stream.reset();
      return write(std::move(r), /*chunked_head=*/true);
    }
    if (version_ < 11 || shared_.stopping) {
      Response refusal =
          problem(version_ < 11 ? 505 : 503, "stream-unavailable", "Stream unavailable",
                  version_ < 11 ? "event streams need HTTP/1.1" : "the server is stopping");
      refusal.route = r.route;
      return write(closing(std::move(refusal)));
    }
    std::string head = compose_head(r, /*keep_alive=*/false, /*chunked_head=*/true);
    record(r.status, head.size());
    start_stream_session(stream_.release_socket(), std::move(head), std::move(r.stream), shared_,
                         std::move(slot_));
  }

  void on_write(beast::error_code ec, std::size_t bytes) {
    in_flight_ = false;
    if (response_status_ != 0) record(response_status_, bytes);
    response_status_ = 0;
    std::string().swap(response_body_);  // an idle connection keeps no answer's memory
    response_head_.clear();
    if (ec || close_after_write_) return do_close();
    do_wait_request();
  }

  void record(int status, std::size_t bytes_out) {
    if (!shared_.observer) return;
    const double seconds = static_cast<double>(steady_ns() - started_ns_) / 1e9;
    const std::string method = method_.empty() ? "-" : method_;
    const std::string& route = route_.empty() ? kEmptyRoute : route_;
    shared_.observer->on_exchange({method, route, status, seconds, bytes_in_, bytes_out, client(),
                                 request_id_});
  }

  // The socket closes now, and the slots it held are free at once: the session object itself
  // may live on a little, until its cancelled operations have completed.
  void do_close() {
    read_timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
    release_slots();
  }

  void release_slots() {
    if (holds_over_limit_slot_) shared_.over_limit_sessions.fetch_sub(1);
    holds_over_limit_slot_ = false;
    slot_.release();
  }
};

}  // namespace

const WebSocketRoute* ServerState::find_websocket_route(std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const auto& route : websocket_routes) {
    if (route.path == path) return &route;
  }
  return nullptr;
}

void ServerState::track(const std::shared_ptr<TrackedSession>& session) {
  std::lock_guard lock(mu);
  sessions.emplace(session.get(), session);
}

void ServerState::untrack(TrackedSession* session) {
  std::lock_guard lock(mu);
  sessions.erase(session);
}

std::vector<std::shared_ptr<TrackedSession>> ServerState::live_sessions() {
  std::vector<std::shared_ptr<TrackedSession>> live;
  std::lock_guard lock(mu);
  live.reserve(sessions.size());
  for (auto& [ptr, weak] : sessions) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  return live;
}

ConnectionSlot::ConnectionSlot(ServerState& state) : state_(&state) {
  state_->connections.fetch_add(1);
  if (state_->observer) state_->observer->on_connection_open();
}

void ConnectionSlot::release() {
  if (!state_) return;
  state_->connections.fetch_sub(1);
  if (state_->observer) state_->observer->on_connection_close();
  state_ = nullptr;
}

struct Server::Impl {
  ServerState shared;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_timer;  // the pause after a failed accept, on the acceptor's strand
  std::chrono::milliseconds accept_backoff{0};
  LogThrottle accept_log;
  std::uint16_t bound_port = 0;
  std::atomic<bool> shutdown_requested{false};

  Impl(ServerOptions options, Handler& handler, Observer* observer)
      : shared(std::move(options), handler, observer),
        ioc(shared.options.threads),
        acceptor(connection_executor()),
        accept_timer(acceptor.get_executor()) {}

  // With one network thread every handler already runs on it, one at a time, so a strand per
  // connection would only add a queue and a lock to each of them.
  net::any_io_executor connection_executor() {
    if (shared.options.threads == 1) return ioc.get_executor();
    return net::make_strand(ioc);
  }

  void do_accept() {
    acceptor.async_accept(connection_executor(), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) return on_accept_error(ec);
      accept_backoff = {};
      on_accept(std::move(s));
      do_accept();
    });
  }

  // Out of descriptors or memory, the connection stays queued and accepting again at once
  // fails again at once: the loop would spin a core and starve every other connection. So
  // it waits, from 50 ms doubling to 1 s, until connections close and free descriptors.
  void on_accept_error(const beast::error_code& ec) {
    if (shared.observer) shared.observer->on_accept_failure();
    if (!out_of_resources(ec)) return do_accept();  // e.g. a peer that gave up while queued
    accept_backoff = std::clamp(accept_backoff * 2, kMinAcceptBackoff, kMaxAcceptBackoff);
    if (std::uint64_t suppressed = 0; accept_log.admit(suppressed)) {
      spdlog::warn("http: cannot accept connections: {}; retrying in {} ms (open={} "
                   "suppressed={}); raise the open file limit or lower http.max_connections",
                   ec.message(), accept_backoff.count(), shared.connections.load(), suppressed);
    }
    accept_timer.expires_after(accept_backoff);
    accept_timer.async_wait([this](beast::error_code wait_ec) {
      if (wait_ec || !acceptor.is_open()) return;
      do_accept();
    });
  }

  static bool out_of_resources(const beast::error_code& ec) {
    if (ec.category() != boost::system::system_category()) return false;
    const int value = ec.value();
    return value == EMFILE || value == ENFILE || value == ENOBUFS || value == ENOMEM;
  }

  // At the connection limit a few more connections are read, so that a health probe is still
  // answered and a flood does not get a healthy server restarted; past those, a short 503.
  void on_accept(tcp::socket socket) {
    const bool over_limit = shared.connections.load() >= shared.options.max_connections;
    if (over_limit && (shared.options.probe_paths.empty() ||
                       shared.over_limit_sessions.load() >= kOverLimitSessions)) {
      return refuse(socket);
    }
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(std::move(socket), shared, over_limit)->start();
  }

  // Far over the connection limit: a short 503 and close, without creating a session.
  static void refuse(tcp::socket& socket) {
    static const std::string kBusy = [] {
      const std::string body =
          "{\"type\":\"/problems/too-many-connections\",\"title\":\"Too many connections\","
          "\"status\":503,\"detail\":\"the server is at its connection limit\"}";
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
             "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(kBusy), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  void begin_shutdown(int grace_ms) {
    shared.stopping = true;
    beast::error_code ec;
    acceptor.close(ec);
    accept_timer.cancel();
    for (auto& s : shared.live_sessions()) net::post(s->executor(), [s] { s->on_shutdown(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    wait_for_drain(std::make_shared<net::steady_timer>(ioc), deadline, /*aborted=*/false);
  }

  // Past the grace period the remaining sessions are aborted and get a moment to run their
  // close callbacks (WebSocket on_close) before the network threads stop.
  void wait_for_drain(std::shared_ptr<net::steady_timer> timer,
                      std::chrono::steady_clock::time_point deadline, bool aborted) {
    const auto now = std::chrono::steady_clock::now();
    if (shared.connections.load() == 0 || (aborted && now >= deadline)) {
      ioc.stop();
      return;
    }
    if (now >= deadline) {
      for (auto& s : shared.live_sessions()) net::post(s->executor(), [s] { s->on_abort(); });
      deadline = now + kAbortAllowance;
      aborted = true;
    }
    timer->expires_after(std::chrono::milliseconds(10));
    timer->async_wait([this, timer, deadline, aborted](beast::error_code) {
      wait_for_drain(timer, deadline, aborted);
    });
  }

  static constexpr std::chrono::milliseconds kAbortAllowance{200};
  static constexpr std::size_t kOverLimitSessions = 16;
  static constexpr std::chrono::milliseconds kMinAcceptBackoff{50};
  static constexpr std::chrono::milliseconds kMaxAcceptBackoff{1000};
};

Server::Server(ServerOptions options, Handler& handler, Observer* observer)
    : impl_(std::make_unique<Impl>(std::move(options), handler, observer)) {}

Server::~Server() = default;

void Server::add_websocket(std::string path, WebSocketHandler& handler, WebSocketOptions options) {
  // Sessions keep references into the route list, which must not change once they run.
  assert(impl_->bound_port == 0 && "add_websocket() after listen()");
  assert(options.max_message_bytes > 0 && options.max_queued_messages > 0 &&
         options.max_queued_bytes > 0 && options.ping_interval_ms > 0 &&
         options.pong_timeout_ms > 0 && options.handshake_timeout_ms > 0);
  auto& routes = impl_->shared.websocket_routes;
  for (auto& route : routes) {
    if (route.path == path) {
      route.handler = &handler;
      route.options = options;
      return;
    }
  }
  routes.push_back(WebSocketRoute{std::move(path), &handler, options});
}

namespace {

// An IP address as it is; for a host name its first IPv4 address, or its first address when
// it has none ("localhost" is 127.0.0.1, where clients look first).
Result<net::ip::address> listen_address(net::io_context& ioc, const std::string& text) {
  beast::error_code ec;
  auto address = net::ip::make_address(text, ec);
  if (!ec) return address;
  tcp::resolver resolver(ioc);
  const auto found = resolver.resolve(text, "", tcp::resolver::passive, ec);
  if (ec || found.empty()) {
    return Status::invalid_argument("bad listen address '" + text + "': " +
                                    (ec ? ec.message() : std::string("no address found")));
  }
  for (const auto& entry : found) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint().address();
  }
  return found.begin()->endpoint().address();
}

// Opens, binds and listens on `endpoint` with `acceptor`.
Status bind_and_listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  beast::error_code ec;
  const auto step = [&](const char* what) {
    return Status::unavailable(std::string(what) + " " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return step("cannot open socket for");
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec)
    return step("cannot set SO_REUSEADDR on");
  if (acceptor.bind(endpoint, ec); ec) return step("cannot bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec)
    return step("cannot listen on");
  return Status::ok();
}

}  // namespace

Status Server::check_can_listen(const std::string& address, std::uint16_t port) {
  net::io_context ioc;
  auto resolved = listen_address(ioc, address);
  if (!resolved) return resolved.status();
  tcp::acceptor probe(ioc);
  return bind_and_listen(probe, tcp::endpoint(*resolved, port));
}

Status Server::listen() {
  auto address = listen_address(impl_->ioc, impl_->shared.options.address);
  if (!address) return address.status();
  const tcp::endpoint endpoint(*address, impl_->shared.options.port);
  auto& acceptor = impl_->acceptor;
  if (Status s = bind_and_listen(acceptor, endpoint); !s.is_ok()) return s;
  impl_->bound_port = acceptor.local_endpoint().port();
  impl_->do_accept();
  return Status::ok();
}

std::uint16_t Server::port() const { return impl_->bound_port; }

void Server::run() {
  const int extra = std::max(0, impl_->shared.options.threads - 1);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(extra));
  for (int i = 0; i < extra; ++i) {
    threads.emplace_back([this] {
      set_thread_name("http");
      impl_->ioc.run();
    });
  }
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void Server::shutdown(int grace_ms) {
  if (impl_->shutdown_requested.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [this, grace_ms] { impl_->begin_shutdown(grace_ms); });
}

std::size_t Server::connection_count() const { return impl_->shared.connections.load(); }

}  // namespace handover::http

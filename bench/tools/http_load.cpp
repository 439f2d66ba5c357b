// http_load: a small HTTP/1.1 load generator for the benchmarks, on plain sockets and epoll.
//
// Modes:
//   conversations  POST /v1/conversations `--count` times and write the new ids to --out-ids;
//                  --channel names their channel (default web).
//   turns          POST /v1/conversations/{id}/turns with texts from --texts over the ids in
//                  --ids; closed loop (as fast as answers come) or paced at --rate requests/s.
//
// Paced runs are open loop: request k is due at start + k/rate whatever the server does, and
// its latency is measured from that due time, not from when a connection became free to
// send it (so a stall shows up in the percentiles instead of slowing the sender). Every run
// is bounded by --duration and --count (SIGTERM ends it early), and only loopback addresses
// are accepted.
//
// Prints one JSON object on stdout: requests, ok, errors, seconds, rps, p50/p99/p99.9 ms.
// --slow-out FILE also writes one line per answer slower than --slow-ms (default 2): its due
// time in seconds of CLOCK_MONOTONIC (what `perf record -k CLOCK_MONOTONIC` stamps events
// with) and its latency in ms, to line slow answers up with what the server did meanwhile.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM or SIGINT ends the run early; the figures so far are still printed.
volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) { stop_requested = 1; }

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string mode = "turns";
  int connections = 50;
  double rate = 0;        // requests/s; 0 = closed loop
  double duration = 10;   // seconds, upper bound
  std::size_t count = 0;  // requests, upper bound; 0 = no bound but the duration
  std::string ids_path;
  std::string texts_path;
  std::string out_ids_path;
  std::string key = "dev-bot-key-change-me";
  std::string channel = "web";  // conversations: the channel they are opened on
  std::string path;        // fixed target instead of the turns path (e.g. for a reference server)
  bool each_once = false;  // turns: one turn per id, in order
  std::string slow_out_path;  // answers slower than slow_ms, with their due times
  double slow_ms = 2;
};

[[noreturn]] void die(const std::string& message) {
  std::cerr << "http_load: " << message << "\n";
  std::exit(2);
}

// Accepts http://127.0.0.1:PORT, http://[::1]:PORT and http://localhost:PORT only.
void parse_url(const std::string& url, Options& o) {
  const std::string_view prefix = "http://";
  if (url.compare(0, prefix.size(), prefix) != 0) die("URL must start with http://");
  std::string rest = url.substr(prefix.size());
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) die("URL needs a port");
  std::string host = rest.substr(0, colon);
  o.port = std::atoi(rest.c_str() + colon + 1);
  if (host == "localhost") host = "127.0.0.1";
  if (host == "[::1]") host = "::1";
  in_addr v4{};
  const bool loopback_v4 =
      inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
  if (!loopback_v4 && host != "::1") die("refusing a non-loopback target: " + host);
  if (o.port <= 0 || o.port > 65535) die("bad port in URL");
  o.host = host;
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--each-once") {
      o.each_once = true;
      continue;
    }
    if (i + 1 >= argc) die(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--url")
      parse_url(value, o), have_url = true;
    else if (arg == "--mode")
      o.mode = value;
    else if (arg == "--connections")
      o.connections = std::atoi(value.c_str());
    else if (arg == "--rate")
      o.rate = std::atof(value.c_str());
    else if (arg == "--duration")
      o.duration = std::atof(value.c_str());
    else if (arg == "--count")
      o.count = std::strtoull(value.c_str(), nullptr, 10);
    else if (arg == "--ids")
      o.ids_path = value;
    else if (arg == "--texts")
      o.texts_path = value;
    else if (arg == "--out-ids")
      o.out_ids_path = value;
    else if (arg == "--key")
      o.key = value;
    else if (arg == "--path")
      o.path = value;
    else if (arg == "--channel")
      o.channel = value;
    else if (arg == "--slow-out")
      o.slow_out_path = value;
    else if (arg == "--slow-ms")
      o.slow_ms = std::atof(value.c_str());
    else
      die("unknown option " + arg);
  }
  if (!have_url) die("--url is required");
  if (o.connections < 1 || o.connections > 20000) die("--connections must be 1..20000");
  if (o.duration <= 0 || o.duration > 600) die("--duration must be in (0, 600] seconds");
  if (o.mode != "turns" && o.mode != "conversations") die("--mode is turns or conversations");
  return o;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) die(path + " is empty");
  return lines;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// Builds request k of the run.
class RequestSource {
 public:
  explicit RequestSource(const Options& o) : o_(o) {
    if (o.mode == "turns") {
      if (o.path.empty()) ids_ = read_lines(o.ids_path);
      for (const auto& text : read_lines(o.texts_path)) {
        bodies_.push_back("{\"role\":\"user\",\"text\":\"" + json_escape(text) + "\"}");
      }
    }
    host_header_ = o.host == "::1" ? "[::1]" : o.host;
    host_header_ += ":" + std::to_string(o.port);
  }

  // Bound on requests this source can make (each-once: one per id).
  std::size_t limit() const { return o_.each_once ? ids_.size() : SIZE_MAX; }

  std::string make(std::size_t k) const {
    std::string target;
    std::string body;
    if (o_.mode == "conversations") {
      target = "/v1/conversations";
      body = "{\"language\":\"en\",\"channel\":\"" + json_escape(o_.channel) + "\"}";
    } else {
      target = o_.path.empty() ? "/v1/conversations/" + ids_[k % ids_.size()] + "/turns" : o_.path;
      // Texts and conversations move at different strides, so pairs vary across rounds.
      body = bodies_[(k * 7 + k / ids_size()) % bodies_.size()];
    }
    std::string r =
        "POST " + target + " HTTP/1.1\r\nHost: " + host_header_ + "\r\nAuthorization: Bearer " +
        o_.key +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n";
    return r + body;
  }

 private:
  std::size_t ids_size() const { return ids_.empty() ? 1 : ids_.size(); }

  const Options& o_;
  std::vector<std::string> ids_;
  std::vector<std::string> bodies_;
  std::string host_header_;
};

struct Connection {
  int fd = -1;
  bool busy = false;
  std::string out;
  std::size_t out_sent = 0;
  std::string in;
  Clock::time_point due;  // when the request in flight was due
};

struct Totals {
  std::size_t sent = 0;
  std::size_t ok = 0;
  std::size_t errors = 0;
  std::size_t socket_errors = 0;
  std::size_t unsent = 0;  // paced: due at the end but never sent (no connection was free)
  std::vector<double> latencies_us;
  std::vector<std::string> ids;  // conversations mode
  std::vector<std::pair<Clock::time_point, double>> slow;  // due time, latency in µs
};

class Loader {
 public:
  Loader(const Options& o, const RequestSource& source) : o_(o), source_(source) {
    epoll_ = epoll_create1(0);
    if (epoll_ < 0) die("epoll_create1 failed");
    conns_.resize(static_cast<std::size_t>(o.connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) open_connection(i);
    max_requests_ = std::min(o.count == 0 ? SIZE_MAX : o.count, source.limit());
  }

  Totals run() {
    start_ = Clock::now();
    const auto deadline = start_ + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(o_.duration));
    std::vector<epoll_event> events(conns_.size());
    while (stop_requested == 0 && Clock::now() < deadline &&
           (issued_ < max_requests_ || in_flight_ > 0)) {
      release_due();
      dispatch();
      const int n = wait_for_events(events, deadline);
      for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)]);
    }
    seconds_ = std::chrono::duration<double>(Clock::now() - start_).count();
    drain(events);
    return std::move(totals_);
  }

  double seconds() const { return seconds_; }

 private:
  // No new requests; the ones in flight get two seconds to finish. What is still
  // unanswered then counts as an error; requests that were due but never sent (every
  // connection was busy: the server is slower than the rate) are reported as `unsent`.
  void drain(std::vector<epoll_event>& events) {
    constexpr auto kDrain = std::chrono::seconds(2);
    const auto until = Clock::now() + kDrain;
    totals_.unsent = backlog_.size();
    backlog_.clear();
    while (in_flight_ > 0 && Clock::now() < until) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)]);
    }
    totals_.errors += in_flight_;
  }

  void open_connection(std::size_t i) {
    Connection& c = conns_[i];
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (o_.host == "::1") {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(static_cast<std::uint16_t>(o_.port));
      inet_pton(AF_INET6, "::1", &a6->sin6_addr);
      len = sizeof(sockaddr_in6);
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
      a4->sin_family = AF_INET;
      a4->sin_port = htons(static_cast<std::uint16_t>(o_.port));
      inet_pton(AF_INET, o_.host.c_str(), &a4->sin_addr);
      len = sizeof(sockaddr_in);
    }
    c.fd = socket(addr.ss_family, SOCK_STREAM, 0);
    if (c.fd < 0) die("socket failed: " + std::string(std::strerror(errno)));
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      die("cannot connect: " + std::string(std::strerror(errno)));
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    c.busy = false;
    c.in.clear();
    c.out.clear();
  }

  Clock::time_point due_time(std::size_t k) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(k) / o_.rate));
  }

  // Paced: every request whose due time has come joins the backlog. Closed loop: one
  // request per idle connection, due now.
  void release_due() {
    const auto now = Clock::now();
    if (o_.rate > 0) {
      while (issued_ < max_requests_ && due_time(issued_) <= now) backlog_.push_back(issued_++);
      return;
    }
    while (issued_ < max_requests_ && backlog_.size() + in_flight_ < conns_.size()) {
      backlog_.push_back(issued_++);
    }
  }

  void dispatch() {
    for (std::size_t i = 0; i < conns_.size() && !backlog_.empty(); ++i) {
      if (conns_[i].busy) continue;
      const std::size_t k = backlog_.front();
      backlog_.pop_front();
      Connection& c = conns_[i];
      c.busy = true;
      c.due = o_.rate > 0 ? due_time(k) : Clock::now();
      c.out = source_.make(k);
      c.out_sent = 0;
      ++in_flight_;
      ++totals_.sent;
      flush(i);
    }
  }

  // Waits for socket events until the next request is due (paced) or the deadline. The wait
  // is timed to the microsecond: with epoll_wait's whole milliseconds a paced request left up
  // to a millisecond after its due time, and that wait counted as the server's latency.
  int wait_for_events(std::vector<epoll_event>& events, Clock::time_point deadline) {
    auto wake = deadline;
    if (o_.rate > 0 && issued_ < max_requests_) wake = std::min(wake, due_time(issued_));
    const auto wait = std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   wake - Clock::now()),
                               std::chrono::nanoseconds(0));
    const int capacity = static_cast<int>(events.size());
    if (fine_waits_) {
      timespec timeout{};
      timeout.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
      timeout.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);
      const int n = epoll_pwait2(epoll_, events.data(), capacity, &timeout, nullptr);
      if (n >= 0 || errno != ENOSYS) return n;
      fine_waits_ = false;  // a kernel before 5.11
    }
    const auto ms = (wait.count() + 999'999) / 1'000'000;
    return epoll_wait(epoll_, events.data(), capacity, static_cast<int>(ms));
  }

  void flush(std::size_t i) {
    Connection& c = conns_[i];
    while (c.out_sent < c.out.size()) {
      const ssize_t n =
          send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(i, EPOLLIN | EPOLLOUT);
        return;
      }
      return fail(i);
    }
    set_interest(i, EPOLLIN);
  }

  void set_interest(std::size_t i, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, conns_[i].fd, &ev);
  }

  void on_event(const epoll_event& ev) {
    const std::size_t i = ev.data.u64;
    if (ev.events & EPOLLOUT) flush(i);
    if (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_from(i);
  }

  void read_from(std::size_t i) {
    Connection& c = conns_[i];
    char buf[16384];
    for (;;) {
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail(i);  // closed or failed
    }
    parse_responses(i);
  }

  void parse_responses(std::size_t i) {
    Connection& c = conns_[i];
    const auto header_end = c.in.find("\r\n\r\n");
    if (header_end == std::string::npos) return;
    const std::string_view head(c.in.data(), header_end);
    const std::size_t body_length = content_length(head);
    const std::size_t total = header_end + 4 + body_length;
    if (c.in.size() < total) return;

    const int status = head.size() > 12 ? std::atoi(std::string(head.substr(9, 3)).c_str()) : 0;
    const std::string_view body(c.in.data() + header_end + 4, body_length);
    complete(i, status, body, closes(head));
    c.in.erase(0, total);
  }

  static std::size_t content_length(std::string_view head) {
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
         at = head.find("\r\n", at + 2)) {
      const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
      if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
        return std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
      }
    }
    return 0;
  }

  static bool closes(std::string_view head) {
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
         at = head.find("\r\n", at + 2)) {
      const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
      if (line.size() >= 17 && strncasecmp(line.data(), "connection: close", 17) == 0) return true;
    }
    return false;
  }

  void complete(std::size_t i, int status, std::string_view body, bool closing) {
    Connection& c = conns_[i];
    const auto latency = std::chrono::duration<double, std::micro>(Clock::now() - c.due);
    c.busy = false;
    --in_flight_;
    const int expected = 201;
    if (status == expected || (!o_.path.empty() && status >= 200 && status < 300)) {
      ++totals_.ok;
      totals_.latencies_us.push_back(latency.count());
      if (latency.count() >= o_.slow_ms * 1000) totals_.slow.emplace_back(c.due, latency.count());
      if (o_.mode == "conversations") keep_id(body);
    } else {
      ++totals_.errors;
      if (totals_.errors <= 3) {
        std::cerr << "http_load: status " << status << ": " << body.substr(0, 200) << "\n";
      }
    }
    if (closing) reconnect(i);
  }

  void keep_id(std::string_view body) {
    const auto at = body.find("\"id\":\"");
    if (at == std::string_view::npos) return;
    const auto end = body.find('"', at + 6);
    totals_.ids.emplace_back(body.substr(at + 6, end - at - 6));
  }

  void fail(std::size_t i) {
    if (conns_[i].busy) {
      --in_flight_;
      ++totals_.errors;
    }
    ++totals_.socket_errors;
    reconnect(i);
  }

  void reconnect(std::size_t i) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, conns_[i].fd, nullptr);
    close(conns_[i].fd);
    open_connection(i);
  }

  const Options& o_;
  const RequestSource& source_;
  int epoll_ = -1;
  std::vector<Connection> conns_;
  std::deque<std::size_t> backlog_;  // due requests waiting for an idle connection
  std::size_t issued_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t max_requests_ = 0;
  Clock::time_point start_;
  bool fine_waits_ = true;  // epoll_pwait2 works
  double seconds_ = 0;
  Totals totals_;
};

double percentile_ms(std::vector<double>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted_us.size()));
  return sorted_us[std::min(sorted_us.size(), std::max<std::size_t>(rank, 1)) - 1] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  const RequestSource source(o);
  Loader loader(o, source);
  Totals t = loader.run();

  if (!o.out_ids_path.empty()) {
    std::ofstream out(o.out_ids_path);
    for (const auto& id : t.ids) out << id << "\n";
  }
  if (!o.slow_out_path.empty()) {
    std::ofstream out(o.slow_out_path);
    char line[64];
    for (const auto& [due, us] : t.slow) {
      const double at = std::chrono::duration<double>(due.time_since_epoch()).count();
      std::snprintf(line, sizeof line, "%.6f %.3f\n", at, us / 1000.0);
      out << line;
    }
  }
  std::sort(t.latencies_us.begin(), t.latencies_us.end());
  std::printf(
      "{\"requests\":%zu,\"ok\":%zu,\"errors\":%zu,\"socket_errors\":%zu,\"unsent\":%zu,"
      "\"seconds\":%.3f,"
      "\"rps\":%.1f,\"target_rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
      "\"max_ms\":%.3f}\n",
      t.sent, t.ok, t.errors, t.socket_errors, t.unsent, loader.seconds(),
      static_cast<double>(t.ok) / loader.seconds(), o.rate, percentile_ms(t.latencies_us, 50),
      percentile_ms(t.latencies_us, 99), percentile_ms(t.latencies_us, 99.9),
      t.latencies_us.empty() ? 0.0 : t.latencies_us.back() / 1000.0);
  return t.errors == 0 && t.unsent == 0 ? 0 : 1;
}

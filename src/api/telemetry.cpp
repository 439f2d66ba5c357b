// Access log lines and request metrics for every HTTP exchange.
#include <spdlog/spdlog.h>

#include <atomic>

#include "handover/api/api.hpp"
#include "handover/logging/log.hpp"
#include "handover/metrics/registry.hpp"

namespace handover::api {
namespace {

class RequestTelemetry final : public http::Observer {
 public:
  RequestTelemetry(metrics::Registry& registry, bool access_log)
      : access_log_(access_log),
        requests_(registry.counter("handover_http_requests_total", "HTTP requests answered",
                                   {"method", "route", "code"})),
        latency_(registry.histogram("handover_http_request_duration_seconds",
                                    "Time from the first byte of a request to its response",
                                    metrics::latency_buckets(), {"route"})),
        opened_(registry.counter("handover_http_connections_opened_total",
                                 "TCP connections accepted")
                    .with({})),
        accept_failures_(registry.counter("handover_http_accept_failures_total",
                                          "Connections the server failed to accept (out of "
                                          "descriptors or memory, or the peer gave up)")
                             .with({})) {
    registry.callback_gauge("handover_http_connections_open", "Open HTTP connections",
                            [this] { return static_cast<double>(open_.load()); });
  }

  void on_exchange(const http::ExchangeRecord& r) override {
    // Unknown routes share one label value so clients cannot grow the label set.
    const std::string& route = r.route.empty() ? kUnmatched : r.route;
    requests_.with({known_method(r.method), route, std::to_string(r.status)}).inc();
    latency_.with({route}).observe(r.seconds);
    if (!access_log_ || !logging::enabled(spdlog::level::info)) return;
    // Fields of their own, so a collector of json lines can filter on status or route.
    logging::Line line("access");
    line.field("method", logging::sanitize(r.method, 16))
        .field("route", route)
        .field("status", r.status)
        .field("duration_ms", r.seconds * 1000.0, 3)
        .field("bytes_in", r.bytes_in)
        .field("bytes_out", r.bytes_out)
        .field("remote", r.remote)
        .field("request_id", r.request_id);
    logging::write(spdlog::level::info, line);
  }

  void on_connection_open() override {
    open_.fetch_add(1);
    opened_.inc();
  }
  void on_connection_close() override { open_.fetch_sub(1); }
  void on_accept_failure() override { accept_failures_.inc(); }

 private:
  static std::string known_method(const std::string& m) {
    for (const char* k : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
      if (m == k) return m;
    }
    return "other";
  }

  inline static const std::string kUnmatched = "unmatched";
  bool access_log_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Counter& opened_;
  metrics::Counter& accept_failures_;
  std::atomic<long> open_{0};
};

}  // namespace

std::unique_ptr<http::Observer> make_request_telemetry(metrics::Registry& registry,
                                                       bool access_log) {
  return std::make_unique<RequestTelemetry>(registry, access_log);
}

}  // namespace handover::api

// Outbound webhooks: the conversation feed POSTed to integration endpoints, signed as
// Standard Webhooks, in order per endpoint, retried with backoff, resumed after a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "handover/config/server_config.hpp"
#include "handover/feed/feed.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
}
namespace handover::http {
class Client;
}
namespace handover::metrics {
class Registry;
}
namespace handover::store {
class Store;
}

namespace handover::webhooks {

// ---- Standard Webhooks signing -------------------------------------------------------------

// The key bytes of a "whsec_<base64>" secret. InvalidArgument when it has another shape.
Result<std::string> secret_key(std::string_view secret);

// "v1,<base64 of HMAC-SHA256(key, id + '.' + timestamp + '.' + body)>".
std::string signature(std::string_view key, std::string_view id, std::int64_t timestamp_s,
                      std::string_view body);

// The webhook-id of a stored event: "evt_<event id>", the same on every attempt and after a
// restart, so receivers can drop duplicates.
std::string message_id(std::int64_t event_id);

// The body POSTed for `event`: {"type", "timestamp" (RFC 3339, when the event was stored),
// "data"}, where data is the integration view of the event with "conversation_id" added.
std::string payload(const feed::Event& event);

// ---- Retry schedule ------------------------------------------------------------------------

// The pause after `failures` failed attempts (1 for the first): initial * 2^(failures-1)
// capped at max_ms, then scaled into [50%, 100%] by `unit_random` in [0, 1) so endpoints
// that failed together do not retry together. A Retry-After the receiver sent (ms, or -1
// when none) wins when longer, up to max_ms.
std::int64_t backoff_ms(int failures, std::int64_t initial_ms, std::int64_t max_ms,
                        double unit_random, std::int64_t retry_after_ms = -1);

// Retry-After as milliseconds: delay-seconds, or an IMF-fixdate relative to `now_ms`. -1
// when absent or unreadable.
std::int64_t retry_after_ms(const std::string* header, std::int64_t now_ms);

// ---- Delivery ------------------------------------------------------------------------------

// Stored public events after `after_id`, oldest first, at most `limit` (Hub::history("")).
using HistoryReader =
    std::function<Result<std::vector<feed::Event>>(std::int64_t after_id, std::size_t limit)>;

struct WebhookDeps {
  http::Client& client;
  store::Store& store;       // delivery cursors and dead-letter events
  metrics::Registry& metrics;
  const Clock& clock;        // webhook-timestamp
  HistoryReader history;     // catching up at start
  std::function<double()> random;  // uniform in [0, 1) for jitter; empty: a seeded generator
  // Applied to each event's data before it is sent (the privacy policy for webhooks); must
  // not block. Empty: the data goes out as the feed has it.
  std::function<void(nlohmann::json& data)> redact = nullptr;
};

// Delivers to every configured endpoint independently. Per endpoint, events go out one at a
// time in event id order; each is retried on a network error, a 5xx or a 429 until
// max_attempts, then given up (dead letter): logged, counted and recorded in the store as a
// "webhook.dead_letter" event; any other 4xx gives it up at once. After each event is done
// (delivered or given up) the endpoint's cursor "webhook:<name>" is stored, and start()
// resumes from it, so delivery is at least once across restarts. An endpoint without a
// cursor starts with the events given to on_event since the service was created.
class WebhookService {
 public:
  // InvalidArgument when an endpoint's URL or secret is malformed.
  static Result<std::unique_ptr<WebhookService>> create(
      const std::vector<config::WebhookConfig>& endpoints, WebhookDeps deps);
  ~WebhookService();  // calls stop()
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // Loads the cursors and queues what each endpoint missed while the server was down. Live
  // events given to on_event meanwhile are held back and queued after those, so subscribe
  // to the Hub first. Errors reading the store or the history are returned; delivery of
  // what was queued goes on.
  Status start();

  // Queues a stored event (transient ones are ignored) for the endpoints that subscribe to
  // its type. Never blocks on the network. Thread-safe; meant for a Hub listener.
  void on_event(const feed::Event& event);

  // Stops delivering; attempts in flight are abandoned (their events go again after the
  // next start). Idempotent. Call before the client and the store go away.
  void stop();

  // After start(): blocks until no endpoint has an event queued or in flight (tests).
  void drain_for_test();

  struct Impl;

 private:
  explicit WebhookService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace handover::webhooks

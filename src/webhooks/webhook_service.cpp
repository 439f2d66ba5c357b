// Delivery to webhook endpoints: one queue per endpoint, one attempt in flight, cursors in
// the store, catch-up from the event history.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>

#include "handover/http/client.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/url.hpp"
#include "handover/webhooks/webhooks.hpp"

namespace handover::webhooks {

namespace {

constexpr std::size_t kHistoryPage = 500;
constexpr std::size_t kMaxHeld = 10'000;  // live events held back during catch-up
constexpr const char* kDeadLetterEvent = "webhook.dead_letter";

struct Pending {
  feed::Event event;
  std::string body;
};

bool permanent_failure(int status) { return status >= 400 && status < 500 && status != 429; }

}  // namespace

struct Endpoint {
  config::WebhookConfig config;
  url::HttpUrl url;
  std::string key;
  std::string cursor_name;
  std::set<std::string> events;

  // Guarded by Impl::mu.
  // Until start() and while reading the history, live events wait in `held`.
  bool catching_up = true;
  bool held_overflow = false;
  std::vector<feed::Event> held;
  std::deque<Pending> queue;
  std::int64_t last_queued = 0;  // highest event id seen, queued or filtered out
  bool busy = false;             // an attempt, a backoff pause or a history read is under way
  bool cursor_known = false;     // a cursor is stored (or being stored)
  int failures = 0;              // failed attempts of the event at the head of the queue

  metrics::Counter* delivered = nullptr;
  metrics::Counter* retried = nullptr;
  metrics::Counter* dead = nullptr;
  metrics::Counter* dropped = nullptr;  // events of conversations erased before they went out

  bool wants(const feed::Event& e) const { return events.contains(e.type); }
};

struct WebhookService::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(WebhookDeps d) : deps(std::move(d)) {}

  WebhookDeps deps;
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  std::mutex mu;
  std::condition_variable idle;
  bool stopping = false;
  std::mt19937_64 rng{std::random_device{}()};  // guarded by mu

  double unit_random() {
    if (deps.random) return deps.random();
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }

  // Queues `event` for `ep` if it is new and wanted. Called with mu held.
  void queue_event(Endpoint& ep, const feed::Event& event) {
    if (event.id <= ep.last_queued) return;
    ep.last_queued = event.id;
    if (!ep.wants(event)) return;
    if (!ep.cursor_known) {
      // A new endpoint starts here; store that now, so a crash before the first delivery
      // does not lose this event.
      ep.cursor_known = true;
      save_cursor(ep, event.id - 1);
    }
    if (!deps.redact) return ep.queue.push_back({event, payload(event)});
    feed::Event shown = event;
    shown.data = feed::view(event, feed::Audience::kIntegration);
    shown.turn = nullptr;  // its evaluation is in the data now, and passed the redaction
    deps.redact(shown.data);
    ep.queue.push_back({event, payload(shown)});
  }

  void on_event(const feed::Event& event) {
    if (event.transient()) return;
    std::vector<Endpoint*> ready;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      for (auto& ep : endpoints) {
        if (ep->catching_up) {
          hold(*ep, event);
          continue;
        }
        queue_event(*ep, event);
        if (!ep->busy && !ep->queue.empty()) ready.push_back(ep.get());
      }
    }
    for (Endpoint* ep : ready) pump(*ep);
  }

  void hold(Endpoint& ep, const feed::Event& event) {
    if (ep.held_overflow) return;
    if (ep.held.size() >= kMaxHeld) {
      // The history has them too: read on instead of holding them all in memory.
      ep.held.clear();
      ep.held_overflow = true;
      return;
    }
    ep.held.push_back(event);
  }

  // Starts the next step for `ep` unless one is under way: a history page while catching up,
  // else an attempt at the head of the queue.
  void pump(Endpoint& ep) {
    std::optional<Pending> next;
    bool read_history = false;
    {
      std::lock_guard lock(mu);
      if (stopping || ep.busy) return;
      if (!ep.queue.empty()) {
        next = ep.queue.front();
      } else if (ep.catching_up) {
        read_history = true;
      } else {
        idle.notify_all();
        return;
      }
      ep.busy = true;
    }
    auto self = shared_from_this();
    if (read_history) {
      deps.client.run_after(0, [self, &ep] { self->read_history(ep); });
    } else {
      send(ep, std::move(*next));
    }
  }

  void read_history(Endpoint& ep) {
    std::int64_t after = 0;
    {
      std::lock_guard lock(mu);
      after = ep.last_queued;
    }
    auto page = deps.history(after, kHistoryPage);
    {
      std::lock_guard lock(mu);
      ep.busy = false;
      if (!page) {
        spdlog::error("webhook {}: cannot read the event history, live events only: {}",
                      ep.config.name, page.status().message());
        finish_catch_up(ep);
      } else {
        for (const auto& event : *page) queue_event(ep, event);
        if (page->size() < kHistoryPage) finish_catch_up(ep);
      }
    }
    pump(ep);
  }

  // The history is read up to its end: the held live events follow. Called with mu held.
  void finish_catch_up(Endpoint& ep) {
    if (ep.held_overflow) {
      ep.held_overflow = false;  // read the history once more instead
      return;
    }
    for (const auto& event : ep.held) queue_event(ep, event);
    ep.held.clear();
    ep.catching_up = false;
  }

  http::ClientRequest request_for(const Endpoint& ep, const Pending& pending) {
    const std::string id = message_id(pending.event.id);
    const std::int64_t timestamp = deps.clock.now_ms() / 1000;
    http::ClientRequest request;
    request.url = ep.url;
    request.body = pending.body;
    request.connect_timeout_ms = ep.config.timeout_ms;
    request.response_timeout_ms = ep.config.timeout_ms;
    request.max_response_bytes = 64 * 1024;
    request.headers = {{"Content-Type", "application/json"},
                       {"User-Agent", "handover-webhooks"},
                       {"webhook-id", id},
                       {"webhook-timestamp", std::to_string(timestamp)},
                       {"webhook-signature", signature(ep.key, id, timestamp, pending.body)}};
    return request;
  }

  // Whether the event's conversation is gone (erased, or removed by retention): what is still
  // queued for it, retries included, is thrown away rather than sent.
  bool conversation_gone(const Pending& pending) {
    const std::string& id = pending.event.conversation_id;
    if (id.empty()) return false;
    auto found = deps.store.get_conversation(id);
    return !found && found.status().code() == StatusCode::kNotFound;
  }

  void drop(Endpoint& ep, const Pending& pending) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      ep.failures = 0;
      ep.queue.pop_front();
      ep.busy = false;
      ep.dropped->inc();
      save_cursor(ep, pending.event.id);
    }
    pump(ep);
  }

  void send(Endpoint& ep, Pending pending) {
    if (conversation_gone(pending)) return drop(ep, pending);
    auto self = shared_from_this();
    deps.client.send(request_for(ep, pending),
                     [self, &ep, pending](http::ClientOutcome outcome) mutable {
                       self->on_outcome(ep, std::move(pending), std::move(outcome));
                     });
  }

  void on_outcome(Endpoint& ep, Pending pending, http::ClientOutcome outcome) {
    if (outcome.error == http::ClientError::kStopped) return;
    const int status = outcome.ok() ? outcome.response.status : 0;
    if (outcome.ok() && status >= 200 && status <= 299) return done_with(ep, pending, nullptr);

    const std::string why = outcome.ok() ? "HTTP " + std::to_string(status) : outcome.detail;
    std::int64_t delay = 0;
    bool retry = false;
    {
      std::lock_guard lock(mu);
      ++ep.failures;
      retry = !permanent_failure(status) && ep.failures < ep.config.max_attempts;
      if (retry) {
        ep.retried->inc();
        const std::int64_t after =
            outcome.ok() ? retry_after_ms(outcome.response.header("retry-after"),
                                          deps.clock.now_ms())
                         : -1;
        delay = backoff_ms(ep.failures, ep.config.initial_backoff_ms, ep.config.max_backoff_ms,
                           unit_random(), after);
      }
    }
    if (!retry) return done_with(ep, pending, &why);
    spdlog::debug("webhook {} event={} attempt failed, retry in {} ms: {}", ep.config.name,
                  pending.event.id, delay, why);
    auto self = shared_from_this();
    deps.client.run_after(delay, [self, &ep] {
      {
        std::lock_guard lock(self->mu);
        ep.busy = false;
      }
      self->pump(ep);
    });
  }

  // The head event is delivered (`failure` null) or given up; the cursor moves past it.
  void done_with(Endpoint& ep, const Pending& pending, const std::string* failure) {
    int attempts = 0;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      attempts = ep.failures + (failure == nullptr ? 1 : 0);
      ep.failures = 0;
      ep.queue.pop_front();
      ep.busy = false;
      (failure == nullptr ? ep.delivered : ep.dead)->inc();
      save_cursor(ep, pending.event.id);
    }
    if (failure != nullptr) dead_letter(ep, pending, attempts, *failure);
    pump(ep);
  }

  void save_cursor(const Endpoint& ep, std::int64_t event_id) {
    const std::string name = ep.cursor_name;
    deps.store.put_cursor(name, std::max<std::int64_t>(0, event_id), [name](Result<bool> saved) {
      if (!saved) spdlog::warn("cannot store cursor {}: {}", name, saved.status().message());
    });
  }

  void dead_letter(const Endpoint& ep, const Pending& pending, int attempts,
                   const std::string& why) {
    spdlog::error("webhook {} gave up event={} type={} conv={} after {} attempts: {}",
                  ep.config.name, pending.event.id, pending.event.type,
                  pending.event.conversation_id, attempts, why);
    store::EventRecord record;
    record.conversation_id = pending.event.conversation_id;
    record.type = kDeadLetterEvent;
    record.data_json = nlohmann::json{{"endpoint", ep.config.name},
                                      {"webhook_id", message_id(pending.event.id)},
                                      {"event_id", pending.event.id},
                                      {"event_type", pending.event.type},
                                      {"attempts", attempts},
                                      {"reason", why}}
                           .dump();
    deps.store.append_events({std::move(record)}, [](Result<std::vector<store::EventRecord>> r) {
      // The conversation may be gone (erased customer); the log line above remains.
      if (!r && r.status().code() != StatusCode::kNotFound) {
        spdlog::warn("cannot record webhook dead letter: {}", r.status().message());
      }
    });
  }
};

Result<std::unique_ptr<WebhookService>> WebhookService::create(
    const std::vector<config::WebhookConfig>& endpoints, WebhookDeps deps) {
  auto impl = std::make_shared<Impl>(std::move(deps));
  auto& deliveries = impl->deps.metrics.counter(
      "handover_webhook_deliveries_total",
      "Webhook events per endpoint: delivered, retried (an attempt failed) or dead_letter",
      {"endpoint", "result"});
  for (const auto& config : endpoints) {
    auto ep = std::make_unique<Endpoint>();
    auto url = url::parse_http_url(config.url);
    if (!url) return Status::invalid_argument("webhook " + config.name + ": " +
                                              url.status().message());
    auto key = secret_key(config.secret);
    if (!key) return Status::invalid_argument("webhook " + config.name + ": " +
                                              key.status().message());
    ep->config = config;
    ep->url = std::move(url).value();
    ep->key = std::move(key).value();
    ep->cursor_name = "webhook:" + config.name;
    ep->events = std::set<std::string>(config.events.begin(), config.events.end());
    ep->delivered = &deliveries.with({config.name, "delivered"});
    ep->retried = &deliveries.with({config.name, "retried"});
    ep->dead = &deliveries.with({config.name, "dead_letter"});
    ep->dropped = &deliveries.with({config.name, "erased"});
    impl->endpoints.push_back(std::move(ep));
  }
  impl->deps.metrics.callback_gauge(
      "handover_webhook_queue_depth", "Webhook events waiting for delivery, all endpoints",
      [weak = std::weak_ptr<Impl>(impl)] {
        auto alive = weak.lock();
        if (!alive) return 0.0;
        std::lock_guard lock(alive->mu);
        double depth = 0;
        for (const auto& ep : alive->endpoints) depth += static_cast<double>(ep->queue.size());
        return depth;
      });
  return std::unique_ptr<WebhookService>(new WebhookService(std::move(impl)));
}

WebhookService::WebhookService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookService::~WebhookService() { stop(); }

Status WebhookService::start() {
  Status result;
  for (auto& ep : impl_->endpoints) {
    auto cursor = impl_->deps.store.get_cursor(ep->cursor_name);
    std::lock_guard lock(impl_->mu);
    if (cursor) {
      ep->cursor_known = true;
      ep->last_queued = *cursor;
      continue;  // read the history from the cursor, then the held events
    }
    if (cursor.status().code() != StatusCode::kNotFound) result = cursor.status();
    impl_->finish_catch_up(*ep);  // a new endpoint starts with the held events
  }
  for (auto& ep : impl_->endpoints) impl_->pump(*ep);
  return result;
}

void WebhookService::on_event(const feed::Event& event) { impl_->on_event(event); }

void WebhookService::stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stopping = true;
  for (auto& ep : impl_->endpoints) ep->queue.clear();
  impl_->idle.notify_all();
}

void WebhookService::drain_for_test() {
  std::unique_lock lock(impl_->mu);
  impl_->idle.wait(lock, [this] {
    if (impl_->stopping) return true;
    for (const auto& ep : impl_->endpoints) {
      if (ep->busy || ep->catching_up || !ep->queue.empty()) return false;
    }
    return true;
  });
}

}  // namespace handover::webhooks

// The feed hub: copies what the store committed, maps it to public events on its own thread
// and calls the listeners there, in commit order.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "handover/feed/feed.hpp"
#include "handover/util/scheduling.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::feed {
namespace {

// One committed record as copied off the writer thread, or the end of some conversations.
struct Pending {
  store::EventRecord record;
  std::shared_ptr<const store::TurnRecord> turn;  // for turn.created records
  std::optional<Event> transient;         // set instead of `record` for transient events
  std::vector<std::string> ended;         // set instead of `record`: conversations erased
};

constexpr std::size_t kMaxPending = 100'000;  // beyond this the feed drops (and logs) events

}  // namespace

struct Hub::Impl {
  store::Store& store;

  std::mutex mu;  // guards the queue and the counters
  std::condition_variable ready;
  std::condition_variable drained;
  std::deque<Pending> queue;
  std::uint64_t enqueued = 0;
  std::uint64_t dispatched = 0;
  bool stopping = false;

  // Held while listeners run, so that unsubscribing from another thread waits for them.
  std::recursive_mutex dispatch_mu;
  std::mutex listeners_mu;
  struct Entry {
    std::string conversation_id;
    std::shared_ptr<Listener> listener;
    std::shared_ptr<EndListener> on_end;  // null when the subscriber did not ask
  };
  std::map<std::uint64_t, Entry> listeners;
  std::uint64_t next_id = 1;
  std::atomic<std::size_t> listener_count{0};

  std::thread thread;

  explicit Impl(store::Store& s) : store(s) {}

  void enqueue(std::vector<Pending> items) {
    {
      std::lock_guard lock(mu);
      if (queue.size() + items.size() > kMaxPending) {
        spdlog::error("feed: {} events dropped, the dispatcher is behind", items.size());
        return;
      }
      for (auto& item : items) queue.push_back(std::move(item));
      enqueued += items.size();
    }
    ready.notify_one();
  }

  void on_committed(const store::CommittedChanges& changes) {
    if (listener_count.load(std::memory_order_relaxed) == 0) return;
    // Each turn's turn.created record starts with its seq. The records come in the order of
    // the turns, so the search for a record's turn starts after the previous match.
    std::vector<std::string> prefixes;
    prefixes.reserve(changes.turns.size());
    for (const auto& turn : changes.turns) {
      prefixes.push_back("{\"seq\":" + std::to_string(turn->seq) + ",");
    }
    std::vector<Pending> items;
    items.reserve(changes.events.size());
    std::size_t next = 0;
    for (const store::EventRecord* record : changes.events) {
      Pending& item = items.emplace_back();
      item.record = *record;
      if (record->type != store::kTurnCreatedEvent) continue;
      for (std::size_t k = 0; k < changes.turns.size(); ++k) {
        const std::size_t i = (next + k) % changes.turns.size();
        const std::shared_ptr<const store::TurnRecord>& turn = changes.turns[i];
        if (turn->conversation_id == record->conversation_id &&
            record->data_json.starts_with(prefixes[i])) {
          item.turn = turn;
          next = i + 1;
          break;
        }
      }
    }
    enqueue(std::move(items));
  }

  std::string agent_name(const std::string& id) {
    auto agent = store.get_agent(id);
    if (!agent) return std::string();
    return agent->display_name.empty() ? agent->name : agent->display_name;
  }

  void run() {
    set_thread_name("feed-hub");
    schedule_as_batch_work();
    std::unique_lock lock(mu);
    for (;;) {
      ready.wait(lock, [this] { return stopping || !queue.empty(); });
      if (stopping) return;
      Pending item = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      dispatch(item);
      lock.lock();
      ++dispatched;
      drained.notify_all();
    }
  }

  void dispatch(const Pending& item) {
    if (!item.ended.empty()) return end(item.ended);
    std::optional<Event> event = item.transient;
    if (!event) {
      event = to_public(item.record, item.turn,
                        [this](const std::string& id) { return agent_name(id); });
    }
    if (!event) return;
    std::lock_guard dispatching(dispatch_mu);
    std::vector<std::shared_ptr<Listener>> targets;
    {
      std::lock_guard guard(listeners_mu);
      for (const auto& [id, entry] : listeners) {
        if (entry.conversation_id.empty() || entry.conversation_id == event->conversation_id) {
          targets.push_back(entry.listener);
        }
      }
    }
    for (const auto& target : targets) {
      try {
        (*target)(*event);
      } catch (const std::exception& e) {
        spdlog::error("feed listener threw on {}: {}", event->type, e.what());
      }
    }
  }

  // Removes the subscriptions to the ended conversations, then tells them.
  void end(const std::vector<std::string>& ended) {
    std::lock_guard dispatching(dispatch_mu);
    std::vector<std::shared_ptr<EndListener>> targets;
    {
      std::lock_guard guard(listeners_mu);
      for (auto it = listeners.begin(); it != listeners.end();) {
        const std::string& id = it->second.conversation_id;
        if (id.empty() || std::find(ended.begin(), ended.end(), id) == ended.end()) {
          ++it;
          continue;
        }
        if (it->second.on_end) targets.push_back(it->second.on_end);
        it = listeners.erase(it);
        listener_count.fetch_sub(1);
      }
    }
    for (const auto& target : targets) {
      try {
        (*target)();
      } catch (const std::exception& e) {
        spdlog::error("feed end listener threw: {}", e.what());
      }
    }
  }

  void unsubscribe(std::uint64_t id) {
    // Waits for a dispatch in progress (re-entrant from a listener on the dispatcher).
    std::lock_guard dispatching(dispatch_mu);
    std::lock_guard guard(listeners_mu);
    if (listeners.erase(id) > 0) listener_count.fetch_sub(1);
  }
};

Hub::Subscription::Subscription(Subscription&& other) noexcept
    : hub_(std::exchange(other.hub_, nullptr)), id_(std::exchange(other.id_, 0)) {}

Hub::Subscription& Hub::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    hub_ = std::exchange(other.hub_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

Hub::Subscription::~Subscription() { reset(); }

void Hub::Subscription::reset() {
  if (hub_ == nullptr) return;
  hub_->impl_->unsubscribe(id_);
  hub_ = nullptr;
  id_ = 0;
}

Hub::Hub(store::Store& store) : impl_(std::make_unique<Impl>(store)) {
  Impl* impl = impl_.get();
  store.set_change_observer(
      [impl](const store::CommittedChanges& changes) { impl->on_committed(changes); });
  impl_->thread = std::thread([impl] { impl->run(); });
}

Hub::~Hub() {
  impl_->store.set_change_observer(nullptr);
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->ready.notify_all();
  impl_->drained.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Hub::Subscription Hub::subscribe(std::string conversation_id, Listener listener,
                                 EndListener on_end) {
  std::lock_guard guard(impl_->listeners_mu);
  const std::uint64_t id = impl_->next_id++;
  auto end = on_end ? std::make_shared<EndListener>(std::move(on_end)) : nullptr;
  impl_->listeners.emplace(
      id, Impl::Entry{std::move(conversation_id), std::make_shared<Listener>(std::move(listener)),
                      std::move(end)});
  impl_->listener_count.fetch_add(1);
  return Subscription(this, id);
}

void Hub::publish_transient(Event event) {
  event.id = 0;
  std::vector<Pending> items(1);
  items.front().transient = std::move(event);
  impl_->enqueue(std::move(items));
}

void Hub::end_conversations(std::vector<std::string> conversation_ids) {
  if (conversation_ids.empty()) return;
  {
    // Past the queue's limit too: a stream left open on erased data would outlive the erasure.
    std::lock_guard lock(impl_->mu);
    impl_->queue.emplace_back().ended = std::move(conversation_ids);
    ++impl_->enqueued;
  }
  impl_->ready.notify_one();
}

Result<std::vector<Event>> Hub::history(const std::string& conversation_id, std::int64_t after_id,
                                        std::size_t limit) {
  std::vector<Event> out;
  store::EventQuery query;
  query.conversation_id = conversation_id;
  query.after_id = after_id;
  query.limit = std::max<std::size_t>(limit, 1);
  auto names = [this](const std::string& id) { return impl_->agent_name(id); };
  // Internal records are skipped, so a page may hold fewer public events than asked for.
  while (out.size() < limit) {
    auto page = impl_->store.list_events(query);
    if (!page) return page.status();
    for (const auto& record : *page) {
      std::shared_ptr<const store::TurnRecord> turn;
      if (record.type == store::kTurnCreatedEvent) {
        const auto data = nlohmann::json::parse(record.data_json, nullptr, false);
        const std::int64_t seq = data.is_object() ? data.value("seq", std::int64_t{0}) : 0;
        auto turns = impl_->store.list_turns(record.conversation_id, seq - 1, 1);
        if (!turns) return turns.status();
        if (!turns->empty()) {
          turn = std::make_shared<const store::TurnRecord>(std::move(turns->front()));
        }
      }
      if (auto event = to_public(record, std::move(turn), names)) {
        out.push_back(std::move(*event));
        if (out.size() == limit) break;
      }
    }
    if (page->size() < query.limit) break;
    query.after_id = page->back().id;
  }
  return out;
}

void Hub::drain_for_test() {
  std::unique_lock lock(impl_->mu);
  const std::uint64_t target = impl_->enqueued;
  impl_->drained.wait(lock, [&] { return impl_->stopping || impl_->dispatched >= target; });
}

}  // namespace handover::feed

// The conversation feed: what customers and integrations may see of a conversation, as an
// ordered stream of public events derived from the store's event log. It drives the customer
// event stream (SSE), outbound webhooks, the user-facing messages and bot connectors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover::feed {

// Public event types (docs/events.md lists their data).
inline constexpr const char* kTurnCreated = "turn.created";
inline constexpr const char* kHandoverRequested = "handover.requested";
inline constexpr const char* kHandoverAccepted = "handover.accepted";
inline constexpr const char* kHandoverTransferred = "handover.transferred";
inline constexpr const char* kHandoverRequeued = "handover.requeued";
inline constexpr const char* kHandoverReturned = "handover.returned";
inline constexpr const char* kHandoverResolved = "handover.resolved";
inline constexpr const char* kHandoverCancelled = "handover.cancelled";
inline constexpr const char* kHandoverNoAgent = "handover.no_agent";
inline constexpr const char* kHandoverWaitLimit = "handover.wait_limit";
inline constexpr const char* kHandoverRated = "handover.rated";
inline constexpr const char* kHandoverChoice = "handover.choice";
// Not stored: the live place in the queue, sent again on every (re)connect.
inline constexpr const char* kQueuePosition = "queue.position";

// Who reads an event. Integrations (webhooks, trusted back ends) see everything; customers
// (the widget) do not see agents' notes, feedback or trigger internals.
enum class Audience { kCustomer, kIntegration };

struct Event {
  std::int64_t id = 0;  // the store's event id: the resume cursor; 0 for transient events
  std::string type;
  std::string conversation_id;
  std::int64_t created_at_ms = 0;
  // The integration view, except for turn.created: there it holds only the conversation's
  // "state", and view() adds the turn (with its trigger evaluation for integrations) from
  // `turn`, as rendering every turn would cost more than most listeners need.
  nlohmann::json data = nlohmann::json::object();
  std::shared_ptr<const store::TurnRecord> turn;  // turn.created: the stored turn

  bool transient() const { return id == 0; }
};

// The display name of an agent, "" when unknown.
using AgentNames = std::function<std::string(const std::string& agent_id)>;

// The public event a stored record stands for, or nullopt for internal records (routing
// offers, agent relays). `turn` must be the record's turn for "turn.created" records (the
// store writes one with every turn); without it that record maps to nullopt. `names`, when
// set, adds the agent's display name to events that name an agent.
std::optional<Event> to_public(const store::EventRecord& record,
                               std::shared_ptr<const store::TurnRecord> turn,
                               const AgentNames& names = nullptr);

// The event's data as `audience` may see it.
nlohmann::json view(const Event& event, Audience audience);

// Fans committed events out to listeners on one dispatcher thread, in commit order.
// Thread-safety: every method may be called from any thread. Listeners run on the dispatcher
// thread, one event at a time, and must not block (post work elsewhere); they may subscribe
// and unsubscribe.
class Hub {
 public:
  using Listener = std::function<void(const Event&)>;
  // Told that the subscribed conversation is gone (erased); no event follows.
  using EndListener = std::function<void()>;

  // Unsubscribes when destroyed; after that the listener is not called again.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&&) noexcept;
    Subscription& operator=(Subscription&&) noexcept;
    ~Subscription();
    void reset();

   private:
    friend class Hub;
    Subscription(Hub* hub, std::uint64_t id) : hub_(hub), id_(id) {}
    Hub* hub_ = nullptr;
    std::uint64_t id_ = 0;
  };

  // Registers as `store`'s change observer. The store must outlive the hub.
  explicit Hub(store::Store& store);
  ~Hub();  // stops the dispatcher; pending events are dropped (they are in the store)
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Events of one conversation, or of all when `conversation_id` is empty. A subscription to
  // one conversation gets `on_end` (when set) once that conversation is ended.
  [[nodiscard]] Subscription subscribe(std::string conversation_id, Listener listener,
                                       EndListener on_end = nullptr);

  // The conversations were deleted (a customer's erasure committed): after the events
  // enqueued before this call, every subscription to one of them gets its on_end once, on the
  // dispatcher thread, and no further event. Subscriptions to all conversations stay.
  void end_conversations(std::vector<std::string> conversation_ids);

  // Dispatches an event that is not stored (id 0), such as the queue position.
  void publish_transient(Event event);

  // Stored public events after `after_id`, oldest first, at most `limit` (for resuming a
  // stream and catching up after a restart). Reads through the store's read pool.
  Result<std::vector<Event>> history(const std::string& conversation_id, std::int64_t after_id,
                                     std::size_t limit);

  // Blocks until every event committed before the call has been dispatched (tests).
  void drain_for_test();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::feed

// The agent service: runs the routing engine for live agents. It persists every routing
// transition with its events before telling anyone, serves the agent WebSocket protocol
// (docs/agent-protocol.md) and relays turns between customers and agents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handover/http/websocket.hpp"
#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
namespace metrics {
class Registry;
}
namespace routing {
struct RoutingConfig;
}
}  // namespace handover

namespace handover::agents {

// Conversation states this service moves conversations through.
inline constexpr const char* kStateBot = "bot";
inline constexpr const char* kStateQueued = "queued";
inline constexpr const char* kStateAgent = "agent";

// The reason of a wait an admin ended (POST /v1/admin/conversations/{id}/end-wait), in the
// routing "cancelled" event; the user is told that the bot carries on.
inline constexpr const char* kWaitEndedByAdmin = "ended_by_admin";

// The WebSocket protocol version spoken at /v1/agents/ws.
inline constexpr int kProtocolVersion = 1;

// A request to hand a conversation to a person.
struct Escalation {
  std::string conversation_id;
  std::string queue;                // empty: the first queue serving the conversation's language
  std::vector<std::string> skills;  // required on top of the queue's skills
  int priority = 0;                 // 0..100, added to the queue's priority
  nlohmann::json reasons = nlohmann::json::object();  // trigger trace, kept in the audit event
  std::string snapshot_json;  // serialised once; shared by every offer ("" becomes "{}")
  // The newest turn seq the snapshot's history covers; later turns reach the agent as `turn`
  // events. 0: the conversation's last_seq when the escalation is planned.
  std::int64_t history_through = 0;
};

// Where a waiting conversation stands. Position 1 is next; 0 once an agent has it.
struct QueuePosition {
  std::string queue;
  std::int64_t position = 0;
  std::int64_t estimated_wait_s = 0;
  std::string agent_id;  // set once assigned
};

// Told whenever a waiting conversation's place or estimate changes (at most once per
// queue per routing.settings.position_update_interval_ms). Runs without the routing lock,
// on whichever thread moved the queue; must not block.
using PositionListener =
    std::function<void(const std::string& conversation_id, const QueuePosition& position)>;

// Thread-safety: every public method may be called from any thread. Routing calls are
// serialised by one internal mutex, held only while the router runs and the resulting store
// writes are submitted, never while waiting for the store. Callbacks given to the service
// (`done`) never run with that mutex held, so they may call back into the service. Store
// completions and the timer thread deliver frames to the connections.
class AgentService final : public http::WebSocketHandler {
 public:
  // `store`, `clock` and `registry` must outlive the service. The config must have passed
  // routing::load_routing_config(). Registers the agent metrics in `registry`.
  AgentService(store::Store& store, routing::RoutingConfig config, const Clock& clock,
               metrics::Registry& registry);
  ~AgentService() override;  // calls stop()

  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // Restores queues, offers and assignments from the store (conversations in states
  // "queued" and "agent") and starts the timer thread. Fails, leaving the service unstarted,
  // when the store cannot be read or its events do not replay. Call once, before traffic.
  Status start();
  // Stops and joins the timer thread. Idempotent. Writes already submitted still complete.
  void stop();

  // Hands a conversation in state "bot" to the routing engine: commits state "queued" with
  // the routing events (update_conversation, expected_state "bot"), then sends the offers.
  // `done` gets the updated record, or Conflict (not in state "bot", already queued),
  // NotFound (unknown conversation or queue), InvalidArgument (bad skills or priority) or
  // the store's error. `done` may run on the calling thread or on the store's writer thread.
  void escalate(Escalation escalation, store::Callback<store::ConversationRecord> done);

  // The escalation decided by a turn that is being committed, planned into that turn's own
  // transaction so that one commit holds the turn, state "queued", the routing events and
  // the offers. Call from the turn's store::AppendFollowUpFn (the store's writer thread);
  // `conv` is the conversation as the append sees it, with `state` its state there. Runs
  // the router and fills `out` with the conversation's new state and events; writes about
  // other conversations are submitted as usual. On error nothing is planned and `out` is
  // left alone: Conflict (not in state "bot"), NotFound (unknown queue) or InvalidArgument,
  // as escalate() answers. After a success, escalation_committed() must follow.
  Status plan_escalation(const Escalation& escalation, const store::ConversationRecord& conv,
                         const std::string& state, store::AppendFollowUp& out);
  // The transaction of a planned escalation ended: with the stored events the offers go out;
  // with an error the router forgets the escalation, as nothing of it was persisted.
  void escalation_committed(const std::string& conversation_id,
                            const Result<std::vector<store::EventRecord>>& events);

  // The turn as an agent may see it (personal data masked).
  using AgentView = std::function<store::TurnRecord(const store::TurnRecord&)>;
  // Sets how turns are shown to agents; without one they are shown as stored. Call before
  // traffic (it may follow start()).
  void set_agent_view(AgentView view);

  // A user, system or bot turn committed on `conv`. While routing holds the conversation
  // (from its escalation until it is back with the bot) the turn is kept, the newest
  // kMaxHeldTurns of those after the snapshot: each assignment sends them to the agent who
  // takes the conversation, after `assigned`, so nothing the user wrote or read while
  // waiting or with an earlier agent is missing. When a person holds the conversation a user
  // or system turn is also persisted as an agent-directed event and relayed at once. Agent
  // turns and other conversations are ignored. The agent view is applied only to turns that
  // are sent. Never blocks on the store.
  void on_turn_committed(const store::ConversationRecord& conv, const store::TurnRecord& turn);
  static constexpr std::size_t kMaxHeldTurns = 50;

  // Masks what agents write (messages, transfer, return and resolve notes) before it is
  // stored, by the store policy; without one it is stored as written. Set before traffic.
  using TextMask = std::function<std::string(const std::string&)>;
  void set_store_mask(TextMask mask);

  // Someone tells the user when an agent joins (the narrator's "Ana is here for you now").
  // With `on`, an agent's messages to a conversation it was just given wait, in order,
  // until join_announced() for that conversation or kJoinNoticeWaitMs after the
  // assignment, so the user reads who joined before what they say. Call before traffic.
  void set_join_notices(bool on);
  static constexpr std::int64_t kJoinNoticeWaitMs = 3000;
  // The user was told (or could not be told) that an agent joined the conversation.
  void join_announced(const std::string& conversation_id);

  // Drops what the service keeps in memory about erased conversations' turns.
  void forget_turns(const std::vector<std::string>& conversation_ids);

  // The snapshot stored with the conversation's latest escalation, the text its offers
  // carried; "" when retention has removed it. NotFound when this service never escalated
  // the conversation; the store's error when it cannot be read. Reads the store; callable
  // from any thread.
  Result<std::string> escalation_snapshot(const std::string& conversation_id) const;

  // True while an agent holds the conversation (as far as the router knows).
  bool assigned_to_agent(const std::string& conversation_id) const;

  // The conversation's place while queued or assigned; nullopt when routing does not hold it.
  std::optional<QueuePosition> position(const std::string& conversation_id) const;

  // Replaces the position listener (empty removes it). Set before traffic.
  void set_position_listener(PositionListener listener);

  // The user (or an admin) ends the wait: the conversation leaves its queue and returns to
  // state "bot", with a routing "cancelled" event carrying `reason`. `done` gets Conflict
  // when it is not waiting (already with an agent, or with the bot).
  void cancel_waiting(const std::string& conversation_id, const std::string& reason,
                      std::function<void(Status)> done);
  // The state routing holds the conversation in now ("queued", "agent" or "bot"), ahead of
  // the store while a change of it is being committed.
  std::string state_of(const std::string& conversation_id) const;
  // Why `agent_id` may read the conversation right now: it is assigned to it, or it holds an
  // open offer of it; kNone otherwise (what it handled before is for the caller to look up
  // in the event log).
  enum class ReadAccess { kNone, kOffered, kAssigned };
  ReadAccess read_access(const std::string& agent_id, const std::string& conversation_id) const;

  // For GET /v1/queues: {"queues": [{name, waiting, oldest_wait_s, agents_online, ...}]}.
  nlohmann::json queues_view() const;
  // For GET /v1/agents: {"agents": [{id, display_name, presence, connected, load, ...}]}.
  nlohmann::json agents_view() const;

  // An admin changed the agent record: an online agent gets its new profile at once; a
  // disabled agent, or one whose token changed, has its connections closed.
  void on_agent_updated(const store::AgentRecord& before, const store::AgentRecord& after);

  // True when the routing configuration has a queue called `name`. Any thread.
  bool has_queue(std::string_view name) const;

  // The queue an escalation naming none goes to, for this conversation language.
  std::string default_queue(const std::string& language) const;

  // http::WebSocketHandler, for /v1/agents/ws. Called by the network layer.
  std::optional<http::Response> on_upgrade(const http::Request& request) override;
  void on_open(const std::shared_ptr<http::WebSocketConnection>& connection,
               const http::Request& request) override;
  void on_message(const std::shared_ptr<http::WebSocketConnection>& connection,
                  std::string text) override;
  // Answered with an error frame (bad_json); the connection stays open.
  void on_binary_message(const std::shared_ptr<http::WebSocketConnection>& connection) override;
  void on_close(const std::shared_ptr<http::WebSocketConnection>& connection) override;

  // Runs the router's deadlines at the clock's current time, on the calling thread (tests
  // with a FakeClock, which the timer thread does not follow).
  void tick_for_test();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::agents

// State of the agent service shared by its two halves: routing and persistence
// (agent_service.cpp) and the WebSocket sessions (agent_socket.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent_stream.hpp"
#include "frames.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/routing/router.hpp"
#include "handover/routing/routing_config.hpp"
#include "handover/store/store.hpp"

namespace handover::agents {

// How long a new connection's events are held back waiting for its first frame (a hello
// with resume_after replays what it missed first, so everything arrives in seq order).
inline constexpr std::int64_t kHelloWaitMs = 1000;

// One store write planned from routing effects: a conversation update (with the state it
// must be in) or, for events without a conversation, a plain append.
struct PlannedWrite {
  std::string conversation_id;
  std::optional<std::string> expected_state;
  std::optional<std::string> new_state;
  std::vector<store::EventRecord> events;
};

// Counts down the writes of one commit and reports once, with the first error.
struct CommitTracker {
  std::atomic<int> remaining{0};
  std::mutex mu;
  Status first_error;
  std::function<void(Status)> done;

  void finish(const Status& status) {
    {
      std::lock_guard lock(mu);
      if (!status.is_ok() && first_error.is_ok()) first_error = status;
    }
    if (remaining.fetch_sub(1) == 1 && done) done(first_error);
  }
};

// The write of the conversation a call is about (an escalation): planned first, with extra
// events, and `done` told its outcome with the stored record.
struct LeadWrite {
  std::string conversation_id;
  std::vector<store::EventRecord> events;
  store::Callback<store::ConversationRecord> done;
};

// One agent WebSocket connection. Guarded by Impl::conn_mu.
struct Session {
  std::shared_ptr<http::WebSocketConnection> connection;
  std::string agent_id;
  bool live = false;  // false until the first frame (or kHelloWaitMs) and any replay
  bool first_frame_seen = false;
  bool replaying = false;  // a resume's replay is being sent, part by part
  // The hello that asked for the replay is acknowledged once it is over.
  std::optional<nlohmann::json> hello_ref;
  std::int64_t last_sent = 0;  // seq of the newest event sent on this connection
  std::int64_t hold_until_ms = 0;
  std::vector<std::pair<std::int64_t, std::shared_ptr<const std::string>>> pending;
  // Conversations the running replay has audited already (one record each).
  std::unordered_set<std::string> replay_audited;
};

// One access audit record of what was sent to an agent without its asking.
struct DeliveryAudit {
  std::string agent;
  std::string conversation_id;
  const char* action = "";  // offer.sent, turns.caught_up, turns.relayed, events.replayed
  const char* reason = "";
  nlohmann::json data;
};

// How a resume's replay sends one stored event again. Only texts of conversations the agent
// holds or is offered now go out again (docs/privacy.md, "Who can see what"): the turns of
// other conversations are left out, and their offers go without snapshot and transfer note.
// The events that change what is open all stay, so a replay still converges.
struct ReplayStep {
  enum class Kind { kWhole, kWithoutTexts, kLeftOut };
  const store::EventRecord* event = nullptr;
  Kind kind = Kind::kWhole;
  std::shared_ptr<const std::string> snapshot;  // an offer's, when it goes out whole
  bool texts = false;                           // the frame carries texts of the conversation
};

// One part of a replay as plan_replay() decided it.
struct ReplayPlan {
  std::vector<ReplayStep> steps;
  std::vector<DeliveryAudit> audits;
  // The part reached an event the agent's stream has not applied yet (its delivery is on its
  // way): the replay ends before it, and the delivery sends it live.
  bool cut = false;
};

struct AgentService::Impl {
  Impl(store::Store& store_in, routing::RoutingConfig config_in, const Clock& clock_in,
       metrics::Registry& registry);

  // ---- Routing and persistence (agent_service.cpp); callers hold `mu` -----------------------

  // Plans the store writes for `effects`, updates the mirrors and submits the writes in
  // order. `done` runs once after the last write completed, with the first error if any.
  void commit_locked(routing::Effects effects, std::function<void(Status)> done,
                     LeadWrite lead = {});
  // Plans the writes for `effects` like commit_locked() and submits all but the one of
  // `conversation`, which is returned for the caller to write (an escalating turn's append).
  PlannedWrite plan_lead_locked(routing::Effects effects, const std::string& conversation);
  void submit_locked(PlannedWrite write, std::shared_ptr<CommitTracker> tracker,
                     store::Callback<store::ConversationRecord> lead_done);
  void plan_locked(routing::Effects effects, std::vector<PlannedWrite>& writes);
  PlannedWrite& write_for(std::vector<PlannedWrite>& writes, const std::string& conversation);
  void transition_locked(std::vector<PlannedWrite>& writes, const std::string& conversation,
                         const std::string& state);
  std::string state_of_locked(const std::string& conversation) const;
  void notify_timer_locked();
  void tick_locked(std::int64_t now_ms);
  // Runs `fn` with `mu` held, also when called from a store callback that the store ran at
  // once on a thread already holding it.
  void with_router(const std::function<void()>& fn);
  // Runs `fn` now, or, on a thread holding `mu`, right after it is released.
  void call_outside(std::function<void()> fn);
  void flush_deferred(std::unique_lock<std::mutex>& lock);
  class RouterLock;
  Status restore();
  void rebuild_mirrors_locked(const std::vector<store::ConversationRecord>& active);
  // Sends the agent messages held for the conversation's join notice, in order.
  void release_join_locked(const std::string& conversation);
  std::optional<std::int64_t> next_join_deadline_locked() const;
  // Reads back the turns restored conversations received since their snapshots.
  Status restore_held_turns_locked();
  // Reads the stored turns of `conversation` after its held turns' after_seq into them.
  Status read_held_turns_locked(const std::string& conversation);
  // Keeps `turn` for the conversation's next assignment, when routing holds it.
  void hold_turn_locked(const store::TurnRecord& turn);
  // The `agent.turn` event that shows `turn` to `agent`.
  store::EventRecord turn_event(const std::string& agent, const store::TurnRecord& turn,
                                bool catch_up) const;
  void run_timer();

  // ---- Delivery (agent_socket.cpp); takes conn_mu only -------------------------------------

  void deliver(const std::vector<store::EventRecord>& events);
  // Adds the audit record `event` calls for to `out`, or counts it into the one there: an
  // offer, the catch-up of an assignment, and the first relayed turn of an assignment each
  // get one. Takes conn_mu.
  void plan_delivery_audit(const store::EventRecord& event, std::vector<DeliveryAudit>& out);
  // Submits the records without waiting for them: a failure is counted and logged.
  void write_delivery_audit(std::vector<DeliveryAudit> audits);
  // The conversation's customer id, from memory while it is routed, else from the store.
  std::string customer_of(const std::string& conversation);
  bool has_session_locked(const std::string& agent) const;
  void send_event(const store::EventRecord& event, const std::shared_ptr<const std::string>& frame);
  std::shared_ptr<const std::string> snapshot_of(const std::string& conversation) const;
  // Reads the agent's stream from the store the first time (streams), and returns the seq of
  // its newest event; the store's error when it cannot be read.
  Result<std::int64_t> load_stream(const std::string& agent);
  // Starts sending events to the session: after a replay of those after `resume_after`, or,
  // with `want_state`, after a state frame, unless it can replay from `resume_after`. False
  // when the session was already live (or is gone).
  bool go_live(std::uint64_t connection_id, std::optional<std::int64_t> resume_after,
               bool want_state = false);
  // Sends the session the state frame of its agent's stream; events after it follow.
  void send_state(std::uint64_t connection_id);
  // Sends one part of a resume's replay, the events after `after_id`; the next part follows
  // once the connection has written this one, and the last ends in finish_live().
  void replay_part(std::uint64_t connection_id, std::int64_t after_id);
  // Decides how each event of a replay part goes out (see ReplayStep) from what the agent's
  // stream holds now, and plans one audit record per conversation whose texts the replay
  // sends again, over all its parts. Takes conn_mu.
  ReplayPlan plan_replay(std::uint64_t connection_id,
                         const std::vector<store::EventRecord>& events);
  // One event of plan_replay(), under conn_mu.
  ReplayStep plan_replay_step_locked(const AgentStream& stream, const store::EventRecord& event);
  void finish_live(std::uint64_t connection_id);
  void release_expired_holds(std::int64_t now_ms);
  std::optional<std::int64_t> next_hold_deadline() const;
  void send(const std::shared_ptr<http::WebSocketConnection>& connection,
            std::shared_ptr<const std::string> frame);
  // Sends the agent's changed profile to each of its connections.
  void send_profile(const store::AgentRecord& agent);

  // Frame handlers (agent_socket.cpp).
  void handle_frame(const std::shared_ptr<http::WebSocketConnection>& connection,
                    const std::string& agent, const ClientFrame& frame);
  void handle_routing_frame(const std::shared_ptr<http::WebSocketConnection>& connection,
                            const std::string& agent, const ClientFrame& frame);
  void handle_message(const std::shared_ptr<http::WebSocketConnection>& connection,
                      const std::string& agent, const ClientFrame& frame);
  void audit_snapshot_read(const std::string& agent, const std::string& conversation_id,
                           const char* reason);
  // Notes a frame from the connection: whether it is its first, and its agent; nullopt when
  // the connection has no session (any more).
  std::optional<bool> note_frame(std::uint64_t connection_id, std::string& agent);
  void agent_arrived(const store::AgentRecord& record);
  void agent_left(const std::string& agent);
  // Forgets the connection's session; its agent, or nullopt when it had none (any more).
  std::optional<std::string> detach(std::uint64_t connection_id);
  // Closes the connection and at once treats it as gone (agent_left()): nothing more is sent
  // on it, whether or not the peer ever completes the close.
  void close_session(const std::shared_ptr<http::WebSocketConnection>& connection,
                     std::uint16_t code, const std::string& reason);
  Result<store::AgentRecord> authenticate(const http::Request& request) const;

  // A token held by each store callback of ours; the destructor waits until none is left,
  // so no callback outlives the service.
  std::shared_ptr<void> track();
  void wait_for_callbacks();

  store::Store& store;
  routing::RoutingConfig config;  // a copy: the router owns its own
  const Clock& clock;

  metrics::Counter& escalations;
  metrics::Counter& escalation_failures;
  metrics::Counter& offers_sent;
  metrics::Counter& assignments;
  metrics::Counter& frames_in;
  metrics::Counter& frame_errors;
  metrics::Counter& store_failures;
  metrics::Histogram& escalation_to_offer;  // escalate() call to offer frame sent, seconds

  // Guards the router and the mirrors below; see with_router().
  mutable std::mutex mu;
  std::condition_variable timer_cv;
  routing::Router router;
  bool started = false;
  bool stopping = false;
  std::int64_t armed_deadline = 0;  // what the timer thread sleeps towards (max: nothing)
  std::unordered_map<std::string, std::string> states;    // conversation -> queued | agent
  std::unordered_map<std::string, std::string> assigned;  // conversation -> agent
  // Turns of routed conversations, for the next agent to take them (on_turn_committed()).
  struct HeldTurns {
    std::int64_t after_seq = 0;  // the snapshot's history ends here
    // As stored, without evaluation. A vector: most conversations wait without a word, and
    // an empty one allocates nothing (an empty std::deque takes some 600 bytes).
    std::vector<store::TurnRecord> turns;
  };
  std::unordered_map<std::string, HeldTurns> held_turns;
  AgentView agent_view;                // set before traffic
  TextMask store_mask;                 // set before traffic
  // Agent messages held until the user was told who joined (set_join_notices()).
  struct HeldMessage {
    std::shared_ptr<http::WebSocketConnection> connection;
    std::string agent;
    ClientFrame frame;
  };
  struct JoinNotice {
    std::int64_t until_ms = 0;
    std::vector<HeldMessage> messages;
  };
  bool join_notices_on = false;
  std::unordered_map<std::string, JoinNotice> join_notices;  // by conversation
  PositionListener position_listener;  // set before traffic
  std::unordered_map<std::string, int> open_connections;  // agent -> count
  std::unordered_set<std::string> profile_dirty;          // changed while disconnected
  std::thread timer;
  std::vector<std::function<void()>> deferred;  // see call_outside()

  std::mutex flight_mu;
  std::condition_variable flight_cv;
  int in_flight = 0;

  // Leaf lock: never take `mu` while holding it.
  mutable std::mutex conn_mu;
  std::unordered_map<std::uint64_t, Session> sessions;                   // by connection id
  std::unordered_map<std::string, std::set<std::uint64_t>> sessions_of;  // agent -> ids
  std::unordered_map<std::string, std::shared_ptr<const std::string>> snapshots;
  // Customer ids of the routed conversations (for audit records), beside their snapshots.
  std::unordered_map<std::string, std::string> customers;
  // conversation -> agent whose relayed turns were audited during its current assignment.
  std::unordered_map<std::string, std::string> relay_audited;
  std::unordered_map<std::string, std::int64_t> last_seq;         // agent -> newest known event id
  // Agents whose stream load_stream() has read; from then on every delivery is applied.
  std::unordered_map<std::string, AgentStream> streams;
  std::unordered_map<std::string, std::int64_t> escalated_at_ns;  // for escalation_to_offer
};

// The routing profile of a stored agent.
routing::AgentProfile profile_of(const store::AgentRecord& record);

// A store or routing failure as an error frame code.
std::string error_code_of(const Status& status);

}  // namespace handover::agents

// The routing engine: a deterministic state machine that decides which agent is offered which
// escalated conversation. Inputs are method calls; what must happen as a result (frames to
// send, events to persist, messages for the user) comes back as Effect values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "handover/routing/routing_config.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
}

namespace handover::routing {

// ---- Error codes ------------------------------------------------------------------------------
// Every failed input returns a Status whose message starts with one of these codes and a colon,
// e.g. "offer_expired: offer 12 of conversation c1 expired". The code is stable and meant for
// error frames; error_code() extracts it.
inline constexpr std::string_view kUnknownConversation = "unknown_conversation";  // NotFound
inline constexpr std::string_view kUnknownAgent = "unknown_agent";                // NotFound
inline constexpr std::string_view kUnknownQueue = "unknown_queue";                // NotFound
inline constexpr std::string_view kInvalidProfile = "invalid_profile";            // InvalidArgument
inline constexpr std::string_view kInvalidArgument = "invalid_argument";          // InvalidArgument
inline constexpr std::string_view kAlreadyQueued = "already_queued";              // Conflict
inline constexpr std::string_view kNotOffered = "not_offered";                    // Conflict
inline constexpr std::string_view kOfferExpired = "offer_expired";                // Conflict
inline constexpr std::string_view kOfferRevoked = "offer_revoked";                // Conflict
inline constexpr std::string_view kOfferDeclined = "offer_declined";              // Conflict
inline constexpr std::string_view kAlreadyAssigned = "already_assigned";          // Conflict
inline constexpr std::string_view kNotAssigned = "not_assigned";                  // Conflict
inline constexpr std::string_view kCapacityFull = "capacity_full";                // Conflict
inline constexpr std::string_view kNotEligible = "not_eligible";                  // Conflict
inline constexpr std::string_view kSelfPickDisabled = "self_pick_disabled";       // Conflict
inline constexpr std::string_view kQueueClosed = "queue_closed";                  // Conflict
inline constexpr std::string_view kAgentUnavailable = "agent_unavailable";        // Conflict
inline constexpr std::string_view kNotRestorable = "not_restorable";              // Conflict

// The code at the start of a routing Status message ("" for OK).
std::string_view error_code(const Status& status);

// Limits on what agents send; anything outside is rejected, so no value can disable a limit.
inline constexpr int kMinCapacity = 1;
inline constexpr int kMaxCapacity = 50;
inline constexpr std::size_t kMaxSkills = 64;
inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::size_t kMaxNoteBytes = 4000;

// ---- Inputs -----------------------------------------------------------------------------------

enum class Presence { kOnline, kAway, kOffline };
const char* to_string(Presence presence);

struct AgentProfile {
  std::string id;
  std::string display_name;
  std::vector<std::string> skills;
  std::vector<std::string> languages;  // language tags; "de" also serves "de-CH"
  int capacity = 1;                    // kMinCapacity..kMaxCapacity concurrent conversations
};

struct Escalation {
  std::string conversation_id;
  std::string customer_id;  // for the sticky agent; may be empty
  std::string language;     // empty: the queue's first language, if any
  std::string queue;
  std::vector<std::string> extra_skills;  // required on top of the queue's skills
  int priority = 0;                       // 0..100, added to the queue's priority
  std::shared_ptr<const std::string> snapshot;  // serialised once; shared by every offer
};

enum class Justified { kYes, kNo, kTooLate };
const char* to_string(Justified justified);

struct Feedback {
  Justified justified = Justified::kYes;
  std::string reason_code;  // a name: a-z, 0-9, '_', '-', '.'; at most 64 characters
  std::string note;         // free text, at most kMaxNoteBytes
};

// Exactly one of the two is set.
struct TransferTarget {
  std::string queue;
  std::string agent;
};

// ---- Effects ----------------------------------------------------------------------------------

struct SendOffer {
  std::string agent_id;
  std::string conversation_id;
  std::uint64_t offer_id = 0;
  std::int64_t expires_at_ms = 0;
  std::string queue;
  std::shared_ptr<const std::string> snapshot;
  // After a transfer: the agent who handed it over ("" otherwise) and the note they left.
  std::string handed_over_by;
  std::string handover_note;
};

struct RevokeOffer {
  std::string agent_id;
  std::string conversation_id;
  std::uint64_t offer_id = 0;
  std::string reason;  // accepted_elsewhere | expired | agent_offline | claimed | cancelled ...
};

struct Assigned {
  std::string agent_id;
  std::string conversation_id;
  std::string queue;
};

struct Unassigned {
  std::string agent_id;
  std::string conversation_id;
  std::string reason;  // resolved | returned | transferred | grace_expired | agent_offline
  std::string note;    // the agent's note for returned and transferred
};

// The user's place in the queue. Position 1 is next.
struct QueueUpdate {
  std::string conversation_id;
  std::string queue;
  std::int64_t position = 0;
  std::int64_t estimated_wait_s = 0;
};

// Nobody can take the conversation: the queue's no-agent path applies. When `queued` is false
// (outside business hours) the router has dropped the conversation; when true (inside hours,
// but nobody online can take it now) it keeps waiting and the user may choose.
struct NoAgent {
  std::string conversation_id;
  std::string queue;
  NoAgentPath path = NoAgentPath::kOfflineMessage;
  std::string reason;  // outside_business_hours | no_agent_online | no_agent_eligible
  bool queued = false;
};

// The conversation has waited longer than its queue's max_wait; it keeps waiting.
struct WaitLimitReached {
  std::string conversation_id;
  std::string queue;
  std::int64_t waited_s = 0;
};

// A transition to persist, in order. Replaying every Event through restore() rebuilds the
// router. `data` holds everything the transition needs to be replayed; see docs/routing.md.
struct Event {
  std::string type;
  std::string conversation_id;  // empty for agent events
  std::string agent_id;         // empty when no agent is involved
  std::int64_t at_ms = 0;
  nlohmann::json data = nlohmann::json::object();
};

using Effect = std::variant<SendOffer, RevokeOffer, Assigned, Unassigned, QueueUpdate, NoAgent,
                            WaitLimitReached, Event>;
using Effects = std::vector<Effect>;

// ---- Views ------------------------------------------------------------------------------------

struct QueueView {
  std::string name;
  std::int64_t waiting = 0;
  std::int64_t oldest_wait_s = 0;
  std::int64_t agents_online = 0;  // online agents who have the queue's skills and a language
  std::int64_t agents_available = 0;  // of those, the ones not away (who can get offers)
  // Moving average of queued-to-accepted; none before the queue's first accept.
  std::optional<std::int64_t> average_wait_s;
  bool open = true;
};

struct AgentView {
  std::string id;
  std::string display_name;
  Presence presence = Presence::kOffline;
  bool connected = false;
  int load = 0;         // assigned conversations
  int open_offers = 0;  // offers waiting for an answer (they reserve capacity)
  int capacity = 0;
};

struct PositionView {
  std::string queue;
  std::int64_t position = 0;  // 0 when assigned
  std::int64_t estimated_wait_s = 0;
  std::string assigned_agent;  // empty while waiting
};

// Gives the snapshot of a conversation during restore(); nullptr when the store has none.
using SnapshotLookup =
    std::function<std::shared_ptr<const std::string>(const std::string& conversation_id)>;

// Not thread-safe: one owner (the routing strand) calls every method. Time comes from the
// injected clock, except in tick(), which is told the time.
class Router {
 public:
  // `clock` must outlive the router. The config must have passed load_routing_config().
  Router(RoutingConfig config, const Clock& clock);
  ~Router();

  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // An agent comes online (or updates its profile and comes back online). Fails with
  // invalid_profile when an id, skill or language is malformed or capacity is outside
  // kMinCapacity..kMaxCapacity. The agent may at once be offered waiting conversations.
  Result<Effects> agent_online(const AgentProfile& profile);

  // Away keeps assignments and open offers but stops new offers; offline revokes open offers
  // and returns assignments to the queue at once, with raised priority. unknown_agent.
  Result<Effects> set_presence(std::string_view agent_id, Presence presence);

  // The agent's connection dropped: open offers go back to the queue at once; assignments stay
  // for the reconnect grace, then are requeued with raised priority. unknown_agent.
  Result<Effects> agent_disconnected(std::string_view agent_id);

  // The agent is back within (or after) the grace; it keeps what it still holds.
  Result<Effects> agent_reconnected(std::string_view agent_id);

  // Puts a conversation in its queue and offers it if an agent is eligible. Fails with
  // unknown_queue, already_queued or invalid_argument. Outside business hours the result is a
  // NoAgent effect (queued=false) and the router keeps nothing.
  Result<Effects> escalate(const Escalation& escalation);

  // Exactly one accept of a conversation wins. Fails with unknown_conversation, not_offered,
  // offer_expired, offer_revoked, offer_declined, already_assigned or capacity_full.
  Result<Effects> accept(std::string_view agent_id, std::string_view conversation_id,
                         std::uint64_t offer_id);

  // The agent says no; it is not offered this conversation again for the decline cooldown.
  Result<Effects> decline(std::string_view agent_id, std::string_view conversation_id,
                          std::uint64_t offer_id, std::string_view reason_code);

  // Takes a waiting conversation of a self_pick queue. self_pick_disabled, not_eligible,
  // capacity_full, already_assigned, unknown_conversation, unknown_agent.
  Result<Effects> claim(std::string_view agent_id, std::string_view conversation_id);

  // Moves an assigned conversation to another queue, or offers it to one named agent (if that
  // agent declines or lets it time out, it waits in its queue as usual). not_assigned,
  // unknown_queue, queue_closed, unknown_agent, agent_unavailable, capacity_full.
  Result<Effects> transfer(std::string_view agent_id, std::string_view conversation_id,
                           const TransferTarget& target, std::string_view note);

  // Hands the conversation back to the bot; the router forgets it. not_assigned.
  Result<Effects> return_to_bot(std::string_view agent_id, std::string_view conversation_id,
                                std::string_view note);

  // Closes the conversation with the agent's feedback; the router forgets it. not_assigned,
  // invalid_argument for a malformed reason code or an overlong note.
  Result<Effects> resolve(std::string_view agent_id, std::string_view conversation_id,
                          const Feedback& feedback);

  // The user left while waiting (went back to the bot, left contact details). Open offers are
  // revoked; the router forgets it. unknown_conversation, already_assigned.
  Result<Effects> cancel(std::string_view conversation_id, std::string_view reason_code);

  // Runs every deadline at or before `now_ms`: offer timeouts, cooldown ends, overflow steps,
  // max_wait, grace expiry and throttled position updates. Idempotent for a given time.
  Effects tick(std::int64_t now_ms);

  // The earliest pending deadline, for a single timer; nullopt when there is none. It may be
  // a deadline that turns out to have nothing left to do: tick() then returns no effects.
  std::optional<std::int64_t> next_deadline_ms() const;

  // Rebuilds state from every persisted Event, in order, on a router that has seen no input.
  // All agents come back disconnected: their assignments get a fresh reconnect grace and their
  // open offers run to their original expiry (the first tick times out those already expired).
  // not_restorable when the router was used, invalid_argument for a malformed event.
  Status restore(std::span<const Event> events, const SnapshotLookup& snapshots);

  std::vector<QueueView> queues_view() const;
  std::vector<AgentView> agents_view() const;  // ordered by id
  Result<PositionView> position(std::string_view conversation_id) const;
  // True while the agent holds an offer of the conversation that is neither answered nor
  // past its expiry (also when the timer has not run yet).
  bool has_open_offer(std::string_view agent_id, std::string_view conversation_id) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace handover::routing

// Agent protocol v1 frames: parsing and validation of what agents send, and the JSON text of
// what the server sends. Pure functions; see docs/agent-protocol.md for the shapes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handover/routing/router.hpp"
#include "handover/store/store.hpp"

namespace handover::agents {

// Error codes of protocol errors (routing errors use routing's own codes).
inline constexpr std::string_view kBadJson = "bad_json";            // not JSON, or not an object
inline constexpr std::string_view kUnknownType = "unknown_type";    // no such frame type
inline constexpr std::string_view kInvalidField = "invalid_field";  // missing or malformed field

// Limits on client frames.
inline constexpr std::size_t kMaxRefBytes = 128;
inline constexpr std::size_t kMaxTextBytes = 8192;
inline constexpr std::size_t kMaxClientIdBytes = 128;

enum class FrameType {
  kHello,
  kPresence,
  kAccept,
  kDecline,
  kClaim,
  kMessage,
  kTransfer,
  kReturnToBot,
  kResolve,
  kSnapshot,
  kPing,
};

const char* to_string(FrameType type);

// One client frame after validation. Only the fields of its type are set.
struct ClientFrame {
  FrameType type = FrameType::kPing;
  nlohmann::json ref;  // null when absent; a string or an integer otherwise
  std::string conversation_id;
  std::uint64_t offer_id = 0;
  std::string reason;          // decline reason code
  std::string text;            // message
  std::string client_turn_id;  // message "id"
  routing::TransferTarget target;
  std::string note;
  routing::Presence presence = routing::Presence::kOnline;
  routing::Feedback feedback;
  std::optional<std::int64_t> resume_after;  // hello
  bool want_state = false;                   // hello "state"
};

struct FrameError {
  std::string code;  // kBadJson, kUnknownType or kInvalidField
  std::string message;
};

// The outcome of parsing: `error` set when the frame is unusable. `frame.ref` is filled
// whenever the text was a JSON object with a valid "ref", so errors can echo it.
struct ParsedFrame {
  ClientFrame frame;
  std::optional<FrameError> error;
};

ParsedFrame parse_client_frame(std::string_view text);

// ---- Server frames ----------------------------------------------------------------------------

// Agent-directed event types, stored with the receiving agent's id (the frame's seq is the
// event id). The frame type is the part after "agent.".
inline constexpr const char* kEventOffer = "agent.offer";
inline constexpr const char* kEventOfferRevoked = "agent.offer_revoked";
inline constexpr const char* kEventAssigned = "agent.assigned";
inline constexpr const char* kEventUnassigned = "agent.unassigned";
inline constexpr const char* kEventTurn = "agent.turn";

// True for the event types above.
bool is_agent_event(std::string_view type);

// The frame for a stored agent-directed event: {"type", "seq", ...data}, with `snapshot`
// spliced in verbatim for offers (null when absent).
std::shared_ptr<const std::string> event_frame(const store::EventRecord& event,
                                               const std::shared_ptr<const std::string>& snapshot);

std::shared_ptr<const std::string> welcome_frame(const store::AgentRecord& agent,
                                                 std::int64_t last_seq);
// {"type":"state","last_seq","offers":[...],"assigned":[...]}: what the agent's stream leaves
// open through last_seq, each item the text of its `offer` or `assigned` event frame.
std::shared_ptr<const std::string> state_frame(std::int64_t last_seq,
                                               const std::vector<std::string>& offers,
                                               const std::vector<std::string>& assigned);
// {"type":"profile","agent":{...}}: the agent's profile as in the welcome, after an admin
// changed it. Not an event: no seq, never replayed.
std::shared_ptr<const std::string> profile_frame(const store::AgentRecord& agent);
// {"type":"error","ref"?,"code","message"}.
std::shared_ptr<const std::string> error_frame(const nlohmann::json& ref, std::string_view code,
                                               std::string_view message);
// {"type":"ack","ref"?,"for", ...extra members}.
std::shared_ptr<const std::string> ack_frame(const nlohmann::json& ref, FrameType for_type,
                                             nlohmann::json extra = nlohmann::json::object());
// {"type":"snapshot","ref"?,"conversation_id","snapshot"} with the snapshot verbatim.
std::shared_ptr<const std::string> snapshot_frame(const nlohmann::json& ref,
                                                  const std::string& conversation_id,
                                                  const std::string& snapshot);

// The JSON of a turn in turn frames and message acks.
nlohmann::json turn_json(const store::TurnRecord& turn);

// Serialises with invalid UTF-8 replaced (client text is checked, but never throw here).
std::string dump(const nlohmann::json& value);

}  // namespace handover::agents

// How routing events are stored: type "routing.<type>", the conversation in its column, and
// the agent, the router's timestamp and the data in data_json. The agent column stays empty:
// it marks agent-directed events, the stream an agent resumes (see frames.hpp).
#pragma once

#include <optional>
#include <string_view>

#include "handover/routing/router.hpp"
#include "handover/store/store.hpp"

namespace handover::agents {

inline constexpr std::string_view kRoutingPrefix = "routing.";
// The audit event written with every escalation; it also holds the snapshot.
inline constexpr const char* kEventEscalated = "handover.escalated";

store::EventRecord encode_routing_event(const routing::Event& event);

// The routing event a stored record holds; nullopt for other records or malformed data.
std::optional<routing::Event> decode_routing_event(const store::EventRecord& record);

}  // namespace handover::agents

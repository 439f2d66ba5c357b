// Routing events to and from store records.
#include "event_codec.hpp"

#include <string>

namespace handover::agents {

store::EventRecord encode_routing_event(const routing::Event& event) {
  store::EventRecord record;
  record.conversation_id = event.conversation_id;
  record.type = std::string(kRoutingPrefix) + event.type;
  const nlohmann::json data = {
      {"agent_id", event.agent_id}, {"at_ms", event.at_ms}, {"data", event.data}};
  record.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return record;
}

std::optional<routing::Event> decode_routing_event(const store::EventRecord& record) {
  if (!record.type.starts_with(kRoutingPrefix)) return std::nullopt;
  const auto data = nlohmann::json::parse(record.data_json, nullptr, false);
  if (!data.is_object()) return std::nullopt;
  const auto agent = data.find("agent_id");
  const auto at = data.find("at_ms");
  const auto payload = data.find("data");
  if (agent == data.end() || !agent->is_string() || at == data.end() || !at->is_number_integer() ||
      payload == data.end() || !payload->is_object()) {
    return std::nullopt;
  }
  routing::Event event;
  event.type = record.type.substr(kRoutingPrefix.size());
  event.conversation_id = record.conversation_id;
  event.agent_id = agent->get<std::string>();
  event.at_ms = at->get<std::int64_t>();
  event.data = *payload;
  return event;
}

}  // namespace handover::agents

// Stored event records to public events, and what each audience may see of them.
#include <string_view>

#include "handover/feed/feed.hpp"
#include "handover/store/views.hpp"

namespace handover::feed {
namespace {

using nlohmann::json;

// A public type, the routing record it comes from, the state it leaves the conversation in
// ("" when it does not change it) and the data keys a customer may see.
struct Mapping {
  std::string_view stored;
  const char* type;
  std::string_view state;
  std::initializer_list<std::string_view> customer_keys;
};

constexpr std::string_view kAnyState;

const Mapping kMappings[] = {
    {"handover.escalated", kHandoverRequested, "queued", {"state"}},
    {"routing.accepted", kHandoverAccepted, "agent", {"state", "agent"}},
    {"routing.claimed", kHandoverAccepted, "agent", {"state", "agent"}},
    {"routing.transferred", kHandoverTransferred, "queued", {"state"}},
    {"routing.requeued", kHandoverRequeued, "queued", {"state", "reason"}},
    {"routing.returned", kHandoverReturned, "bot", {"state"}},
    {"routing.resolved", kHandoverResolved, "bot", {"state", "agent"}},
    {"routing.cancelled", kHandoverCancelled, "bot", {"state", "reason"}},
    {"routing.no_agent", kHandoverNoAgent, kAnyState, {"state", "path", "reason"}},
    {"routing.wait_limit_reached", kHandoverWaitLimit, kAnyState, {"waited_s"}},
    {"handover.rated", kHandoverRated, kAnyState, {"rating"}},
    {"handover.choice", kHandoverChoice, kAnyState, {"choice"}},
};

const Mapping* mapping_for(std::string_view stored) {
  for (const auto& mapping : kMappings) {
    if (mapping.stored == stored) return &mapping;
  }
  return nullptr;
}

const Mapping* mapping_of_public(std::string_view type) {
  for (const auto& mapping : kMappings) {
    if (type == mapping.type) return &mapping;
  }
  return nullptr;
}

json agent_json(const std::string& id, const AgentNames& names) {
  json agent = {{"id", id}};
  if (names) agent["display_name"] = names(id);
  return agent;
}

// Routing records hold {"agent_id", "at_ms", "data"}; the data's fields become the event's,
// except internals only the router needs.
json routing_data(const json& stored, const AgentNames& names) {
  json out = json::object();
  if (const auto data = stored.find("data"); data != stored.end() && data->is_object()) {
    for (const auto& [key, value] : data->items()) {
      if (key.ends_with("_ms") && key != "waited_ms") continue;  // router clocks and cooldowns
      if (key == "language_required" || key == "extra_skills") continue;
      out[key] = value;
    }
  }
  const auto agent = stored.find("agent_id");
  if (agent != stored.end() && agent->is_string() && !agent->get<std::string>().empty()) {
    out["agent"] = agent_json(agent->get<std::string>(), names);
  }
  return out;
}

json escalation_data(const json& stored) {
  json out = json::object();
  for (const char* key : {"queue", "skills", "priority", "reasons"}) {
    if (auto it = stored.find(key); it != stored.end()) out[key] = *it;
  }
  return out;
}

// Reads the "state" member of a turn.created record without building the document: the
// feed maps one of these for every turn. Nested members of that name do not count.
class TurnStateReader final : public nlohmann::json_sax<json> {
 public:
  // False unless the text is a JSON object.
  bool read(std::string_view text) {
    return json::sax_parse(text, this, nlohmann::json::input_format_t::json, /*strict=*/true) &&
           top_is_object_;
  }
  const std::string& state() const { return state_; }

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool string(string_t& text) override {
    if (depth_ == 1 && at_state_) state_ = std::move(text);
    return value();
  }
  bool start_object(std::size_t) override { return open(true); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    at_state_ = depth_ == 1 && name == "state";
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool value() {
    at_state_ = false;
    return true;
  }
  bool open(bool object) {
    if (depth_ == 0) top_is_object_ = object;
    at_state_ = false;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  bool top_is_object_ = false;
  bool at_state_ = false;
  std::string state_;
};

std::optional<Event> turn_event(const store::EventRecord& record,
                                std::shared_ptr<const store::TurnRecord> turn) {
  if (turn == nullptr) return std::nullopt;
  TurnStateReader stored;
  if (!stored.read(record.data_json)) return std::nullopt;
  Event event;
  event.id = record.id;
  event.type = kTurnCreated;
  event.conversation_id = record.conversation_id;
  event.created_at_ms = record.created_at_ms;
  event.data = {{"state", stored.state()}};
  event.turn = std::move(turn);
  return event;
}

}  // namespace

std::optional<Event> to_public(const store::EventRecord& record,
                               std::shared_ptr<const store::TurnRecord> turn,
                               const AgentNames& names) {
  if (record.type == store::kTurnCreatedEvent) return turn_event(record, std::move(turn));
  const Mapping* mapping = mapping_for(record.type);
  if (mapping == nullptr) return std::nullopt;  // internal: not worth parsing
  const bool escalated = record.type == "handover.escalated";
  // An escalation carries the context snapshot for the agent, which no public event shows:
  // the parser skips building it.
  const json::parser_callback_t skip_snapshot = [](int depth, json::parse_event_t event,
                                                   json& parsed) {
    return !(depth == 1 && event == json::parse_event_t::key && parsed == "snapshot");
  };
  const json stored = json::parse(record.data_json, escalated ? skip_snapshot : nullptr,
                                  /*allow_exceptions=*/false);
  if (!stored.is_object()) return std::nullopt;

  Event event;
  event.id = record.id;
  event.type = mapping->type;
  event.conversation_id = record.conversation_id;
  event.created_at_ms = record.created_at_ms;
  if (escalated) {
    event.data = escalation_data(stored);
  } else if (record.type.starts_with("routing.")) {
    event.data = routing_data(stored, names);
  } else {
    event.data = stored;
  }
  if (!mapping->state.empty()) {
    event.data["state"] = std::string(mapping->state);
  } else if (record.type == "routing.no_agent") {
    event.data["state"] = event.data.value("queued", false) ? "queued" : "bot";
  }
  return event;
}

json view(const Event& event, Audience audience) {
  if (event.type == kTurnCreated) {
    json out = event.data;
    if (event.turn == nullptr) return out;
    json& turn = out["turn"] = store::turn_json(*event.turn, store::TurnView::kNoEvaluation);
    if (audience == Audience::kIntegration) {
      if (!event.turn->evaluation_json.empty()) {
        turn["evaluation"] = json::parse(event.turn->evaluation_json, nullptr, false);
      }
      return out;
    }
    // Metadata tells the widget what a system turn is; other roles' is the operator's.
    if (event.turn->role != "system") turn.erase("metadata");
    return out;
  }
  if (audience == Audience::kIntegration) return event.data;
  if (event.type == kQueuePosition) return event.data;
  const Mapping* mapping = mapping_of_public(event.type);
  json out = json::object();
  if (mapping == nullptr) return out;
  for (std::string_view key : mapping->customer_keys) {
    auto it = event.data.find(std::string(key));
    if (it == event.data.end()) continue;
    if (key == "agent" && it->is_object()) {
      out["agent"] = {{"display_name", it->value("display_name", std::string())}};
      continue;
    }
    out[std::string(key)] = *it;
  }
  return out;
}

}  // namespace handover::feed

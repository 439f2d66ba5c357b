// Agent protocol v1: validation of client frames and the text of server frames.
#include "frames.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <limits>
#include <utility>

#include "handover/agents/agent_service.hpp"
#include "handover/store/store.hpp"
#include "handover/store/views.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/json.hpp"
#include "handover/util/utf8.hpp"

namespace handover::agents {
namespace {

using nlohmann::json;

struct TypeName {
  FrameType type;
  const char* name;
};

constexpr std::array<TypeName, 11> kTypes = {{
    {FrameType::kHello, "hello"},
    {FrameType::kPresence, "presence"},
    {FrameType::kAccept, "accept"},
    {FrameType::kDecline, "decline"},
    {FrameType::kClaim, "claim"},
    {FrameType::kMessage, "message"},
    {FrameType::kTransfer, "transfer"},
    {FrameType::kReturnToBot, "return_to_bot"},
    {FrameType::kResolve, "resolve"},
    {FrameType::kSnapshot, "snapshot"},
    {FrameType::kPing, "ping"},
}};

// True when `text` holds a C0 control character other than tab, CR and LF (say, an escaped
// \u0000): the user would be shown it.
bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 && c != '\t' && c != '\r' && c != '\n';
  });
}

// Collects the first field error of a frame; accessors return nullopt when absent or bad.
class Fields {
 public:
  explicit Fields(const json& object) : object_(object) {}

  bool ok() const { return !error_; }
  FrameError take() { return std::move(*error_); }
  void fail(const std::string& pointer, const std::string& detail) {
    if (!error_) error_ = FrameError{std::string(kInvalidField), pointer + ": " + detail};
  }

  void allow_only(std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : object_.items()) {
      bool known = key == "type" || key == "ref";
      for (std::string_view name : allowed) known = known || key == name;
      if (!known) fail("/" + key, "unknown member for this frame type");
    }
  }

  std::optional<std::string> string(const char* key, bool required, std::size_t max_bytes,
                                    bool allow_empty = false) {
    return string_in(object_, "", key, required, max_bytes, allow_empty);
  }

  std::optional<std::string> string_in(const json& object, const std::string& prefix,
                                       const char* key, bool required, std::size_t max_bytes,
                                       bool allow_empty) {
    const std::string pointer = prefix + "/" + key;
    auto it = object.find(key);
    if (it == object.end()) {
      if (required) fail(pointer, "required");
      return std::nullopt;
    }
    if (!it->is_string()) {
      fail(pointer, "expected a string");
      return std::nullopt;
    }
    const auto& value = it->get_ref<const std::string&>();
    // Blank counts as empty, as over REST: a message of spaces says nothing to the user.
    const bool blank = value.find_first_not_of(" \t\r\n") == std::string::npos;
    if (blank && !allow_empty) fail(pointer, "must not be empty");
    if (value.size() > max_bytes) {
      fail(pointer, "longer than " + std::to_string(max_bytes) + " bytes");
    }
    if (!utf8::is_valid(value)) fail(pointer, "not valid UTF-8");
    if (has_control_character(value)) {
      fail(pointer, "control characters other than tab, CR and LF are not allowed");
    }
    if (!ok()) return std::nullopt;
    return value;
  }

  // A JSON integer (no fraction, no string) in [min, max].
  std::optional<std::int64_t> integer(const char* key, bool required, std::int64_t min,
                                      std::int64_t max) {
    const std::string pointer = std::string("/") + key;
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) fail(pointer, "required");
      return std::nullopt;
    }
    const std::string range =
        "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (!it->is_number_integer()) {
      fail(pointer, range);
      return std::nullopt;
    }
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      fail(pointer, range);
      return std::nullopt;
    }
    const auto value = it->get<std::int64_t>();
    if (value < min || value > max) {
      fail(pointer, range);
      return std::nullopt;
    }
    return value;
  }

  // A JSON true or false.
  std::optional<bool> boolean(const char* key) {
    auto it = object_.find(key);
    if (it == object_.end()) return std::nullopt;
    if (!it->is_boolean()) {
      fail(std::string("/") + key, "expected true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  const json& object() const { return object_; }

 private:
  const json& object_;
  std::optional<FrameError> error_;
};

constexpr std::int64_t kMaxId = std::numeric_limits<std::int64_t>::max();

bool valid_client_id(const std::string& id) {
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void read_conversation(Fields& f, ClientFrame& out) {
  out.conversation_id = f.string("conversation_id", true, routing::kMaxIdLength).value_or("");
}

void read_offer(Fields& f, ClientFrame& out) {
  read_conversation(f, out);
  out.offer_id = static_cast<std::uint64_t>(f.integer("offer_id", true, 1, kMaxId).value_or(0));
}

void read_message(Fields& f, ClientFrame& out) {
  f.allow_only({"conversation_id", "text", "id"});
  read_conversation(f, out);
  out.text = f.string("text", true, kMaxTextBytes).value_or("");
  out.client_turn_id = f.string("id", false, kMaxClientIdBytes).value_or("");
  if (!valid_client_id(out.client_turn_id)) {
    f.fail("/id", "use letters, digits, '-', '_', '.', ':'");
  } else if (store::is_server_turn_id(out.client_turn_id)) {
    f.fail("/id", "ids starting with 'narrator:', 'bot-reply:' or 'bot-unavailable:' are the "
                  "server's own");
  }
}

void read_transfer(Fields& f, ClientFrame& out) {
  f.allow_only({"conversation_id", "queue", "agent", "note"});
  read_conversation(f, out);
  out.target.queue = f.string("queue", false, routing::kMaxIdLength).value_or("");
  out.target.agent = f.string("agent", false, routing::kMaxIdLength).value_or("");
  if (f.ok() && out.target.queue.empty() == out.target.agent.empty()) {
    f.fail("/queue", "give exactly one of 'queue' and 'agent'");
  }
  out.note = f.string("note", false, routing::kMaxNoteBytes, true).value_or("");
}

void read_feedback(Fields& f, ClientFrame& out) {
  f.allow_only({"conversation_id", "feedback"});
  read_conversation(f, out);
  auto it = f.object().find("feedback");
  if (it == f.object().end() || !it->is_object()) {
    return f.fail("/feedback", "required: an object {justified, reason, note}");
  }
  for (const auto& [key, value] : it->items()) {
    if (key != "justified" && key != "reason" && key != "note") {
      f.fail("/feedback/" + key, "unknown member");
    }
  }
  auto justified = f.string_in(*it, "/feedback", "justified", true, 16, false);
  if (justified == "yes") {
    out.feedback.justified = routing::Justified::kYes;
  } else if (justified == "no") {
    out.feedback.justified = routing::Justified::kNo;
  } else if (justified == "too_late") {
    out.feedback.justified = routing::Justified::kTooLate;
  } else if (justified) {
    f.fail("/feedback/justified", "expected 'yes', 'no' or 'too_late'");
  }
  out.feedback.reason_code = f.string_in(*it, "/feedback", "reason", false, 64, true).value_or("");
  out.feedback.note =
      f.string_in(*it, "/feedback", "note", false, routing::kMaxNoteBytes, true).value_or("");
}

void read_fields(Fields& f, ClientFrame& out) {
  switch (out.type) {
    case FrameType::kHello:
      f.allow_only({"resume_after", "state"});
      out.resume_after = f.integer("resume_after", false, 0, kMaxId);
      out.want_state = f.boolean("state").value_or(false);
      return;
    case FrameType::kPresence: {
      f.allow_only({"status"});
      auto status = f.string("status", true, 16);
      if (status == "online") {
        out.presence = routing::Presence::kOnline;
      } else if (status == "away") {
        out.presence = routing::Presence::kAway;
      } else if (status) {
        f.fail("/status", "expected 'online' or 'away'");
      }
      return;
    }
    case FrameType::kAccept:
      f.allow_only({"conversation_id", "offer_id"});
      return read_offer(f, out);
    case FrameType::kDecline:
      f.allow_only({"conversation_id", "offer_id", "reason"});
      read_offer(f, out);
      out.reason = f.string("reason", false, 64, true).value_or("");
      return;
    case FrameType::kClaim:
    case FrameType::kSnapshot: f.allow_only({"conversation_id"}); return read_conversation(f, out);
    case FrameType::kMessage: return read_message(f, out);
    case FrameType::kTransfer: return read_transfer(f, out);
    case FrameType::kReturnToBot:
      f.allow_only({"conversation_id", "note"});
      read_conversation(f, out);
      out.note = f.string("note", false, routing::kMaxNoteBytes, true).value_or("");
      return;
    case FrameType::kResolve: return read_feedback(f, out);
    case FrameType::kPing: f.allow_only({}); return;
  }
}

// Reads "ref": a string of at most kMaxRefBytes or an integer. False when malformed.
bool read_ref(const json& object, json& out) {
  auto it = object.find("ref");
  if (it == object.end()) return true;
  if (it->is_number_integer()) {
    out = *it;
    return true;
  }
  if (it->is_string() && it->get_ref<const std::string&>().size() <= kMaxRefBytes &&
      utf8::is_valid(it->get_ref<const std::string&>())) {
    out = *it;
    return true;
  }
  return false;
}

std::shared_ptr<const std::string> share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// Appends `,"name":<raw>` before the closing brace of a serialised object.
std::string splice(std::string object_text, std::string_view name, std::string_view raw) {
  object_text.pop_back();
  object_text += object_text.size() > 1 ? ",\"" : "\"";
  object_text += name;
  object_text += "\":";
  object_text += raw;
  object_text += '}';
  return object_text;
}

}  // namespace

const char* to_string(FrameType type) {
  for (const auto& entry : kTypes) {
    if (entry.type == type) return entry.name;
  }
  return "ping";
}

ParsedFrame parse_client_frame(std::string_view text) {
  ParsedFrame parsed;
  json object;
  std::string detail;
  if (json_util::parse_strict(text, object, detail) != json_util::ParseError::kNone) {
    parsed.error = FrameError{std::string(kBadJson), detail};
    return parsed;
  }
  if (!object.is_object()) {
    parsed.error = FrameError{std::string(kBadJson), "a frame must be a JSON object"};
    return parsed;
  }
  if (!read_ref(object, parsed.frame.ref)) {
    parsed.error = FrameError{std::string(kInvalidField),
                              "/ref: expected an integer or a string of at most 128 bytes"};
    return parsed;
  }
  auto type = object.find("type");
  if (type == object.end() || !type->is_string()) {
    parsed.error = FrameError{std::string(kInvalidField), "/type: required, a string"};
    return parsed;
  }
  const auto& name = type->get_ref<const std::string&>();
  const auto* entry =
      std::find_if(kTypes.begin(), kTypes.end(), [&](const TypeName& t) { return name == t.name; });
  if (entry == kTypes.end()) {
    parsed.error =
        FrameError{std::string(kUnknownType), "unknown frame type '" + name.substr(0, 64) + "'"};
    return parsed;
  }
  parsed.frame.type = entry->type;

  Fields fields(object);
  read_fields(fields, parsed.frame);
  if (!fields.ok()) parsed.error = fields.take();
  return parsed;
}

bool is_agent_event(std::string_view type) {
  return type == kEventOffer || type == kEventOfferRevoked || type == kEventAssigned ||
         type == kEventUnassigned || type == kEventTurn;
}

std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::shared_ptr<const std::string> event_frame(const store::EventRecord& event,
                                               const std::shared_ptr<const std::string>& snapshot) {
  json frame = json::object();
  frame["type"] = event.type.substr(event.type.find('.') + 1);
  frame["seq"] = event.id;
  frame["at"] = format_rfc3339_ms(event.created_at_ms);
  json data = json::parse(event.data_json, nullptr, false);
  if (data.is_object()) {
    for (auto& [key, value] : data.items()) frame[key] = value;
  }
  std::string text = dump(frame);
  if (event.type == kEventOffer) {
    text = splice(std::move(text), "snapshot",
                  snapshot && !snapshot->empty() ? std::string_view(*snapshot) : "null");
  }
  return share(std::move(text));
}

namespace {

json agent_json(const store::AgentRecord& agent) {
  return {{"id", agent.id},
          {"name", agent.name},
          {"display_name", agent.display_name},
          {"skills", json::parse(agent.skills_json, nullptr, false)},
          {"languages", json::parse(agent.languages_json, nullptr, false)},
          {"capacity", agent.capacity}};
}

}  // namespace

std::shared_ptr<const std::string> welcome_frame(const store::AgentRecord& agent,
                                                 std::int64_t last_seq) {
  json frame = {{"type", "welcome"},
                {"protocol", kProtocolVersion},
                {"agent", agent_json(agent)},
                {"last_seq", last_seq}};
  return share(dump(frame));
}

std::shared_ptr<const std::string> state_frame(std::int64_t last_seq,
                                               const std::vector<std::string>& offers,
                                               const std::vector<std::string>& assigned) {
  // The event frames are already JSON text (offers carry their snapshots verbatim).
  auto join = [](const std::vector<std::string>& frames) {
    std::string out = "[";
    for (const auto& frame : frames) {
      if (out.size() > 1) out += ',';
      out += frame;
    }
    return out + "]";
  };
  std::string text = dump(json{{"type", "state"}, {"last_seq", last_seq}});
  text = splice(std::move(text), "offers", join(offers));
  return share(splice(std::move(text), "assigned", join(assigned)));
}

std::shared_ptr<const std::string> profile_frame(const store::AgentRecord& agent) {
  return share(dump(json{{"type", "profile"}, {"agent", agent_json(agent)}}));
}

std::shared_ptr<const std::string> error_frame(const nlohmann::json& ref, std::string_view code,
                                               std::string_view message) {
  json frame = {{"type", "error"}, {"code", code}, {"message", message}};
  if (!ref.is_null()) frame["ref"] = ref;
  return share(dump(frame));
}

std::shared_ptr<const std::string> ack_frame(const nlohmann::json& ref, FrameType for_type,
                                             nlohmann::json extra) {
  json frame = {{"type", "ack"}, {"for", to_string(for_type)}};
  if (!ref.is_null()) frame["ref"] = ref;
  for (auto& [key, value] : extra.items()) frame[key] = std::move(value);
  return share(dump(frame));
}

std::shared_ptr<const std::string> snapshot_frame(const nlohmann::json& ref,
                                                  const std::string& conversation_id,
                                                  const std::string& snapshot) {
  json frame = {{"type", "snapshot"}, {"conversation_id", conversation_id}};
  if (!ref.is_null()) frame["ref"] = ref;
  return share(splice(dump(frame), "snapshot", snapshot.empty() ? "null" : snapshot));
}

nlohmann::json turn_json(const store::TurnRecord& turn) {
  return store::turn_json(turn, store::TurnView::kNoEvaluation);
}

}  // namespace handover::agents

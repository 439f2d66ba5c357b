// Agent administration, the live agent and queue views, and explicit handover requests.
// Agent tokens are shown once, on creation and rotation; only their SHA-256 is stored.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "context.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/routing/router.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace handover::api {
namespace {

constexpr std::size_t kNameBytes = 256;
constexpr std::size_t kCodeBytes = 64;
constexpr std::size_t kLanguageBytes = 35;
constexpr std::size_t kMaxLanguages = 16;
constexpr int kMaxPriority = 100;

http::Response store_error(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return http::problem(404, "not-found", "Not found", status.message());
    case StatusCode::kConflict: return http::problem(409, "conflict", "Conflict", status.message());
    case StatusCode::kUnavailable: {
      auto r = http::problem(503, "unavailable", "Service unavailable", status.message());
      r.set_header("Retry-After", "1");
      return r;
    }
    default: return http::problem(500, "internal", "Internal error", "the store failed");
  }
}

// Responds and returns false unless the caller holds an API key with one of `scopes`.
bool require_scope(const Call& call, unsigned scopes, const http::Responder& respond) {
  const auto& p = call.principal;
  if (p.kind == Principal::Kind::kNone) {
    respond(unauthenticated("send 'Authorization: Bearer <api key>'"));
    return false;
  }
  if (p.kind != Principal::Kind::kApiKey) {
    respond(unauthenticated("this endpoint needs an API key"));
    return false;
  }
  if (!p.has(scopes)) {
    respond(forbidden("this API key lacks the scope for this operation"));
    return false;
  }
  return true;
}

bool require_service(const ApiContext& ctx, const http::Responder& respond) {
  if (ctx.agents) return true;
  respond(http::problem(404, "not-found", "Not found", "agent routing is not configured"));
  return false;
}

bool is_code(const std::string& s) {
  return !s.empty() && s.size() <= kCodeBytes &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") == std::string::npos;
}

// A BCP 47 tag as routing matches it: a primary language of 2 or 3 letters ("de"), then any
// subtags of 1 to 8 letters or digits ("de-CH"). "english" would never match a conversation.
bool is_language(const std::string& s) {
  if (s.empty() || s.size() > kLanguageBytes) return false;
  const auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto is_alnum = [&](char c) { return is_letter(c) || (c >= '0' && c <= '9'); };
  std::size_t begin = 0;
  for (bool primary = true;; primary = false) {
    const std::size_t end = std::min(s.find('-', begin), s.size());
    const std::size_t length = end - begin;
    const auto part = std::string_view(s).substr(begin, length);
    const bool ok = primary ? (length == 2 || length == 3) &&
                                  std::all_of(part.begin(), part.end(), is_letter)
                            : length >= 1 && length <= 8 &&
                                  std::all_of(part.begin(), part.end(), is_alnum);
    if (!ok) return false;
    if (end == s.size()) return true;
    begin = end + 1;
  }
}

// An array of names checked by `valid`; nullopt when absent or bad (errors recorded).
std::optional<json> names(Validator& v, const json& body, const char* key, std::size_t max_items,
                          bool (*valid)(const std::string&), const char* expected) {
  const json* list = v.array(body, "", key);
  if (!list) return std::nullopt;
  const std::string at = std::string("/") + key;
  if (list->size() > max_items) {
    v.fail(at, "at most " + std::to_string(max_items) + " items");
    return std::nullopt;
  }
  json out = json::array();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    if (!item.is_string() || !valid(item.get<std::string>())) {
      v.fail(at + "/" + std::to_string(i), expected);
      continue;
    }
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  return out;
}

// A JSON integer in [min, max]: no string, fraction, or out-of-range value.
std::optional<int> integer(Validator& v, const json& body, const char* key, int min, int max) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  const std::string at = std::string("/") + key;
  const std::string range =
      "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!it->is_number_integer()) {
    v.fail(at, range);
    return std::nullopt;
  }
  const bool too_big = it->is_number_unsigned()
                           ? it->get<std::uint64_t>() > static_cast<std::uint64_t>(max)
                           : it->get<std::int64_t>() > max;
  if (too_big || it->get<std::int64_t>() < min) {
    v.fail(at, range);
    return std::nullopt;
  }
  return static_cast<int>(it->get<std::int64_t>());
}

// Reads the profile members an admin may set into `agent`; `creating` requires the name.
void read_profile(Validator& v, const json& body, store::AgentRecord& agent, bool creating) {
  if (auto name = v.string(body, "", "name", creating, kNameBytes)) agent.name = *name;
  if (auto display = v.string(body, "", "display_name", false, kNameBytes)) {
    agent.display_name = *display;
  }
  if (auto skills = names(v, body, "skills", routing::kMaxSkills, is_code,
                          "expected a skill name: a-z, 0-9, '_', '-', '.'")) {
    agent.skills_json = skills->dump();
  }
  if (auto languages = names(v, body, "languages", kMaxLanguages, is_language,
                             "expected a language tag such as 'de' or 'de-CH'")) {
    agent.languages_json = languages->dump();
  }
  if (auto capacity = integer(v, body, "capacity", routing::kMinCapacity, routing::kMaxCapacity)) {
    agent.capacity = *capacity;
  }
}

json agent_view(const store::AgentRecord& agent) {
  return {{"id", agent.id},
          {"name", agent.name},
          {"display_name", agent.display_name},
          {"skills", json::parse(agent.skills_json, nullptr, false)},
          {"languages", json::parse(agent.languages_json, nullptr, false)},
          {"capacity", agent.capacity},
          {"disabled", agent.disabled},
          {"created_at", format_rfc3339_ms(agent.created_at_ms)},
          {"updated_at", format_rfc3339_ms(agent.updated_at_ms)}};
}

std::string new_agent_token() { return "hat_" + crypto::random_token(32); }

// Stores `after` and tells the agent service, then answers with the view (and the token).
void save_agent(ApiContext& ctx, store::AgentRecord before, store::AgentRecord after,
                std::string token, http::Responder respond) {
  agents::AgentService* service = ctx.agents;
  ctx.store.update_agent(std::move(after),
                         [service, before = std::move(before), token = std::move(token),
                          respond](Result<store::AgentRecord> stored) {
                           if (!stored) return respond(store_error(stored.status()));
                           service->on_agent_updated(before, *stored);
                           json out = agent_view(*stored);
                           if (!token.empty()) out["token"] = token;
                           respond(json_response(200, out.dump()));
                         });
}

}  // namespace

void create_agent(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin, respond) || !require_service(ctx, respond)) return;
  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  v.allow_only(body, "", {"id", "name", "display_name", "skills", "languages", "capacity"});
  store::AgentRecord agent;
  if (auto id = v.string(body, "", "id", false, routing::kMaxIdLength)) {
    if (!is_code(*id)) v.fail("/id", "use a-z, 0-9, '_', '-', '.' (at most 64 characters)");
    agent.id = *id;
  }
  read_profile(v, body, agent, true);
  if (!v.ok()) return respond(validation_problem(v.errors()));

  if (agent.id.empty()) agent.id = "a_" + crypto::random_token(9);
  if (agent.display_name.empty()) agent.display_name = agent.name;
  const std::string token = new_agent_token();
  agent.token_hash = crypto::sha256_hex(token);
  ctx.store.create_agent(std::move(agent), [token, respond](Result<store::AgentRecord> stored) {
    if (!stored) return respond(store_error(stored.status()));
    respond(created_with_token(agent_view(*stored), token, "/v1/admin/agents/" + stored->id));
  });
}

void get_agent(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin, respond) || !require_service(ctx, respond)) return;
  auto agent = ctx.store.get_agent(call.params.at(0));
  if (!agent) return respond(store_error(agent.status()));
  respond(json_response(200, agent_view(*agent).dump()));
}

void patch_agent(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin, respond) || !require_service(ctx, respond)) return;
  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  auto before = ctx.store.get_agent(call.params.at(0));
  if (!before) return respond(store_error(before.status()));
  Validator v;
  v.allow_only(body, "", {"name", "display_name", "skills", "languages", "capacity", "disabled"});
  store::AgentRecord after = *before;
  read_profile(v, body, after, false);
  if (auto disabled = v.boolean(body, "", "disabled")) after.disabled = *disabled;
  if (!v.ok()) return respond(validation_problem(v.errors()));
  save_agent(ctx, std::move(before).value(), std::move(after), {}, std::move(respond));
}

void rotate_agent_token(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin, respond) || !require_service(ctx, respond)) return;
  auto before = ctx.store.get_agent(call.params.at(0));
  if (!before) return respond(store_error(before.status()));
  store::AgentRecord after = *before;
  std::string token = new_agent_token();
  after.token_hash = crypto::sha256_hex(token);
  save_agent(ctx, std::move(before).value(), std::move(after), std::move(token),
             std::move(respond));
}

void list_agents(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin | kScopeRead, respond) || !require_service(ctx, respond)) {
    return;
  }
  auto stored = ctx.store.list_agents();
  if (!stored) return respond(store_error(stored.status()));
  const json live = ctx.agents->agents_view();
  json items = json::array();
  for (const auto& agent : *stored) {
    json item = {{"id", agent.id},
                 {"display_name", agent.display_name},
                 {"disabled", agent.disabled},
                 {"presence", "offline"},
                 {"connected", false},
                 {"load", 0},
                 {"open_offers", 0},
                 {"capacity", agent.capacity}};
    for (const auto& view : live["agents"]) {
      if (view["id"] != agent.id) continue;
      for (const char* key : {"presence", "connected", "load", "open_offers", "capacity"}) {
        item[key] = view[key];
      }
    }
    items.push_back(std::move(item));
  }
  respond(json_response(200, json{{"agents", std::move(items)}}.dump()));
}

namespace {

enum class AgentToken { kNone, kValid, kRefused };

// Whether the caller presents an agent token; an unknown token or a disabled agent is refused
// here (answered). The agent console shows the queues with it.
AgentToken check_agent_token(ApiContext& ctx, const Call& call, const http::Responder& respond) {
  const auto& p = call.principal;
  if (p.kind != Principal::Kind::kBearer || !p.bearer.starts_with("hat_")) {
    return AgentToken::kNone;
  }
  auto agent = ctx.store.get_agent_by_token_hash(crypto::sha256_hex(p.bearer));
  if (!agent) {
    const bool unknown = agent.status().code() == StatusCode::kNotFound;
    respond(unknown ? unauthenticated("the agent token is not valid")
                    : store_problem(agent.status()));
    return AgentToken::kRefused;
  }
  if (agent->disabled) {
    respond(forbidden("agent " + agent->id + " is disabled"));
    return AgentToken::kRefused;
  }
  return AgentToken::kValid;
}

}  // namespace

void list_queues(ApiContext& ctx, Call& call, http::Responder respond) {
  const AgentToken agent = check_agent_token(ctx, call, respond);
  if (agent == AgentToken::kRefused) return;
  if (agent == AgentToken::kNone && !require_scope(call, kScopeAdmin | kScopeRead, respond)) {
    return;
  }
  if (!require_service(ctx, respond)) return;
  respond(json_response(200, ctx.agents->queues_view().dump()));
}

void request_handover(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeBot | kScopeAdmin, respond) || !require_service(ctx, respond)) {
    return;
  }
  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  v.allow_only(body, "", {"queue", "reason", "skills", "priority"});
  agents::Escalation e;
  e.conversation_id = call.params.at(0);
  e.queue = v.string(body, "", "queue", false, routing::kMaxIdLength).value_or("");
  std::string reason = v.string(body, "", "reason", false, kNameBytes).value_or("requested");
  // Free text like a turn's: stored masked (it lands in the event log and the snapshot).
  if (privacy::Masked masked = ctx.masker.mask(reason, privacy::Destination::kStore);
      masked.changed) {
    reason = std::move(masked.text);
  }
  if (auto skills = names(v, body, "skills", routing::kMaxSkills, is_code,
                          "expected a skill name: a-z, 0-9, '_', '-', '.'")) {
    e.skills = skills->get<std::vector<std::string>>();
  }
  e.priority = integer(v, body, "priority", 0, kMaxPriority).value_or(0);
  if (!v.ok()) return respond(validation_problem(v.errors()));

  auto conv = ctx.store.get_conversation(e.conversation_id);
  if (!conv) return respond(store_error(conv.status()));
  e.reasons = {{"source", "api"}, {"reason", reason}, {"key", call.principal.key_name}};
  e.snapshot_json = serialised_snapshot(ctx, *conv, e.reasons);
  e.history_through = conv->last_seq;
  const std::string queue = e.queue.empty() ? ctx.agents->default_queue(conv->language) : e.queue;
  ctx.agents->escalate(std::move(e), [respond, queue](Result<store::ConversationRecord> result) {
    if (!result) {
      const auto code = routing::error_code(result.status());
      if (code == routing::kUnknownQueue) {
        return respond(validation_problem({{"/queue", "unknown queue '" + queue + "'"}}));
      }
      if (code == routing::kInvalidArgument) {
        return respond(validation_problem({{"", result.status().message()}}));
      }
      if (result.status().code() == StatusCode::kConflict) {
        return respond(http::problem(409, "conversation-state", "Conversation not with the bot",
                                     result.status().message()));
      }
      return respond(store_error(result.status()));
    }
    json out = {
        {"conversation", conversation_view(*result)}, {"state", result->state}, {"queue", queue}};
    respond(json_response(202, out.dump()));
  });
}

void end_wait(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_scope(call, kScopeAdmin, respond) || !require_service(ctx, respond)) return;
  const std::string id = call.params.at(0);
  auto conv = ctx.store.get_conversation(id);
  if (!conv) return respond(store_error(conv.status()));
  // As if the user had gone back to the bot: open offers are revoked, the user is told and
  // the conversation can be erased. The reason tells them apart.
  auto done = [respond, id, key = call.principal.key_name](Status status) {
    if (status.code() == StatusCode::kConflict) {
      return respond(http::problem(409, "conversation-state", "Not possible in this state",
                                   status.message()));
    }
    if (!status.is_ok()) return respond(store_error(status));
    spdlog::info("wait ended by admin conv={} key={}", id, key);
    respond(json_response(200, json{{"conversation_id", id}, {"state", agents::kStateBot}}.dump()));
  };
  ctx.agents->cancel_waiting(id, agents::kWaitEndedByAdmin, std::move(done));
}

}  // namespace handover::api

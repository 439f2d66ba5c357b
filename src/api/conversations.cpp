// Conversation and turn endpoints: validation, authorisation and the store calls.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "context.hpp"
#include "handover/triggers/evaluation.hpp"
#include "turn_intake.hpp"
#include "work_queue.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/privacy/masker.hpp"
#include "handover/routing/router.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "handover/util/json_writer.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace handover::api {

using config::LimitsConfig;

// The store names itself in its messages ("store: no conversation c_1") for the log; a
// client is told what is wrong without the module's name.
std::string client_detail(const Status& status) {
  constexpr std::string_view kPrefix = "store: ";
  std::string_view message = status.message();
  if (message.starts_with(kPrefix)) message.remove_prefix(kPrefix.size());
  return std::string(message);
}

http::Response store_problem(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return http::problem(404, "not-found", "Not found", client_detail(status));
    case StatusCode::kConflict:
      return http::problem(409, "conflict", "Conflict", client_detail(status));
    case StatusCode::kUnavailable: {
      // SQLite's own words (a full disk, a lock) are for the log the store writes.
      const bool from_sqlite = status.message().find("sqlite: ") != std::string::npos;
      auto r = http::problem(503, "unavailable", "Service unavailable",
                             from_sqlite ? "the store cannot write now" : client_detail(status));
      r.set_header("Retry-After", "1");
      return r;
    }
    default:
      return http::problem(500, "internal", "Internal error", "the store failed");
  }
}

namespace {

constexpr std::size_t kShortText = 128;
constexpr std::size_t kNameText = 256;
constexpr double kMaxMoney = 1e15;
constexpr std::string_view kAgentTokenPrefix = "hat_";
constexpr std::size_t kEventPage = 1000;

constexpr const char* kAuthHint = "send 'Authorization: Bearer <api key or conversation token>'";

// Conversation tokens are "<conversation id>.<secret>", so a token presented for another
// conversation is told apart from a wrong one without a lookup.
std::string_view token_conversation(std::string_view bearer) {
  const auto dot = bearer.find('.');
  if (dot == std::string_view::npos || !bearer.starts_with("c_")) return {};
  return bearer.substr(0, dot);
}

// Why the agent may read the conversation: "assigned", "offered", or "handled" (assigned to it
// before, when the privacy config allows that); "" when it may not.
std::string agent_read_reason(ApiContext& ctx, const std::string& agent_id,
                              const std::string& conversation_id) {
  using ReadAccess = agents::AgentService::ReadAccess;
  if (ctx.agents) {
    const ReadAccess access = ctx.agents->read_access(agent_id, conversation_id);
    if (access == ReadAccess::kAssigned) return "assigned";
    if (access == ReadAccess::kOffered) return "offered";
  }
  if (!ctx.privacy.access.agents_read_handled) return "";
  store::EventQuery query;
  query.conversation_id = conversation_id;
  query.agent_id = agent_id;
  query.limit = kEventPage;
  for (;;) {
    auto page = ctx.store.list_events(query);
    if (!page) return "";
    for (const auto& event : *page) {
      if (event.type == "agent.assigned") return "handled";
    }
    if (page->size() < kEventPage) return "";
    query.after_id = page->back().id;
  }
}

// An agent token may read a conversation offered or assigned to its agent, nothing else.
std::optional<store::ConversationRecord> load_for_agent(ApiContext& ctx, const Call& call,
                                                        const http::Responder& respond,
                                                        Access* access) {
  if (access == nullptr) {
    respond(forbidden("an agent token may only read conversations and their turns"));
    return std::nullopt;
  }
  auto agent = ctx.store.get_agent_by_token_hash(crypto::sha256_hex(call.principal.bearer));
  if (!agent) {
    const bool unknown = agent.status().code() == StatusCode::kNotFound;
    respond(unknown ? unauthenticated("the agent token is not valid")
                    : store_problem(agent.status()));
    return std::nullopt;
  }
  if (agent->disabled) {
    respond(forbidden("agent " + agent->id + " is disabled"));
    return std::nullopt;
  }
  const std::string& id = call.params.at(0);
  auto conv = ctx.store.get_conversation(id);
  if (!conv && conv.status().code() != StatusCode::kNotFound) {
    respond(store_problem(conv.status()));
    return std::nullopt;
  }
  const std::string reason = conv ? agent_read_reason(ctx, agent->id, id) : std::string();
  if (reason.empty()) {
    respond(forbidden("conversation " + id + " is neither offered nor assigned to agent " +
                      agent->id));
    return std::nullopt;
  }
  *access = Access{"agent", agent->id, reason, true};
  return std::move(conv).value();
}


}  // namespace

std::optional<store::ConversationRecord> load_authorized(ApiContext& ctx, const Call& call,
                                                         unsigned scope,
                                                         const http::Responder& respond,
                                                         Access* access) {
  const auto& p = call.principal;
  const std::string& id = call.params.at(0);
  if (p.kind == Principal::Kind::kNone) {
    respond(unauthenticated(kAuthHint));
    return std::nullopt;
  }
  if (p.kind == Principal::Kind::kApiKey && !p.has(scope)) {
    respond(forbidden("this API key lacks the scope for this operation"));
    return std::nullopt;
  }
  if (p.kind == Principal::Kind::kBearer && p.bearer.starts_with(kAgentTokenPrefix)) {
    return load_for_agent(ctx, call, respond, access);
  }
  const std::string_view owner = token_conversation(p.bearer);
  if (p.kind == Principal::Kind::kBearer && owner.empty()) {
    respond(unauthenticated("the credentials are neither an API key nor a conversation token"));
    return std::nullopt;
  }
  if (p.kind == Principal::Kind::kBearer && owner != id) {
    respond(forbidden("this conversation token belongs to another conversation"));
    return std::nullopt;
  }
  auto conv = ctx.store.get_conversation(id);
  const bool is_token = p.kind == Principal::Kind::kBearer;
  const bool lookup_failed = !conv && conv.status().code() != StatusCode::kNotFound;
  if (is_token && !lookup_failed &&
      (!conv || !Authenticator::token_matches(p.bearer, conv->token_hash))) {
    respond(unauthenticated("the conversation token is not valid"));
    return std::nullopt;
  }
  if (!conv) {
    respond(store_problem(conv.status()));
    return std::nullopt;
  }
  if (access != nullptr && !is_token) *access = key_access(ctx, p);
  return std::move(conv).value();
}

namespace {

// Masks the strings of a serialised JSON value for `destination`; "" stays "".
void mask_json_text(const privacy::Masker& masker, std::string& text,
                    privacy::Destination destination) {
  if (text.empty()) return;
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return;
  if (masker.mask_json(value, destination)) text = value.dump();
}

// Everything a client wrote in a turn, masked before it is stored (and before the triggers
// see it: the masks keep the kind, so rules still understand the text).
void mask_for_store(const privacy::Masker& masker, store::TurnRecord& turn) {
  constexpr auto kStore = privacy::Destination::kStore;
  privacy::Masked text = masker.mask(turn.text, kStore);
  if (text.changed) turn.text = std::move(text.text);
  mask_json_text(masker, turn.bot_json, kStore);
  mask_json_text(masker, turn.actions_json, kStore);
  mask_json_text(masker, turn.metadata_json, kStore);
}

store::TurnRecord for_agent(const privacy::Masker& masker, store::TurnRecord turn) {
  return masked_for_agent(masker, std::move(turn));
}

struct CustomerInput {
  std::string id;
  json object = json::object();
};

void read_customer(Validator& v, const json& body, const LimitsConfig& limits,
                   CustomerInput& out) {
  const json* c = v.object(body, "", "customer");
  if (!c) return;
  v.allow_only(*c, "/customer",
               {"id", "name", "email", "phone", "tier", "lifetime_value", "locale", "attributes"});
  if (auto id = v.string(*c, "/customer", "id", false, kShortText)) out.id = *id;
  for (const char* key : {"name", "email", "phone", "tier", "locale"}) {
    if (auto s = v.string(*c, "/customer", key, false, kNameText)) out.object[key] = *s;
  }
  if (auto ltv = v.number(*c, "/customer", "lifetime_value", false, 0, kMaxMoney)) {
    out.object["lifetime_value"] = *ltv;
  }
  if (const json* attrs = v.object(*c, "/customer", "attributes")) {
    v.max_size(*attrs, "/customer/attributes", limits.max_metadata_bytes);
    out.object["attributes"] = *attrs;
  }
  if (!out.id.empty()) out.object["id"] = out.id;
}

}  // namespace

void create_conversation(ApiContext& ctx, Call& call, http::Responder respond) {
  const auto& p = call.principal;
  if (p.kind != Principal::Kind::kApiKey) {
    return respond(unauthenticated("creating a conversation needs an API key"));
  }
  if (!p.has(kScopeWidget)) return respond(forbidden("this API key cannot create conversations"));

  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  v.allow_only(body, "", {"channel", "language", "customer", "metadata",
                          "privacy_notice_version"});
  store::ConversationRecord rec;
  rec.channel = v.string(body, "", "channel", false, 64).value_or("web");
  if (!valid_token_chars(rec.channel)) {
    v.fail("/channel", "use letters, digits, '-', '_', '.', ':'");
  }
  rec.language = v.string(body, "", "language", false, 35).value_or("und");
  if (!valid_token_chars(rec.language)) v.fail("/language", "expected a BCP 47 tag such as 'de'");
  // Tags are case-insensitive: "DE" and "de_CH" are stored as "de" and "de-ch".
  for (char& c : rec.language) {
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  CustomerInput customer;
  read_customer(v, body, ctx.config.limits, customer);
  json metadata = json::object();
  if (const json* m = v.object(body, "", "metadata")) {
    v.max_size(*m, "/metadata", ctx.config.limits.max_metadata_bytes);
    metadata = *m;
  }
  const std::string notice =
      v.string(body, "", "privacy_notice_version", false, kShortText).value_or("");
  if (Status checked = ctx.privacy.check_notice_version(notice); !checked.is_ok()) {
    v.fail("/privacy_notice_version", checked.message());
  }
  if (!v.ok()) return respond(validation_problem(v.errors()));
  // Free text is masked before the write; the explicit contact fields (email, phone) are
  // kept, as the customer gave them for being contacted (see docs/privacy.md).
  ctx.masker.mask_json(metadata, privacy::Destination::kStore);
  if (auto attributes = customer.object.find("attributes"); attributes != customer.object.end()) {
    ctx.masker.mask_json(*attributes, privacy::Destination::kStore);
  }

  rec.id = "c_" + crypto::random_token(16);
  rec.privacy_notice_version = notice;
  const std::string token = rec.id + "." + crypto::random_token(32);
  rec.state = "bot";
  rec.customer_id = customer.id;
  rec.customer_json = customer.object.dump();
  rec.metadata_json = metadata.dump();
  rec.token_hash = crypto::sha256_hex(token);
  rec.created_at_ms = rec.updated_at_ms = ctx.clock.now_ms();

  ctx.store.create_conversation(
      std::move(rec), [respond, token](Result<store::ConversationRecord> result) {
        if (!result) return respond(store_problem(result.status()));
        respond(created_with_token(conversation_view(*result), token,
                                   "/v1/conversations/" + result->id));
      });
}

void get_conversation(ApiContext& ctx, Call& call, http::Responder respond) {
  Access access;
  auto conv = load_authorized(ctx, call, kScopeRead, respond, &access);
  if (!conv) return;
  json view = conversation_view(*conv);
  if (access.agent) {
    ctx.masker.mask_json(view["metadata"], privacy::Destination::kAgent);
    // The profile's free-form attributes too; name, e-mail and phone are kept for contact.
    if (view["customer"].is_object() && view["customer"].contains("attributes")) {
      ctx.masker.mask_json(view["customer"]["attributes"], privacy::Destination::kAgent);
    }
  }
  // For clients that poll instead of following the event stream: the place in the queue.
  if (ctx.agents && conv->state == agents::kStateQueued) {
    if (auto at = ctx.agents->position(conv->id); at && at->position > 0) {
      view["queue"] = {{"name", at->queue},
                       {"position", at->position},
                       {"estimated_wait_s", at->estimated_wait_s < 0
                                                ? json(nullptr)
                                                : json(at->estimated_wait_s)}};
    }
  }
  respond_audited(ctx, access, "conversation.read", *conv, json_response(200, view.dump()),
                  std::move(respond));
}

namespace {

// Reads the turn body into `turn`; returns false after recording errors in `v`.
void read_turn(Validator& v, const json& body, const LimitsConfig& limits,
               store::TurnRecord& turn) {
  v.allow_only(body, "", {"id", "role", "text", "bot", "actions", "metadata"});
  turn.client_turn_id = v.string(body, "", "id", false, kShortText).value_or("");
  if (!valid_token_chars(turn.client_turn_id)) {
    v.fail("/id", "use letters, digits, '-', '_', '.', ':'");
  } else if (store::is_server_turn_id(turn.client_turn_id)) {
    v.fail("/id", "ids starting with 'narrator:', 'bot-reply:' or 'bot-unavailable:' are the "
                  "server's own");
  }
  if (auto role = v.string(body, "", "role", true, 16)) {
    if (*role != "user" && *role != "bot") {
      v.fail("/role", "unknown role '" + *role + "': expected 'user' or 'bot'");
    }
    turn.role = *role;
  }
  turn.text = v.string(body, "", "text", true, limits.max_text_bytes).value_or("");

  if (const json* bot = v.object(body, "", "bot")) {
    if (turn.role == "user") v.fail("/bot", "only bot turns carry 'bot'");
    v.allow_only(*bot, "/bot", {"confidence", "intent", "fallback", "handover", "unreachable"});
    json clean = json::object();
    if (auto c = v.number(*bot, "/bot", "confidence", false, 0, 1)) clean["confidence"] = *c;
    if (auto i = v.string(*bot, "/bot", "intent", false, kShortText)) clean["intent"] = *i;
    if (auto f = v.boolean(*bot, "/bot", "fallback")) clean["fallback"] = *f;
    if (auto u = v.boolean(*bot, "/bot", "unreachable")) clean["unreachable"] = *u;
    if (const json* h = v.object(*bot, "/bot", "handover")) {
      v.allow_only(*h, "/bot/handover", {"reason"});
      json handover = json::object();
      if (auto reason = v.string(*h, "/bot/handover", "reason", false, kNameText)) {
        handover["reason"] = *reason;
      }
      clean["handover"] = handover;
    }
    turn.bot_json = clean.dump();
  }
  if (const json* actions = v.array(body, "", "actions")) {
    if (turn.role == "user") v.fail("/actions", "only bot turns carry 'actions'");
    if (actions->size() > limits.max_actions) {
      v.fail("/actions", "more than " + std::to_string(limits.max_actions) + " actions");
    }
    for (std::size_t i = 0; i < actions->size() && i < limits.max_actions; ++i) {
      const std::string at = "/actions/" + std::to_string(i);
      const json& a = (*actions)[i];
      if (!a.is_object()) {
        v.fail(at, "expected an object");
        continue;
      }
      v.allow_only(a, at, {"name", "status", "data"});
      v.string(a, at, "name", true, kShortText);
      v.string(a, at, "status", false, 32);
    }
    v.max_size(*actions, "/actions", limits.max_metadata_bytes);
    turn.actions_json = actions->dump();
  }
  if (const json* m = v.object(body, "", "metadata")) {
    v.max_size(*m, "/metadata", limits.max_metadata_bytes);
    turn.metadata_json = m->dump();
  }
}

// Fingerprint of what the client sent, for idempotent retries; "" for a turn without a
// client_turn_id, which no retry can name.
// The hashed text is what a dump() of {"actions", "bot", "metadata", "role", "text"} (the
// JSON columns as strings) gives, written directly; stored hashes depend on it staying so.
std::string content_hash(const store::TurnRecord& t) {
  if (t.client_turn_id.empty()) return std::string();
  std::string canonical;
  json_util::JsonWriter w(canonical);
  w.begin_object();
  w.key("actions").string(t.actions_json);
  w.key("bot").string(t.bot_json);
  w.key("metadata").string(t.metadata_json);
  w.key("role").string(t.role);
  w.key("text").string(t.text);
  w.end_object();
  return crypto::sha256_hex(canonical);
}

// Drops what means the same as its absence: an empty `metadata` object or `actions` array,
// `bot.fallback` and `bot.unreachable` when false, and a `bot` object left empty. A retry
// that spells a default out (or leaves it out) is then the same body as the first request.
// True when something was dropped.
bool drop_explicit_defaults(store::TurnRecord& turn) {
  bool dropped = false;
  const auto drop_if = [&dropped](std::string& column, std::string_view empty) {
    if (column != empty) return;
    column.clear();
    dropped = true;
  };
  drop_if(turn.metadata_json, "{}");
  drop_if(turn.actions_json, "[]");
  if (turn.bot_json.empty()) return dropped;

  json bot = json::parse(turn.bot_json);  // written by read_turn, so it parses
  bool bot_changed = bot.empty();
  for (const char* flag : {"fallback", "unreachable"}) {
    if (auto it = bot.find(flag); it != bot.end() && it->is_boolean() && !it->get<bool>()) {
      bot.erase(it);
      bot_changed = true;
    }
  }
  if (bot_changed) turn.bot_json = bot.empty() ? std::string() : bot.dump();
  return dropped || bot_changed;
}

}  // namespace

namespace {

// `end_user`: the caller holds a conversation token (a browser), so the trigger internals
// stay out of the answer; the state still says whether a person is coming.
// The answer to a posted turn. Its body is written on the network thread, not on the store's
// thread that runs this and that every write waits for; it is written as text, with the
// stored evaluation as it is instead of parsed and serialised again.
http::Response turn_response(store::AppendTurnOutcome outcome, std::string state,
                             const Verdict& verdict, bool end_user) {
  http::Response r;
  r.status = outcome.kind == store::AppendKind::kCreated ? 201 : 200;
  r.content_type = "application/json";
  const bool decided = !end_user && verdict.kind != triggers::DecisionKind::kNone;
  r.make_body = [turn = std::move(outcome.turn), state = std::move(state), end_user,
                 decision = decided ? std::optional<Verdict>(verdict) : std::nullopt] {
    std::string body;
    json_util::JsonWriter w(body);
    w.begin_object();
    if (decision) {
      w.key("decision").begin_object();
      w.key("action").string(triggers::decision_kind_name(decision->kind));
      w.key("queue").string(decision->queue);
      w.key("rule").string(decision->rule_id);
      w.end_object();
    }
    w.key("state").string(state);
    w.key("turn");
    store::write_turn(w, turn, end_user ? store::TurnView::kNoEvaluation : store::TurnView::kFull);
    w.end_object();
    return body;
  };
  return r;
}

// Without an agent service the conversation still changes state, so the escalation is
// recorded and visible to the bot and to analytics.
void record_escalation(ApiContext& ctx, const std::string& id, const Verdict& verdict,
                       store::Callback<store::ConversationRecord> done) {
  store::ConversationUpdate update;
  update.id = id;
  update.expected_state = "bot";
  update.new_state = "queued";
  store::EventRecord event;
  event.type = "handover.requested";
  json data = {{"rule", verdict.rule_id},
               {"queue", verdict.queue},
               {"skills", verdict.skills},
               {"priority", verdict.priority},
               {"reasons", verdict.reasons()}};
  if (!verdict.suggested_by.empty()) data["suggested_by"] = verdict.suggested_by;
  event.data_json = data.dump();
  update.events.push_back(std::move(event));
  ctx.store.update_conversation(
      std::move(update), [done = std::move(done)](Result<store::ConversationUpdateOutcome> r) {
        if (!r) return done(r.status());
        done(std::move(r->record));
      });
}

// A decided escalation that routing refused leaves the conversation with the bot while the
// turn's answer names the decision: say why. Losing a race (someone else escalated first)
// is expected.
void log_refused_escalation(const std::string& id, const Verdict& verdict, const Status& status) {
  if (status.code() == StatusCode::kConflict) {
    spdlog::debug("escalation not needed conv={} rule={}: {}", id, verdict.rule_id,
                  status.message());
    return;
  }
  spdlog::warn("escalation refused conv={} rule={} queue={}: {}", id, verdict.rule_id,
               verdict.queue, status.message());
}

// The escalation a trigger verdict asks for, without its snapshot.
agents::Escalation escalation_of(const std::string& id, const Verdict& verdict) {
  agents::Escalation e;
  e.conversation_id = id;
  e.queue = verdict.queue;
  e.skills = verdict.skills;
  e.priority = std::clamp(verdict.priority, 0, 100);
  e.reasons = {{"rule", verdict.rule_id}, {"fired", verdict.reasons()}};
  if (!verdict.suggested_by.empty()) e.reasons["suggested_by"] = verdict.suggested_by;
  return e;
}

void escalate(ApiContext& ctx, const store::ConversationRecord& conv, const Verdict& verdict,
              store::Callback<store::ConversationRecord> done) {
  if (!ctx.agents) return record_escalation(ctx, conv.id, verdict, std::move(done));
  agents::Escalation e = escalation_of(conv.id, verdict);
  e.snapshot_json = serialised_snapshot(ctx, conv, e.reasons);
  e.history_through = conv.last_seq;
  // A rule may name a queue the routing does not know: hand over to the default queue for
  // the conversation's language rather than leave the user with the bot.
  auto retry = [&ctx, e, done](Result<store::ConversationRecord> r) mutable {
    if (r || routing::error_code(r.status()) != "unknown_queue" || e.queue.empty()) {
      return done(std::move(r));
    }
    e.queue.clear();
    ctx.agents->escalate(std::move(e), std::move(done));
  };
  ctx.agents->escalate(e, std::move(retry));
}

// The most turns a conversation may hold before the escalating one for its snapshot to be
// built inside that turn's transaction, on the store's writer thread: a few milliseconds of
// work at most.
constexpr std::int64_t kTurnsForSnapshotInCommit = 40;

// Whether the deciding turn's own transaction carried its escalation. Written by the
// append's follow-up and read by its completion, both on the store's writer thread.
struct FusedEscalation {
  enum class Outcome { kNotTried, kPlanned, kRefused } outcome = Outcome::kNotTried;
};
using FusedPtr = std::shared_ptr<FusedEscalation>;

// Plans the escalation into the transaction of the turn that decided it, so one commit holds
// the turn, state "queued", the routing events and the offers. When the snapshot cannot be
// built yet (an earlier turn is still uncommitted) nothing is added and the escalation
// follows the commit (complete_turn). A refusal (state, queue) is final, as it would be then.
store::AppendFollowUpFn escalation_follow_up(ApiContext& ctx, store::ConversationRecord conv,
                                             const Verdict& verdict, FusedPtr fused) {
  return [&ctx, conv = std::move(conv), verdict, fused](
             const store::TurnRecord& turn, const std::string& state, store::AppendFollowUp& out) {
    if (state != agents::kStateBot) return;
    // The snapshot of a long conversation (up to snapshot.max_turns turns read and parsed)
    // would hold up every commit queued behind this one; it is built after the commit, on
    // the slow-work thread.
    if (ctx.slow_work != nullptr && turn.seq > kTurnsForSnapshotInCommit) return;
    agents::Escalation e = escalation_of(conv.id, verdict);
    store::ConversationRecord at_turn = conv;
    at_turn.state = state;
    std::optional<std::string> snapshot;
    try {
      snapshot = serialised_snapshot_with(ctx, at_turn, e.reasons, turn);
    } catch (const std::exception& error) {
      spdlog::warn("snapshot before commit failed conv={}: {}", conv.id, error.what());
    }
    if (!snapshot) return;
    e.snapshot_json = std::move(*snapshot);
    e.history_through = turn.seq;
    Status planned = ctx.agents->plan_escalation(e, at_turn, state, out);
    // As escalate() does: a queue routing does not know falls back to the default queue.
    if (!planned.is_ok() && routing::error_code(planned) == "unknown_queue" && !e.queue.empty()) {
      e.queue.clear();
      planned = ctx.agents->plan_escalation(e, at_turn, state, out);
    }
    fused->outcome = planned.is_ok() ? FusedEscalation::Outcome::kPlanned
                                     : FusedEscalation::Outcome::kRefused;
    if (!planned.is_ok()) log_refused_escalation(conv.id, verdict, planned);
  };
}

// What a committed turn ends with: the outcome and the conversation state after it.
using TurnCompletion =
    std::function<void(Result<store::AppendTurnOutcome>, const std::string& state)>;

// After the turn's commit: relay it to the agent who has the conversation, or hand the
// conversation over when the triggers decided so; then complete.
void complete_turn(ApiContext& ctx, store::ConversationRecord conv,
                   Result<store::AppendTurnOutcome> result, const Verdict& verdict,
                   const FusedEscalation& fused, TurnCompletion done) {
  if (fused.outcome == FusedEscalation::Outcome::kPlanned) {
    if (result) {
      ctx.agents->escalation_committed(conv.id, result->events);
    } else {
      ctx.agents->escalation_committed(conv.id, result.status());
    }
  }
  if (!result || result->kind != store::AppendKind::kCreated) {
    const std::string state = result ? result->conversation_state : std::string();
    return done(std::move(result), state);
  }
  conv.state = result->conversation_state;
  conv.last_seq = std::max(conv.last_seq, result->turn.seq);
  if (ctx.agents && result->turn.role != "agent") {
    // Masked only when sent to an agent: most turns go to nobody.
    ctx.agents->on_turn_committed(conv, result->turn);
  }
  const bool hand_over = verdict.kind == triggers::DecisionKind::kEscalate &&
                         conv.state == agents::kStateBot &&
                         fused.outcome == FusedEscalation::Outcome::kNotTried;
  if (!hand_over) return done(std::move(result), conv.state);

  // Here on the writer thread, which answers the commit: the snapshot is built elsewhere.
  auto hand_over_now = [&ctx, conv = std::move(conv), verdict, outcome = std::move(result).value(),
                        done = std::move(done)]() mutable {
    escalate(ctx, conv, verdict,
             [id = conv.id, verdict, outcome = std::move(outcome),
              done = std::move(done)](Result<store::ConversationRecord> escalated) mutable {
               // A lost race (someone else escalated first) still completes with the turn.
               if (!escalated) log_refused_escalation(id, verdict, escalated.status());
               const std::string state =
                   escalated ? escalated->state : outcome.conversation_state;
               done(std::move(outcome), state);
             });
  };
  if (ctx.slow_work == nullptr) return hand_over_now();
  ctx.slow_work->post(std::move(hand_over_now));
}

// The decision a stored evaluation names, as far as the answer to a turn shows it (action,
// queue, rule): what the first answer said. No decision when the turn was stored without an
// evaluation (no trigger intake) or its evaluation cannot be read.
Verdict decision_of(const std::string& evaluation_json) {
  const json evaluation = json::parse(evaluation_json, nullptr, /*allow_exceptions=*/false);
  const auto decision = evaluation.is_object() ? evaluation.find("decision") : evaluation.end();
  if (!evaluation.is_object() || decision == evaluation.end() || !decision->is_object()) {
    return Verdict{};
  }
  Verdict verdict;
  try {
    const std::string action = decision->value("action", "");
    if (action == triggers::decision_kind_name(triggers::DecisionKind::kSuggest)) {
      verdict.kind = triggers::DecisionKind::kSuggest;
    } else if (action == triggers::decision_kind_name(triggers::DecisionKind::kEscalate)) {
      verdict.kind = triggers::DecisionKind::kEscalate;
    }
    verdict.queue = decision->value("queue", "");
    verdict.rule_id = decision->value("rule", "");
  } catch (const json::exception&) {
    return Verdict{};  // a member of the wrong type
  }
  return verdict;
}

// Answers POST .../turns once the turn is complete.
void finish_turn(ApiContext& ctx, store::ConversationRecord conv,
                 Result<store::AppendTurnOutcome> result, const Verdict& verdict,
                 const FusedEscalation& fused, bool end_user, const http::Responder& respond) {
  // A replayed turn was decided when it was first stored: its answer names the decision the
  // first answer named, read from the stored evaluation, not the one just made again.
  const bool replayed = result && result->kind == store::AppendKind::kReplayed;
  const Verdict shown = replayed ? decision_of(result->turn.evaluation_json) : verdict;
  complete_turn(ctx, std::move(conv), std::move(result), verdict, fused,
                [respond, shown, end_user](Result<store::AppendTurnOutcome> done,
                                           const std::string& state) {
                  if (done) return respond(turn_response(std::move(*done), state, shown, end_user));
                  if (done.status().code() == StatusCode::kConflict) {
                    return respond(http::problem(409, "turn-id-conflict", "Turn id already used",
                                                 client_detail(done.status())));
                  }
                  respond(store_problem(done.status()));
                });
}

using TurnFinish =
    std::function<void(Result<store::AppendTurnOutcome>, const Verdict&, const FusedEscalation&)>;

// Submits an append through the trigger intake when there is one; an escalating verdict
// rides on the append (escalation_follow_up) when an agent service routes it.
void submit_turn(ApiContext& ctx, const store::ConversationRecord& conv,
                 store::AppendTurnRequest req, TurnFinish finish) {
  auto fused = std::make_shared<FusedEscalation>();
  if (ctx.intake) {
    auto follow_up_for = [&ctx, &conv, fused](const Verdict& verdict) -> store::AppendFollowUpFn {
      if (!ctx.agents || verdict.kind != triggers::DecisionKind::kEscalate) return {};
      return escalation_follow_up(ctx, conv, verdict, fused);
    };
    auto done = [finish = std::move(finish), fused](Result<store::AppendTurnOutcome> r,
                                                    const Verdict& verdict) {
      finish(std::move(r), verdict, *fused);
    };
    return ctx.intake->submit(conv, std::move(req), std::move(done), follow_up_for);
  }
  ctx.store.append_turn(std::move(req),
                        [finish = std::move(finish), fused](Result<store::AppendTurnOutcome> r) {
                          finish(std::move(r), Verdict{}, *fused);
                        });
}

}  // namespace

void post_turn(ApiContext& ctx, Call& call, http::Responder respond) {
  auto conv = load_authorized(ctx, call, kScopeBot, respond);
  if (!conv) return;

  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  store::AppendTurnRequest req;
  req.turn.conversation_id = conv->id;
  read_turn(v, body, ctx.config.limits, req.turn);
  if (!v.ok()) return respond(validation_problem(v.errors()));
  if (req.turn.role == "bot" && !call.principal.has(kScopeBot)) {
    return respond(forbidden("a conversation token may post only user turns"));
  }
  // Order and cart values in metadata feed the triggers' value signals, which raise priority
  // and pick queues; a customer's browser must not set them.
  if (!req.turn.metadata_json.empty() && !call.principal.has(kScopeBot)) {
    return respond(forbidden("a conversation token may not post metadata: order and cart values "
                             "come from the bot's key"));
  }
  if (req.turn.role == "bot" && conv->state == agents::kStateAgent) {
    return respond(http::problem(409, "conversation-with-agent", "A person has the conversation",
                                 "bot turns are refused while an agent holds the conversation"));
  }
  // Explicit defaults are not stored. Turns stored before they were dropped were hashed with
  // them, so that spelling's hash still names the same body.
  store::TurnRecord as_sent;
  if (!req.turn.client_turn_id.empty()) as_sent = req.turn;
  const bool dropped = drop_explicit_defaults(req.turn);
  // Hashing the masked content keeps even a digest of the raw values out of the store; a
  // retry masks to the same text, so it is still recognised.
  mask_for_store(ctx.masker, req.turn);
  req.turn.content_hash = content_hash(req.turn);
  if (dropped && !as_sent.client_turn_id.empty()) {
    mask_for_store(ctx.masker, as_sent);
    req.equivalent_content_hash = content_hash(as_sent);
  }

  const bool end_user = call.principal.kind == Principal::Kind::kBearer;
  auto finish = [&ctx, respond, end_user, conv = *conv](Result<store::AppendTurnOutcome> result,
                                                        const Verdict& verdict,
                                                        const FusedEscalation& fused) mutable {
    finish_turn(ctx, std::move(conv), std::move(result), verdict, fused, end_user, respond);
  };
  submit_turn(ctx, *conv, std::move(req), std::move(finish));
}

void post_server_turn(ApiContext& ctx, ServerTurn turn,
                      std::function<void(Result<ServerTurnResult>)> done) {
  auto conv = ctx.store.get_conversation(turn.conversation_id);
  if (!conv) return done(conv.status());
  if (turn.role != "bot" && turn.role != "system") {
    return done(Status::invalid_argument("a server turn is a bot or a system turn"));
  }
  store::AppendTurnRequest req;
  req.turn.conversation_id = conv->id;
  req.turn.client_turn_id = std::move(turn.client_turn_id);
  req.turn.role = std::move(turn.role);
  req.turn.text = std::move(turn.text);
  if (turn.bot.is_object()) req.turn.bot_json = turn.bot.dump();
  if (turn.actions.is_array()) req.turn.actions_json = turn.actions.dump();
  if (turn.metadata.is_object()) req.turn.metadata_json = turn.metadata.dump();
  // A connected bot's words are stored under the same policy as a bot's posted over REST.
  mask_for_store(ctx.masker, req.turn);
  req.turn.content_hash = content_hash(req.turn);
  // A bot reply that meets a person (or a queue) is dropped, never shown beside the agent.
  if (req.turn.role == "bot") req.expected_state = std::string(agents::kStateBot);

  auto finish = [&ctx, done = std::move(done), conv = *conv](
                    Result<store::AppendTurnOutcome> result, const Verdict& verdict,
                    const FusedEscalation& fused) mutable {
    complete_turn(ctx, std::move(conv), std::move(result), verdict, fused,
                  [done](Result<store::AppendTurnOutcome> r, const std::string& state) {
                    if (!r) return done(r.status());
                    done(ServerTurnResult{r->turn.seq, state});
                  });
  };
  submit_turn(ctx, *conv, std::move(req), std::move(finish));
}

namespace {

// The escalation a stored evaluation decided, read back as the verdict the intake had made.
std::optional<Verdict> stored_verdict(const std::string& evaluation_json) {
  const json evaluation = json::parse(evaluation_json, nullptr, /*allow_exceptions=*/false);
  if (!evaluation.is_object()) return std::nullopt;
  try {
    const json decision = evaluation.value("decision", json::object());
    if (!decision.is_object() || decision.value("action", "") != "escalate") return std::nullopt;
    Verdict verdict;
    verdict.kind = triggers::DecisionKind::kEscalate;
    verdict.rule_id = decision.value("rule", "");
    verdict.suggested_by = decision.value("suggested_by", "");
    verdict.queue = decision.value("queue", "");
    verdict.skills = decision.value("skills", std::vector<std::string>{});
    verdict.priority = decision.value("priority", 0);
    verdict.fired_json = evaluation.value("fired", json::array()).dump();
    return verdict;
  } catch (const json::exception&) {
    return std::nullopt;  // a member of the wrong type
  }
}

// Escalates one conversation and waits for the outcome; true when the escalation committed.
bool resume_escalation(ApiContext& ctx, const store::UnfinishedEscalation& unfinished) {
  const std::string& id = unfinished.conversation.id;
  const std::optional<Verdict> verdict = stored_verdict(unfinished.turn.evaluation_json);
  if (!verdict) {
    spdlog::warn("escalation not resumed conv={} seq={}: its stored decision is unreadable", id,
                 unfinished.turn.seq);
    return false;
  }
  std::promise<Result<store::ConversationRecord>> escalated;
  escalate(ctx, unfinished.conversation, *verdict, [&escalated](auto r) {
    escalated.set_value(std::move(r));
  });
  const Result<store::ConversationRecord> result = escalated.get_future().get();
  if (!result) {
    spdlog::warn("escalation not resumed conv={} seq={}: {}", id, unfinished.turn.seq,
                 result.status().message());
    return false;
  }
  spdlog::info("escalation resumed conv={} seq={} rule={} state={}", id, unfinished.turn.seq,
               verdict->rule_id, result->state);
  return true;
}

}  // namespace

Result<std::size_t> resume_escalations(ApiContext& ctx) {
  constexpr std::size_t kPage = 100;
  std::size_t resumed = 0;
  std::string after;
  for (;;) {
    auto page = ctx.store.list_unfinished_escalations(after, kPage);
    if (!page) return page.status();
    for (const auto& unfinished : *page) resumed += resume_escalation(ctx, unfinished) ? 1 : 0;
    if (page->size() < kPage) return resumed;
    after = page->back().conversation.id;
  }
}

void list_turns(ApiContext& ctx, Call& call, http::Responder respond) {
  Access access;
  auto conv = load_authorized(ctx, call, kScopeRead, respond, &access);
  if (!conv) return;

  Validator v;
  for (std::size_t i = 0; i < call.query.size(); ++i) {
    const std::string& key = call.query[i].first;
    if (key != "after" && key != "limit") {
      v.fail("/query/" + pointer_token(key), "unknown query parameter '" + key + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (call.query[j].first == key) v.fail("/query/" + pointer_token(key), "given twice");
    }
  }
  std::int64_t after = 0;
  const auto max_page = static_cast<std::int64_t>(ctx.config.limits.max_page);
  std::int64_t limit = std::min<std::int64_t>(100, max_page);
  if (const std::string* a = call.query_param("after")) {
    auto parsed = parse_integer(*a, 0, INT64_MAX);
    if (!parsed) v.fail("/query/after", "expected a non-negative integer");
    after = parsed.value_or(0);
  }
  if (const std::string* l = call.query_param("limit")) {
    auto parsed = parse_integer(*l, 1, max_page);
    if (!parsed) {
      v.fail("/query/limit", "expected an integer from 1 to " + std::to_string(max_page));
    }
    limit = parsed.value_or(limit);
  }
  if (!v.ok()) return respond(validation_problem(v.errors()));

  auto turns = ctx.store.list_turns(conv->id, after, static_cast<std::size_t>(limit));
  if (!turns) return respond(store_problem(turns.status()));
  const bool end_user = call.principal.kind == Principal::Kind::kBearer && !access.agent;
  const store::TurnView view = access.agent ? store::TurnView::kNoEvaluation
                               : end_user   ? store::TurnView::kCustomer
                                            : store::TurnView::kFull;
  const std::int64_t next = turns->empty() ? after : turns->back().seq;
  // The conversation was read before the page; turns committed in between count too.
  std::string body;
  json_util::JsonWriter w(body);
  w.begin_object();
  w.key("last_seq").number(std::max(conv->last_seq, turns->empty() ? 0 : turns->back().seq));
  w.key("next_after").number(next);
  w.key("state").string(conv->state);
  w.key("turns").begin_array();
  for (const auto& t : *turns) {
    if (access.agent) {
      store::write_turn(w, for_agent(ctx.masker, t), view);
    } else {
      store::write_turn(w, t, view);
    }
  }
  w.end_array();
  w.end_object();
  respond_audited(ctx, access, "turns.read", *conv, json_response(200, body), std::move(respond));
}

store::TurnRecord masked_for_agent(const privacy::Masker& masker, store::TurnRecord turn) {
  constexpr auto kAgent = privacy::Destination::kAgent;
  privacy::Masked text = masker.mask(turn.text, kAgent);
  if (text.changed) turn.text = std::move(text.text);
  mask_json_text(masker, turn.metadata_json, kAgent);
  mask_json_text(masker, turn.actions_json, kAgent);
  return turn;
}

Access key_access(const ApiContext& ctx, const Principal& p) {
  if (p.has(kScopeAdmin)) return Access{"api_key", p.key_name, "admin", false};
  if (!p.has(kScopeBot) && ctx.privacy.access.audit_read_keys) {
    return Access{"api_key", p.key_name, "read", false};
  }
  return Access{};
}

}  // namespace handover::api

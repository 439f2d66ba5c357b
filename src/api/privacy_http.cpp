// Data-subject rights and accountability over REST: erasure and export of a customer, the
// access audit trail and the retention trigger. All of them need an admin-scoped API key.
#include <spdlog/spdlog.h>

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "context.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/feed/feed.hpp"
#include "handover/privacy/retention.hpp"
#include "handover/triggers/trigger_service.hpp"
#include "handover/util/clock.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace handover::api {
namespace {

constexpr std::size_t kMaxCustomerId = 128;
constexpr std::int64_t kDefaultAuditPage = 100;
constexpr std::int64_t kMaxAuditPage = 1000;

bool require_admin(const Call& call, const http::Responder& respond) {
  const auto& p = call.principal;
  if (p.kind == Principal::Kind::kNone) {
    respond(unauthenticated("send 'Authorization: Bearer <admin api key>'"));
    return false;
  }
  if (p.kind != Principal::Kind::kApiKey) {
    respond(unauthenticated("this endpoint needs an API key"));
    return false;
  }
  if (!p.has(kScopeAdmin)) {
    respond(forbidden("this endpoint needs an API key with the admin scope"));
    return false;
  }
  return true;
}

// The customer id of the path; responds with 422 and returns nullptr when it is too long.
const std::string* customer_param(const Call& call, const http::Responder& respond) {
  const std::string& id = call.params.at(0);
  if (id.size() <= kMaxCustomerId) return &id;
  respond(validation_problem(
      {{"/path/customer_id", "at most " + std::to_string(kMaxCustomerId) + " bytes"}}));
  return nullptr;
}

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json embedded(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json::object() : parsed;
}

nlohmann::json audit_view(const store::AuditRecord& r) {
  return {{"id", r.id},
          {"at", format_rfc3339_ms(r.at_ms)},
          {"actor", {{"kind", r.actor_kind}, {"id", r.actor_id}}},
          {"action", r.action},
          {"reason", r.reason},
          {"conversation_id", text_or_null(r.conversation_id)},
          {"customer_id", text_or_null(r.customer_id)},
          {"data", embedded(r.data_json)}};
}

nlohmann::json event_view(const store::EventRecord& e) {
  return {{"id", e.id},
          {"type", e.type},
          {"agent_id", text_or_null(e.agent_id)},
          {"data", embedded(e.data_json)},
          {"created_at", format_rfc3339_ms(e.created_at_ms)}};
}

nlohmann::json export_view(const std::string& customer_id, const store::CustomerExport& data,
                           std::int64_t now_ms) {
  nlohmann::json conversations = nlohmann::json::array();
  for (const auto& c : data.conversations) {
    nlohmann::json view = conversation_view(c.record);
    view["turns"] = nlohmann::json::array();
    for (const auto& t : c.turns) view["turns"].push_back(turn_view(t));
    view["events"] = nlohmann::json::array();
    for (const auto& e : c.events) view["events"].push_back(event_view(e));
    conversations.push_back(std::move(view));
  }
  nlohmann::json audit = nlohmann::json::array();
  for (const auto& r : data.audit) audit.push_back(audit_view(r));
  return {{"customer_id", customer_id},
          {"exported_at", format_rfc3339_ms(now_ms)},
          {"conversations", std::move(conversations)},
          {"audit", std::move(audit)}};
}

// ---- Audit queries ----------------------------------------------------------------------------

// Reads the audit query parameters into `query`; errors go to `v`.
void read_audit_query(const Call& call, Validator& v, store::AuditQuery& query) {
  static constexpr std::string_view kKnown[] = {"customer_id", "conversation_id", "from",
                                                "to",          "after",           "limit"};
  for (std::size_t i = 0; i < call.query.size(); ++i) {
    const std::string& key = call.query[i].first;
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      v.fail("/query/" + pointer_token(key), "unknown query parameter '" + key + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (call.query[j].first == key) v.fail("/query/" + pointer_token(key), "given twice");
    }
  }
  // An empty filter would read as no filter and list every record.
  for (const char* name : {"customer_id", "conversation_id"}) {
    const std::string* value = call.query_param(name);
    if (value != nullptr && value->empty()) {
      v.fail(std::string("/query/") + name, "must not be empty");
    }
  }
  if (const std::string* c = call.query_param("customer_id")) query.customer_id = *c;
  if (const std::string* c = call.query_param("conversation_id")) query.conversation_id = *c;
  for (const char* name : {"from", "to"}) {
    const std::string* text = call.query_param(name);
    if (!text) continue;
    const auto ms = parse_rfc3339_ms(*text);
    if (!ms) {
      v.fail(std::string("/query/") + name,
             "expected an RFC 3339 time such as 2026-01-05T10:00:00Z or ...T11:00:00+01:00");
    }
    (std::string_view(name) == "from" ? query.from_ms : query.to_ms) =
        ms.value_or(std::string_view(name) == "from" ? 0 : INT64_MAX);
  }
  if (const std::string* a = call.query_param("after")) {
    auto parsed = parse_integer(*a, 0, INT64_MAX);
    if (!parsed) v.fail("/query/after", "expected a non-negative integer");
    query.after_id = parsed.value_or(0);
  }
  query.limit = kDefaultAuditPage;
  if (const std::string* l = call.query_param("limit")) {
    auto parsed = parse_integer(*l, 1, kMaxAuditPage);
    if (!parsed) v.fail("/query/limit", "expected an integer from 1 to 1000");
    query.limit = static_cast<std::size_t>(parsed.value_or(kDefaultAuditPage));
  }
}

store::AuditRecord record_of(const Access& access, const char* action) {
  store::AuditRecord record;
  record.actor_kind = access.actor_kind;
  record.actor_id = access.actor_id;
  record.action = action;
  record.reason = access.reason;
  return record;
}

}  // namespace

void respond_audited(ApiContext& ctx, const Access& access, const char* action,
                     const store::ConversationRecord& conversation, http::Response response,
                     http::Responder respond) {
  if (access.actor_kind.empty()) return respond(std::move(response));
  store::AuditRecord record = record_of(access, action);
  record.conversation_id = conversation.id;
  record.customer_id = conversation.customer_id;
  auto shared = std::make_shared<http::Response>(std::move(response));
  ctx.store.append_audit(std::move(record), [respond, shared](Result<store::AuditRecord> stored) {
    // No read goes unrecorded: without its audit record it fails.
    if (!stored) return respond(store_problem(stored.status()));
    respond(std::move(*shared));
  });
}

namespace {

// Runs an erasure and answers with what went; `subject` names what was erased in the answer
// ({"customer_id": ...} or {"conversation_id": ...}).
void erase(ApiContext& ctx, store::ErasureRequest request, nlohmann::json subject,
           http::Responder respond) {
  auto* triggers = ctx.triggers;
  auto* feed = ctx.feed;
  auto* agents = ctx.agents;
  ctx.store.erase_customer(std::move(request), [respond, triggers, feed, agents,
                                                subject = std::move(subject)](
                                                   Result<store::ErasureOutcome> erased) {
    if (!erased) return respond(store_problem(erased.status()));
    if (triggers) {
      for (const auto& conversation : erased->conversation_ids) triggers->forget(conversation);
    }
    if (agents) agents->forget_turns(erased->conversation_ids);
    // Open event streams of the erased conversations close.
    if (feed) feed->end_conversations(erased->conversation_ids);
    // The erased ids stay out of the log: the audit record is the trace.
    spdlog::info("erased audit_id={} conversations={} turns={} events={}", erased->audit_id,
                 erased->conversations, erased->turns, erased->events);
    nlohmann::json out = subject;
    out["erased"] = {{"conversations", erased->conversations},
                     {"turns", erased->turns},
                     {"events", erased->events},
                     {"audit_records", erased->audit_records}};
    out["audit_id"] = erased->audit_id;
    respond(json_response(200, out.dump()));
  });
}

}  // namespace

void erase_customer(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_admin(call, respond)) return;
  const std::string* customer = customer_param(call, respond);
  if (!customer) return;
  store::ErasureRequest request;
  request.customer_id = *customer;
  request.audit =
      record_of(Access{"api_key", call.principal.key_name, "admin", false}, "customer.erase");
  erase(ctx, std::move(request), {{"customer_id", *customer}}, std::move(respond));
}

void erase_conversation(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_admin(call, respond)) return;
  const std::string& id = call.params.at(0);
  store::ErasureRequest request;
  request.conversation_id = id;
  request.audit = record_of(Access{"api_key", call.principal.key_name, "admin", false},
                            "conversation.erase");
  erase(ctx, std::move(request), {{"conversation_id", id}}, std::move(respond));
}

void export_customer(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_admin(call, respond)) return;
  const std::string* customer = customer_param(call, respond);
  if (!customer) return;

  auto exported = ctx.store.export_customer(*customer);
  if (!exported) return respond(store_problem(exported.status()));
  const std::string body = export_view(*customer, *exported, ctx.clock.now_ms()).dump();
  store::AuditRecord record =
      record_of(Access{"api_key", call.principal.key_name, "admin", false}, "customer.export");
  record.customer_id = *customer;
  record.data_json = nlohmann::json{{"conversations", exported->conversations.size()}}.dump();
  ctx.store.append_audit(std::move(record), [respond, body](Result<store::AuditRecord> stored) {
    if (!stored) return respond(store_problem(stored.status()));
    respond(json_response(200, body));
  });
}

void list_audit(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_admin(call, respond)) return;
  Validator v;
  store::AuditQuery query;
  read_audit_query(call, v, query);
  if (!v.ok()) return respond(validation_problem(v.errors()));

  auto records = ctx.store.list_audit(query);
  if (!records) return respond(store_problem(records.status()));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : *records) items.push_back(audit_view(r));
  const std::int64_t next = records->empty() ? query.after_id : records->back().id;
  respond(json_response(
      200, nlohmann::json{{"records", std::move(items)}, {"next_after", next}}.dump()));
}

void run_retention(ApiContext& ctx, Call& call, http::Responder respond) {
  if (!require_admin(call, respond)) return;
  if (!ctx.retention) {
    return respond(http::problem(404, "not-found", "Not found", "retention is not configured"));
  }
  ctx.retention->run_async([respond](const privacy::RetentionReport& report) {
    if (!report.status.is_ok()) return respond(store_problem(report.status));
    const nlohmann::json out = {{"rows", report.rows},
                                {"pages_reclaimed", report.pages_reclaimed},
                                {"batches", report.batches},
                                {"duration_ms", report.seconds * 1000.0}};
    respond(json_response(200, out.dump()));
  });
}

}  // namespace handover::api

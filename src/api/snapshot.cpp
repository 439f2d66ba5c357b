// The context snapshot frozen at escalation: built and serialised once per escalation, and
// GET /v1/conversations/{id}/snapshot, which returns the stored one again.
#include "handover/snapshot/snapshot.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "context.hpp"
#include "handover/privacy/masker.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/util/clock.hpp"

namespace handover::api {
namespace {

using nlohmann::json;

snapshot::SnapshotOptions options_of(const config::SnapshotConfig& config) {
  snapshot::SnapshotOptions options;
  options.max_bytes = config.max_bytes;
  options.max_turns = config.max_turns;
  return options;
}

// The trace the escalating code passed: {"rule", "fired"} from the trigger rules, or
// {"source": "api", "reason", "key"} from POST /handover.
snapshot::TriggerInput trigger_of(const json& reasons) {
  snapshot::TriggerInput trigger;
  if (!reasons.is_object()) return trigger;
  if (reasons.value("source", "") == "api") {
    trigger.source = "api";
    trigger.reason = reasons.value("reason", "");
    return trigger;
  }
  trigger.rule = reasons.value("rule", "");
  if (auto fired = reasons.find("fired"); fired != reasons.end() && fired->is_array()) {
    trigger.fired = *fired;
  }
  return trigger;
}

http::Response snapshot_store_problem(const Status& status) {
  if (status.code() == StatusCode::kUnavailable) {
    auto r = http::problem(503, "unavailable", "Service unavailable", status.message());
    r.set_header("Retry-After", "1");
    return r;
  }
  return http::problem(500, "internal", "Internal error", "the store failed");
}

http::Response not_escalated(const std::string& id) {
  return http::problem(404, "not-escalated", "Never escalated",
                       "conversation " + id +
                           " has not been handed to an agent, so it has no "
                           "context snapshot");
}

// A stored turn's text, actions and metadata as the agent masking policy shows them.
void mask_for_agent(const privacy::Masker& masker, store::TurnRecord& turn) {
  constexpr auto kAgent = privacy::Destination::kAgent;
  if (privacy::Masked text = masker.mask(turn.text, kAgent); text.changed) {
    turn.text = std::move(text.text);
  }
  for (std::string* field : {&turn.actions_json, &turn.metadata_json}) {
    if (field->empty()) continue;
    json value = json::parse(*field, nullptr, /*allow_exceptions=*/false);
    if (!value.is_discarded() && masker.mask_json(value, kAgent)) *field = value.dump();
  }
}

// A JSON text as the agent masking policy shows it; `member` names one member to mask
// instead of the whole document.
void mask_json_text_for_agent(const privacy::Masker& masker, std::string& text,
                              const char* member = nullptr) {
  if (text.empty()) return;
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return;
  json* target = &value;
  if (member != nullptr) {
    if (!value.is_object() || !value.contains(member)) return;
    target = &value[member];
  }
  if (masker.mask_json(*target, privacy::Destination::kAgent)) text = value.dump();
}

}  // namespace

namespace {

std::string serialise(ApiContext& ctx, snapshot::SnapshotInput& input,
                      const snapshot::SnapshotOptions& options) {
  // Agents see the agent policy's masks (it can only hide more than the store did): in the
  // history, the conversation's metadata and the profile's free-form attributes.
  for (auto& turn : input.window.turns) mask_for_agent(ctx.masker, turn);
  mask_json_text_for_agent(ctx.masker, input.conversation.metadata_json);
  mask_json_text_for_agent(ctx.masker, input.conversation.customer_json, "attributes");
  if (input.window.first_user_turn) mask_for_agent(ctx.masker, *input.window.first_user_turn);
  std::string text =
      snapshot::build_snapshot(input, options).dump(-1, ' ', false, json::error_handler_t::replace);
  spdlog::debug("snapshot conv={} turns={} bytes={}", input.conversation.id,
                input.window.turns.size(), text.size());
  if (ctx.snapshots_serialised) ctx.snapshots_serialised->inc();
  if (ctx.snapshot_bytes) ctx.snapshot_bytes->observe(static_cast<double>(text.size()));
  return text;
}

}  // namespace

std::string serialised_snapshot(ApiContext& ctx, const store::ConversationRecord& conversation,
                                const json& reasons) {
  const snapshot::SnapshotOptions options = options_of(ctx.config.snapshot);
  snapshot::SnapshotInput input;
  input.conversation = conversation;
  input.trigger = trigger_of(reasons);
  input.frozen_at_ms = ctx.clock.now_ms();
  if (auto window = snapshot::read_turn_window(ctx.store, conversation, options)) {
    input.window = std::move(*window);
  } else {
    // The handover matters more than the history: the agent can still read the turns.
    spdlog::warn("snapshot without turns conv={}: {}", conversation.id, window.status().message());
  }
  return serialise(ctx, input, options);
}

std::optional<std::string> serialised_snapshot_with(ApiContext& ctx,
                                                    store::ConversationRecord conversation,
                                                    const json& reasons,
                                                    const store::TurnRecord& turn) {
  const snapshot::SnapshotOptions options = options_of(ctx.config.snapshot);
  if (options.max_turns < 2 || turn.seq < 1) return std::nullopt;
  snapshot::SnapshotOptions before = options;
  before.max_turns -= 1;
  conversation.last_seq = turn.seq - 1;
  auto window = snapshot::read_turn_window(ctx.store, conversation, before);
  if (!window) return std::nullopt;
  const std::int64_t reached = window->turns.empty() ? 0 : window->turns.back().seq;
  if (reached != turn.seq - 1) return std::nullopt;

  snapshot::SnapshotInput input;
  conversation.last_seq = turn.seq;
  input.conversation = std::move(conversation);
  input.trigger = trigger_of(reasons);
  input.frozen_at_ms = ctx.clock.now_ms();
  input.window = std::move(*window);
  input.window.turns.push_back(turn);
  return serialise(ctx, input, options);
}

void get_snapshot(ApiContext& ctx, Call& call, http::Responder respond) {
  const auto& p = call.principal;
  if (p.kind == Principal::Kind::kNone) {
    return respond(unauthenticated("send 'Authorization: Bearer <api key>'"));
  }
  if (p.kind != Principal::Kind::kApiKey) {
    return respond(unauthenticated("the snapshot needs an API key with scope read"));
  }
  if (!p.has(kScopeRead)) return respond(forbidden("this API key lacks scope read"));

  const std::string& id = call.params.at(0);
  auto conversation = ctx.store.get_conversation(id);
  if (!conversation) {
    if (conversation.status().code() == StatusCode::kNotFound) {
      return respond(http::problem(404, "not-found", "Not found", conversation.status().message()));
    }
    return respond(snapshot_store_problem(conversation.status()));
  }
  if (!ctx.agents) return respond(not_escalated(id));
  auto text = ctx.agents->escalation_snapshot(id);
  if (!text) {
    if (text.status().code() == StatusCode::kNotFound) return respond(not_escalated(id));
    return respond(snapshot_store_problem(text.status()));
  }
  if (text->empty()) {
    return respond(http::problem(410, "snapshot-removed", "Snapshot removed",
                                 "the context snapshot of conversation " + id +
                                     " was removed by retention (retention.snapshots)"));
  }
  respond_audited(ctx, key_access(ctx, p), "snapshot.read", *conversation,
                  json_response(200, *text), std::move(respond));
}

}  // namespace handover::api

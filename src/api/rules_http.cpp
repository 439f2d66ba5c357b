// Admin endpoints for the trigger rules: status, reload and rollback.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "context.hpp"
#include "handover/triggers/rule_set_holder.hpp"
#include "handover/triggers/trigger_service.hpp"
#include "validation.hpp"
#include "work_queue.hpp"

namespace handover::api {
namespace {

std::optional<http::Response> refuse(const ApiContext& ctx, const Call& call) {
  if (call.principal.kind == Principal::Kind::kNone) {
    return unauthenticated("send 'Authorization: Bearer <admin API key>'");
  }
  if (call.principal.kind != Principal::Kind::kApiKey) {
    return unauthenticated("rule administration needs an admin API key");
  }
  if (!call.principal.has(kScopeAdmin)) return forbidden("this API key lacks the admin scope");
  if (!ctx.triggers) {
    return http::problem(404, "not-found", "Not found", "triggers are not enabled");
  }
  return std::nullopt;
}

http::Response status_response(ApiContext& ctx, int status) {
  return json_response(status, triggers::to_json(ctx.triggers->rules().status()).dump());
}

}  // namespace

void get_rules(ApiContext& ctx, Call& call, http::Responder respond) {
  if (auto denied = refuse(ctx, call)) return respond(std::move(*denied));
  respond(status_response(ctx, 200));
}

void reload_rules(ApiContext& ctx, Call& call, http::Responder respond) {
  if (auto denied = refuse(ctx, call)) return respond(std::move(*denied));
  // The reload takes no parameters; a body, if sent, must be an empty object.
  if (!call.request.body.empty()) {
    json body;
    if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
    Validator v;
    v.allow_only(body, "", {});
    if (!v.ok()) return respond(validation_problem(v.errors()));
  }
  // Reading and compiling a large file takes a while; a network thread must not wait for it.
  auto reload = [&ctx, respond = std::move(respond)] {
    const Status s = ctx.triggers->rules().reload().status();
    if (!s.is_ok()) {
      // The previous rules stay active; the errors are in the problem and in GET
      // /v1/admin/rules.
      return respond(http::problem(422, "invalid-rules", "Rules not loaded", s.message()));
    }
    respond(status_response(ctx, 200));
  };
  if (ctx.rule_reloads == nullptr) return reload();
  ctx.rule_reloads->post(std::move(reload));
}

void rollback_rules(ApiContext& ctx, Call& call, http::Responder respond) {
  if (auto denied = refuse(ctx, call)) return respond(std::move(*denied));
  std::string hash;
  if (!call.request.body.empty()) {
    json body;
    if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
    Validator v;
    v.allow_only(body, "", {"hash"});
    // "" (or no hash) goes back to the previous version, as the rule holder does.
    hash = v.string(body, "", "hash", false, 64, /*allow_empty=*/true).value_or("");
    if (!v.ok()) return respond(validation_problem(v.errors()));
  }
  auto& rules = ctx.triggers->rules();
  const std::string previous = rules.current()->version().hash;
  const Status s = rules.rollback(hash);
  if (!s.is_ok()) {
    return respond(http::problem(404, "unknown-rule-version", "No such rule set version",
                                 s.message()));
  }
  // Reloads are logged by the holder's listener; a rollback changes the rules as much.
  spdlog::info("trigger rules rolled back version={} previous={} key={}",
               rules.current()->version().hash, previous, call.principal.key_name);
  respond(status_response(ctx, 200));
}

}  // namespace handover::api

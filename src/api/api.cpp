// Entry point of the REST API: target parsing, routing, CORS and the health and
// metrics endpoints. Conversation endpoints live in conversations.cpp.
#include "handover/api/api.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>

#include "context.hpp"
#include "static_files.hpp"
#include "turn_intake.hpp"
#include "work_queue.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/privacy/masker.hpp"
#include "handover/store/store.hpp"
#include "handover/util/utf8.hpp"

namespace handover::api {

const std::string* Call::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

http::Response json_response(int status, const std::string& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body;
  return r;
}

http::Response created_with_token(nlohmann::json view, const std::string& token,
                                  const std::string& location) {
  view["token"] = token;
  auto r = json_response(201, view.dump());
  r.set_header("Location", location);
  return r;
}

namespace {

constexpr const char* kAllowHeaders = "Authorization, Content-Type, Last-Event-ID, X-Request-Id";

std::shared_ptr<const privacy::Masker> masker_for(const ApiDeps& deps,
                                                  const privacy::PrivacyConfig& config) {
  if (deps.masker) return deps.masker;
  Result<std::shared_ptr<const privacy::Masker>> made = privacy::Masker::create(config);
  // The config loader compiled every pattern already; this is the fallback of last resort.
  return made ? *made : privacy::Masker::built_in();
}

class ApiImpl final : public Api, public TurnPoster {
 public:
  explicit ApiImpl(const ApiDeps& deps)
      : privacy_(deps.privacy ? *deps.privacy : privacy::PrivacyConfig()),
        masker_(masker_for(deps, privacy_)),
        ctx_{deps.config,  deps.store,    deps.metrics, deps.clock, Authenticator(deps.config.auth),
             deps.agents,  deps.triggers, nullptr,      privacy_,   *masker_,
             deps.retention},
        pages_(deps.config.web) {
    ctx_.feed = deps.feed;
    ctx_.slow_work = &slow_work_;
    ctx_.rule_reloads = &rule_reloads_;
    if (deps.agents) {
      deps.agents->set_agent_view([masker = masker_](const store::TurnRecord& turn) {
        return masked_for_agent(*masker, turn);
      });
      deps.agents->set_store_mask([masker = masker_](const std::string& text) {
        privacy::Masked masked = masker->mask(text, privacy::Destination::kStore);
        return masked.changed ? std::move(masked.text) : text;
      });
    }
    if (deps.triggers) {
      auto& fired = deps.metrics.counter(
          "handover_rules_fired_total",
          "Trigger rules that fired on a turn, by rule and suppression (none: it acted or lost "
          "to a stronger rule; shadow, cooldown, with_human: recorded only)",
          {"rule", "suppressed"});
      intake_ = std::make_unique<TurnIntake>(*deps.triggers, deps.store, &fired);
      ctx_.intake = intake_.get();
    }
    auto& registry = deps.metrics;
    ctx_.snapshots_serialised =
        &registry
             .counter("handover_snapshots_serialised_total",
                      "Context snapshots built and serialised (one per escalation)")
             .with({});
    ctx_.snapshot_bytes = &registry
                               .histogram("handover_snapshot_bytes",
                                          "Size of each serialised context snapshot",
                                          {1024, 4096, 16384, 65536, 262144, 1048576, 4194304})
                               .with({});
    auto& store = deps.store;
    registry.callback_gauge("handover_store_queue_depth", "Writes waiting for the store writer",
                            [&store] { return static_cast<double>(store.stats().queue_depth); });
    registry.callback_gauge(
        "handover_store_conversation_rows_behind",
        "Conversation rows that do not count their newest turns yet (written behind in rounds)",
        [&store] { return static_cast<double>(store.stats().conversation_rows_behind); });
    auto& batches = registry.histogram("handover_store_commit_batch_size",
                                       "Requests committed per store transaction",
                                       {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
                        .with({});
    auto& latency = registry.histogram("handover_store_commit_duration_seconds",
                                       "Time to commit one store transaction",
                                       metrics::latency_buckets())
                        .with({});
    registry.callback_counter("handover_store_commit_failures_total",
                              "Store transactions that failed to commit",
                              [&store] {
                                return static_cast<double>(store.stats().failed_commits);
                              });
    registry.callback_counter("handover_store_commits_total", "Store transactions committed",
                              [&store] { return static_cast<double>(store.stats().commits); });
    registry.callback_counter(
        "handover_store_checkpoints_total", "WAL checkpoints run by the checkpoint thread",
        [&store] { return static_cast<double>(store.stats().checkpoints); });
    registry.callback_counter(
        "handover_store_writer_checkpoints_total",
        "WAL checkpoints the writer ran itself because the WAL outgrew the thread (they delay "
        "commits)",
        [&store] { return static_cast<double>(store.stats().writer_checkpoints); });
    registry.callback_counter(
        "handover_store_writer_cache_misses_total",
        "Pages the store writer read back because its page cache did not hold them",
        [&store] { return static_cast<double>(store.stats().writer_cache_misses); });
    store.set_commit_observer([&batches, &latency](std::size_t n, double seconds) {
      batches.observe(static_cast<double>(n));
      latency.observe(seconds);
    });
  }

  TurnPoster& turns() override { return *this; }

  Result<std::size_t> resume_escalations() override {
    return api::resume_escalations(ctx_);
  }

  void stop() override { slow_work_.stop(); }

  void post(ServerTurn turn, std::function<void(Result<ServerTurnResult>)> done) override {
    post_server_turn(ctx_, std::move(turn), std::move(done));
  }

  void handle(http::Request request, http::Responder respond) override {
    Call call;
    const std::string* origin = request.header("origin");
    const bool cors = origin && origin_allowed(*origin);
    const std::string cors_origin = cors ? *origin : std::string();

    std::vector<std::string> segments;
    if (!parse_target(request.target, segments, call.query)) {
      return respond(finish(http::problem(400, "bad-target", "Malformed request target",
                                          "the request target is not a valid origin-form URI"),
                            "", cors_origin));
    }
    // Ids, names and filters are UTF-8 text everywhere inside: a path segment or query
    // parameter that decodes to anything else is refused before any handler sees it.
    if (!all_utf8(segments, call.query)) {
      return respond(finish(http::problem(400, "bad-target", "Malformed request target",
                                          "the request target decodes to invalid UTF-8"),
                            "", cors_origin));
    }
    const RouteMatch match = router_.match(request.method, segments);
    const std::string route = match.route;
    auto reply = [respond, route, cors_origin](http::Response r) {
      respond(finish(std::move(r), route, cors_origin));
    };

    if (request.method == "OPTIONS" && match.kind != RouteMatch::Kind::kNotFound) {
      return reply(options(request, match, origin != nullptr, cors));
    }
    if (match.kind == RouteMatch::Kind::kNotFound) {
      return reply(http::problem(404, "not-found", "Not found", "no such resource"));
    }
    if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
      auto r = http::problem(405, "method-not-allowed", "Method not allowed",
                             "allowed: " + match.allow);
      r.set_header("Allow", match.allow);
      return reply(std::move(r));
    }
    if (match.id == RouteId::kWebFile) {
      return reply(pages_.serve(request, segments.front(), match.tail));
    }
    call.params = match.params;
    if (!is_public(match.id)) call.principal = ctx_.auth.identify(request);
    if (call.principal.malformed) {
      return reply(unauthenticated("the Authorization header must be 'Bearer <secret>'"));
    }
    call.request = std::move(request);
    dispatch(match.id, call, std::move(reply));
  }

 private:
  void dispatch(RouteId id, Call& call, http::Responder reply) {
    switch (id) {
      case RouteId::kCreateConversation: return create_conversation(ctx_, call, std::move(reply));
      case RouteId::kGetConversation: return get_conversation(ctx_, call, std::move(reply));
      case RouteId::kPostTurn: return post_turn(ctx_, call, std::move(reply));
      case RouteId::kListTurns: return list_turns(ctx_, call, std::move(reply));
      case RouteId::kStreamEvents: return stream_events(ctx_, call, std::move(reply));
      case RouteId::kPostChoice: return post_choice(ctx_, call, std::move(reply));
      case RouteId::kPostRating: return post_rating(ctx_, call, std::move(reply));
      case RouteId::kRequestHandover: return request_handover(ctx_, call, std::move(reply));
      case RouteId::kEndWait: return end_wait(ctx_, call, std::move(reply));
      case RouteId::kGetSnapshot: return get_snapshot(ctx_, call, std::move(reply));
      case RouteId::kCreateAgent: return create_agent(ctx_, call, std::move(reply));
      case RouteId::kGetAgent: return get_agent(ctx_, call, std::move(reply));
      case RouteId::kPatchAgent: return patch_agent(ctx_, call, std::move(reply));
      case RouteId::kRotateAgentToken: return rotate_agent_token(ctx_, call, std::move(reply));
      case RouteId::kListAgents: return list_agents(ctx_, call, std::move(reply));
      case RouteId::kListQueues: return list_queues(ctx_, call, std::move(reply));
      case RouteId::kGetRules: return get_rules(ctx_, call, std::move(reply));
      case RouteId::kReloadRules: return reload_rules(ctx_, call, std::move(reply));
      case RouteId::kRollbackRules: return rollback_rules(ctx_, call, std::move(reply));
      case RouteId::kHandoverAnalytics:
        return handover_analytics(ctx_, call, std::move(reply));
      case RouteId::kEraseCustomer: return erase_customer(ctx_, call, std::move(reply));
      case RouteId::kEraseConversation:
        return erase_conversation(ctx_, call, std::move(reply));
      case RouteId::kExportCustomer: return export_customer(ctx_, call, std::move(reply));
      case RouteId::kListAudit: return list_audit(ctx_, call, std::move(reply));
      case RouteId::kRunRetention: return run_retention(ctx_, call, std::move(reply));
      case RouteId::kLivez:
      case RouteId::kHealthz: return reply(json_response(200, R"({"status":"ok"})"));
      case RouteId::kReadyz: return readyz(std::move(reply));
      case RouteId::kWebHome: return reply(pages_.home());
      case RouteId::kWebFile: return reply(http::problem(404, "not-found", "Not found", ""));
      case RouteId::kMetrics: {
        http::Response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = ctx_.metrics.render();
        return reply(std::move(r));
      }
    }
  }

  void readyz(http::Responder reply) {
    ctx_.store.probe_writable([reply](Result<bool> ok) {
      if (ok && *ok) return reply(json_response(200, R"({"status":"ready"})"));
      auto r = http::problem(503, "not-ready", "Not ready",
                             ok ? "the store is not writable" : ok.status().message());
      r.set_header("Retry-After", "1");
      reply(std::move(r));
    });
  }

  // Health probes, metrics and the pages answer without credentials (and ignore any sent).
  static bool is_public(RouteId id) {
    return id == RouteId::kLivez || id == RouteId::kReadyz || id == RouteId::kHealthz ||
           id == RouteId::kMetrics || id == RouteId::kWebHome || id == RouteId::kWebFile;
  }

  static bool all_utf8(const std::vector<std::string>& segments,
                       const std::vector<std::pair<std::string, std::string>>& query) {
    for (const auto& segment : segments) {
      if (!utf8::is_valid(segment)) return false;
    }
    for (const auto& [key, value] : query) {
      if (!utf8::is_valid(key) || !utf8::is_valid(value)) return false;
    }
    return true;
  }

  static bool parse_target(const std::string& target, std::vector<std::string>& segments,
                           std::vector<std::pair<std::string, std::string>>& query) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return false;
    for (auto seg : parsed->segments()) segments.push_back(std::string(seg));
    // "/a/" and "/a" are the same resource; a trailing empty segment is dropped.
    if (!segments.empty() && segments.back().empty()) segments.pop_back();
    if (segments.empty()) segments.emplace_back();
    for (auto param : parsed->params()) {
      // "?" alone and the empty pieces of "?a=1&&b=2" name no parameter.
      if (param.key.empty() && !param.has_value) continue;
      query.emplace_back(std::string(param.key), std::string(param.value));
    }
    return true;
  }

  bool origin_allowed(const std::string& origin) const {
    const auto& list = ctx_.config.cors.allowed_origins;
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& o) { return o == "*" || o == origin; });
  }

  http::Response options(const http::Request& request, const RouteMatch& match, bool has_origin,
                         bool cors) const {
    http::Response r;
    r.status = 204;
    r.set_header("Allow", match.allow);
    if (!has_origin || !request.header("access-control-request-method")) return r;
    if (!cors) return forbidden("this origin is not allowed (see cors.allowed_origins)");
    r.set_header("Access-Control-Allow-Methods", match.allow);
    r.set_header("Access-Control-Allow-Headers", kAllowHeaders);
    r.set_header("Access-Control-Max-Age", std::to_string(ctx_.config.cors.max_age_s));
    return r;
  }

  static http::Response finish(http::Response r, const std::string& route,
                               const std::string& cors_origin) {
    r.route = route;
    // API answers are never cached; the pages set their own revalidation policy.
    const bool cache_set = std::any_of(r.headers.begin(), r.headers.end(),
                                       [](const auto& h) { return h.first == "Cache-Control"; });
    if (!cache_set) r.set_header("Cache-Control", "no-store");
    r.set_header("X-Content-Type-Options", "nosniff");
    if (!cors_origin.empty()) {
      r.set_header("Access-Control-Allow-Origin", cors_origin);
      r.set_header("Access-Control-Expose-Headers", "Location, Retry-After, X-Request-Id");
      r.set_header("Vary", "Origin");
    }
    return r;
  }

  const privacy::PrivacyConfig privacy_;  // a copy, so the context can refer to it
  std::shared_ptr<const privacy::Masker> masker_;
  ApiContext ctx_;
  StaticFiles pages_;
  std::unique_ptr<TurnIntake> intake_;
  Router router_;
  WorkQueue slow_work_;  // it stops late: its jobs use everything above
  WorkQueue rule_reloads_{"rule-reloads"};  // last: it stops first
};

}  // namespace

std::unique_ptr<Api> make_api(const ApiDeps& deps) { return std::make_unique<ApiImpl>(deps); }

}  // namespace handover::api

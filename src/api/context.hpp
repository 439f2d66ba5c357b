// State shared by the API's request handlers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth.hpp"
#include "handover/api/api.hpp"
#include "handover/config/server_config.hpp"
#include "handover/http/message.hpp"
#include "handover/privacy/masker.hpp"
#include "handover/privacy/privacy_config.hpp"
#include "handover/store/store.hpp"
#include "router.hpp"

namespace handover::metrics {
class Counter;
class Histogram;
class Registry;
}

namespace handover::api {

class TurnIntake;
class WorkQueue;

struct ApiContext {
  const config::ServerConfig& config;
  store::Store& store;
  metrics::Registry& metrics;
  const Clock& clock;
  Authenticator auth;
  agents::AgentService* agents = nullptr;
  triggers::TriggerService* triggers = nullptr;
  TurnIntake* intake = nullptr;  // set when triggers is
  const privacy::PrivacyConfig& privacy;
  const privacy::Masker& masker;
  privacy::RetentionJob* retention = nullptr;
  feed::Hub* feed = nullptr;     // null: no event stream
  // Runs escalations that follow their turn's commit (their snapshot reads up to
  // snapshot.max_turns stored turns), so neither the store's writer nor a network thread
  // waits for them. Null: they run where the commit is answered.
  WorkQueue* slow_work = nullptr;
  // Runs POST /v1/admin/reload, one at a time, apart from the escalations on slow_work. Null:
  // on the network thread.
  WorkQueue* rule_reloads = nullptr;
  metrics::Counter* snapshots_serialised = nullptr;  // one per escalation, however many offers
  metrics::Histogram* snapshot_bytes = nullptr;
};

// Who reads a conversation and why, for the access audit. Token holders (the data subject)
// and bot keys (which run the conversation) are not audited.
struct Access {
  std::string actor_kind;  // "agent" or "api_key"; "" when the read is not audited
  std::string actor_id;    // agent id or API key name
  std::string reason;      // "offered", "assigned", "handled", "admin" or "read"
  bool agent = false;      // answers go through the agent masking policy
};

// One request after routing, with what the handlers need to answer it.
struct Call {
  http::Request request;
  std::vector<std::string> params;                      // route placeholders
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Principal principal;

  // The value of query parameter `name`, or nullptr.
  const std::string* query_param(std::string_view name) const;
};

// The problem response for a store failure (404, 409, 503 with Retry-After, or 500).
http::Response store_problem(const Status& status);

// Loads the conversation named in the path (call.params[0]) and checks access: an API key
// needs `scope`, a conversation token must belong to this conversation, an agent token (only
// where `access` is given: the reads) must be offered or assigned the conversation. Fills
// `access` for the audit. Responds on failure and returns nullopt.
std::optional<store::ConversationRecord> load_authorized(ApiContext& ctx, const Call& call,
                                                         unsigned scope,
                                                         const http::Responder& respond,
                                                         Access* access = nullptr);

// Conversation and turn endpoints (conversations.cpp).
void create_conversation(ApiContext& ctx, Call& call, http::Responder respond);
void get_conversation(ApiContext& ctx, Call& call, http::Responder respond);
void post_turn(ApiContext& ctx, Call& call, http::Responder respond);
void list_turns(ApiContext& ctx, Call& call, http::Responder respond);
// A bot or system turn the server adds itself (TurnPoster).
void post_server_turn(ApiContext& ctx, ServerTurn turn,
                      std::function<void(Result<ServerTurnResult>)> done);
// Api::resume_escalations.
Result<std::size_t> resume_escalations(ApiContext& ctx);

// The user's answers to a handover (experience_http.cpp): the choice while waiting and the
// rating after a resolution.
void post_choice(ApiContext& ctx, Call& call, http::Responder respond);
void post_rating(ApiContext& ctx, Call& call, http::Responder respond);

// The customer event stream, GET /v1/conversations/{id}/events (events_http.cpp).
void stream_events(ApiContext& ctx, Call& call, http::Responder respond);

// Agent, queue and handover endpoints (agents_http.cpp). Without ctx.agents they answer 404.
void request_handover(ApiContext& ctx, Call& call, http::Responder respond);
// Takes a conversation out of its queue and back to the bot (admin key); 409 unless waiting.
void end_wait(ApiContext& ctx, Call& call, http::Responder respond);
void create_agent(ApiContext& ctx, Call& call, http::Responder respond);
void get_agent(ApiContext& ctx, Call& call, http::Responder respond);
void patch_agent(ApiContext& ctx, Call& call, http::Responder respond);
void rotate_agent_token(ApiContext& ctx, Call& call, http::Responder respond);
void list_agents(ApiContext& ctx, Call& call, http::Responder respond);
void list_queues(ApiContext& ctx, Call& call, http::Responder respond);

// Trigger rule administration (rules_http.cpp). Without ctx.triggers they answer 404.
void get_rules(ApiContext& ctx, Call& call, http::Responder respond);
void reload_rules(ApiContext& ctx, Call& call, http::Responder respond);
void rollback_rules(ApiContext& ctx, Call& call, http::Responder respond);

// Handover analytics (analytics_http.cpp).
void handover_analytics(ApiContext& ctx, Call& call, http::Responder respond);

// Customer erasure and export, the audit trail and the retention trigger (privacy_http.cpp).
void erase_customer(ApiContext& ctx, Call& call, http::Responder respond);
void erase_conversation(ApiContext& ctx, Call& call, http::Responder respond);
void export_customer(ApiContext& ctx, Call& call, http::Responder respond);
void list_audit(ApiContext& ctx, Call& call, http::Responder respond);
void run_retention(ApiContext& ctx, Call& call, http::Responder respond);

// How a read with an API key is audited: admin keys always, read keys when the privacy
// config says so, bot keys never (they run the conversation).
Access key_access(const ApiContext& ctx, const Principal& p);

// Sends `response` once the audit record of the read is committed, or at once when `access`
// asks for none. Should the record not be written, the read fails with the store's problem:
// nothing is read unrecorded.
void respond_audited(ApiContext& ctx, const Access& access, const char* action,
                     const store::ConversationRecord& conversation, http::Response response,
                     http::Responder respond);

// The context snapshot handed to agents at escalation, serialised (snapshot.cpp): built from
// the stored turns up to conversation.last_seq and `reasons` (the trigger trace given to
// agents::Escalation). Call once per escalation; every offer shares the text.
std::string serialised_snapshot(ApiContext& ctx, const store::ConversationRecord& conversation,
                                const nlohmann::json& reasons);
// The same while `turn`, the newest, is still being committed: the stored turns before it
// and `turn` itself. nullopt when the stored turns do not reach up to it (an earlier turn
// is still uncommitted too) or cannot be read; the caller then escalates after the commit.
std::optional<std::string> serialised_snapshot_with(ApiContext& ctx,
                                                    store::ConversationRecord conversation,
                                                    const nlohmann::json& reasons,
                                                    const store::TurnRecord& turn);
// How a stored turn is shown to agents: personal data masked for the agent destination
// (conversations.cpp).
store::TurnRecord masked_for_agent(const privacy::Masker& masker, store::TurnRecord turn);

// GET /v1/conversations/{id}/snapshot: the snapshot stored with the latest escalation.
void get_snapshot(ApiContext& ctx, Call& call, http::Responder respond);

// 201 with `view` plus the secret `token` (shown this once) and a Location header.
http::Response created_with_token(nlohmann::json view, const std::string& token,
                                  const std::string& location);

// A JSON response with `status`.
http::Response json_response(int status, const std::string& body);

}  // namespace handover::api

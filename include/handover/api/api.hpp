// The REST API v1: routes, authentication, validation and the JSON shapes of
// conversations and turns. The network layer hands it plain requests.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "handover/http/message.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
namespace config {
struct ServerConfig;
}
namespace metrics {
class Registry;
}
namespace store {
class Store;
}
namespace agents {
class AgentService;
}
namespace feed {
class Hub;
}
namespace triggers {
class TriggerService;
}
namespace privacy {
struct PrivacyConfig;
class Masker;
class RetentionJob;
}  // namespace privacy
}  // namespace handover

namespace handover::api {

struct ApiDeps {
  const config::ServerConfig& config;
  store::Store& store;
  metrics::Registry& metrics;
  const Clock& clock;
  agents::AgentService* agents = nullptr;      // routing to people; null: no agent endpoints
  triggers::TriggerService* triggers = nullptr;  // turn evaluation; null: turns are not scored
  // Masking, notice versions and read rules; null: the built-in defaults.
  const privacy::PrivacyConfig* privacy = nullptr;
  std::shared_ptr<const privacy::Masker> masker = nullptr;  // null: built from `privacy`
  privacy::RetentionJob* retention = nullptr;  // null: POST /v1/admin/retention/run is 404
  feed::Hub* feed = nullptr;  // public events; null: no customer event stream
};

// A turn the server adds itself: a connected bot's reply or a message to the user.
struct ServerTurn {
  std::string conversation_id;
  std::string role;  // "bot" or "system"
  std::string text;
  nlohmann::json bot = nullptr;       // bot turns: {"confidence", "intent", "fallback"}
  nlohmann::json actions = nullptr;   // bot turns: [{"name", "status", "data"}]
  nlohmann::json metadata = nullptr;  // an object, e.g. {"message": "handover.announce"}
  std::string client_turn_id;         // idempotency key, e.g. "bot-reply:12"; may be empty
};

// The facts a posted server turn ends with: the stored turn's seq and the state after it
// (a bot reply may itself escalate the conversation).
struct ServerTurnResult {
  std::int64_t seq = 0;
  std::string state;
};

// Posts server turns through the same intake as POST .../turns (trigger evaluation, commit,
// escalation, relay to the agent), without HTTP authorisation. Thread-safe. `done` gets
// NotFound for an unknown conversation, Conflict when a bot turn meets a conversation a
// person holds, or the store's error; it may run on the store's writer thread.
class TurnPoster {
 public:
  virtual ~TurnPoster() = default;
  virtual void post(ServerTurn turn, std::function<void(Result<ServerTurnResult>)> done) = 0;
};

// The API: the HTTP handler and the poster for the server's own turns.
class Api : public http::Handler {
 public:
  virtual TurnPoster& turns() = 0;

  // Hands over the conversations whose escalation a turn decided but that were never handed
  // over (store::Store::list_unfinished_escalations): the escalation that follows a turn's
  // commit as its own write is lost when the process stops in between. Each goes as the turn's
  // stored evaluation decided, with a snapshot of the stored turns. Blocks until each
  // escalation is committed or refused; returns how many were committed, or the store's error
  // when the conversations cannot be read. Call once at start-up, after the agent service has
  // started and before traffic.
  virtual Result<std::size_t> resume_escalations() = 0;

  // Finishes the escalations still being prepared in the background (those that follow their
  // turn's commit); later ones run on the caller's thread. Call once the network has stopped,
  // before the agent service and the store stop. The destructor does it too.
  virtual void stop() = 0;
};

// Builds the request handler. The dependencies must outlive it. Thread-safe: handle()
// may be called from several network threads at once.
std::unique_ptr<Api> make_api(const ApiDeps& deps);

// Access log lines and request metrics for every exchange, including those the
// network layer answers itself. Registers its metrics in `registry` on construction.
std::unique_ptr<http::Observer> make_request_telemetry(metrics::Registry& registry,
                                                       bool access_log);

}  // namespace handover::api

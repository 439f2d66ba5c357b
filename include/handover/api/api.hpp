// The REST API v1: routes, authentication, validation and the JSON shapes of
// conversations and turns. The network layer hands it plain requests.
#pragma once

#include <atomic>
#include <memory>

#include "handover/http/message.hpp"

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
};

// Builds the request handler. The dependencies must outlive it. Thread-safe: handle()
// may be called from several network threads at once.
std::unique_ptr<http::Handler> make_api(const ApiDeps& deps);

// Access log lines and request metrics for every exchange, including those the
// network layer answers itself. Registers its metrics in `registry` on construction.
std::unique_ptr<http::Observer> make_request_telemetry(metrics::Registry& registry,
                                                       bool access_log);

}  // namespace handover::api

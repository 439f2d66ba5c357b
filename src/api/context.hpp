// State shared by the API's request handlers.
#pragma once

#include <string>
#include <vector>

#include "auth.hpp"
#include "handover/api/api.hpp"
#include "handover/config/server_config.hpp"
#include "handover/http/message.hpp"
#include "router.hpp"

namespace handover::metrics {
class Registry;
}

namespace handover::api {

struct ApiContext {
  const config::ServerConfig& config;
  store::Store& store;
  metrics::Registry& metrics;
  const Clock& clock;
  Authenticator auth;
  agents::AgentService* agents = nullptr;
  triggers::TriggerService* triggers = nullptr;
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

// Conversation and turn endpoints (conversations.cpp).
void create_conversation(ApiContext& ctx, Call& call, http::Responder respond);
void get_conversation(ApiContext& ctx, Call& call, http::Responder respond);
void post_turn(ApiContext& ctx, Call& call, http::Responder respond);
void list_turns(ApiContext& ctx, Call& call, http::Responder respond);

// A JSON response with `status`.
http::Response json_response(int status, const std::string& body);

}  // namespace handover::api

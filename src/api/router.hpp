// Matches a method and a decoded path against route templates such as
// "/v1/conversations/{id}/turns". A prefix route such as "/console/{file}" matches the prefix
// followed by any number of segments (none included), which it hands over as the tail.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handover::api {

enum class RouteId {
  kCreateConversation,
  kGetConversation,
  kPostTurn,
  kListTurns,
  kStreamEvents,
  kPostChoice,
  kPostRating,
  kRequestHandover,
  kEndWait,
  kGetSnapshot,
  kCreateAgent,
  kGetAgent,
  kPatchAgent,
  kRotateAgentToken,
  kListAgents,
  kListQueues,
  kGetRules,
  kReloadRules,
  kRollbackRules,
  kHandoverAnalytics,
  kEraseCustomer,
  kEraseConversation,
  kExportCustomer,
  kListAudit,
  kRunRetention,
  kLivez,
  kReadyz,
  kHealthz,
  kMetrics,
  kWebHome,
  kWebFile,
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
  RouteId id{};
  const char* route = "";            // the template, for logs and metrics
  std::vector<std::string> params;   // values of {placeholders}, in order
  std::vector<std::string> tail;     // prefix routes: the segments after the prefix
  std::string allow;                 // for 405 and OPTIONS: "GET, POST, OPTIONS"
};

class Router {
 public:
  Router();
  // `segments` are the percent-decoded path segments.
  RouteMatch match(std::string_view method, const std::vector<std::string>& segments) const;
  // Every route as (method, template), e.g. ("GET", "/v1/conversations/{id}"), in table
  // order. For tests that compare the table with docs/openapi.yaml.
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> pattern;  // "{}" marks a parameter; prefix routes: the prefix
    RouteId id;
    const char* text;
    bool prefix = false;
  };
  std::vector<Route> routes_;
};

}  // namespace handover::api

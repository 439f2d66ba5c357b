// Route table of the v1 API.
#include "router.hpp"

#include <algorithm>

namespace handover::api {
namespace {

std::vector<std::string> split_template(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 1;
  while (pos <= text.size()) {
    const std::size_t next = std::min(text.find('/', pos), text.size());
    std::string part(text.substr(pos, next - pos));
    if (!part.empty() && part.front() == '{') part = "{}";
    out.push_back(std::move(part));
    pos = next + 1;
  }
  return out;
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments,
             std::vector<std::string>* params) {
  if (pattern.size() != segments.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "{}") {
      if (segments[i].empty()) return false;
      if (params) params->push_back(segments[i]);
    } else if (pattern[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

// A prefix route matches its fixed segments and hands the rest over as the tail.
bool matches_prefix(const std::vector<std::string>& prefix,
                    const std::vector<std::string>& segments, std::vector<std::string>* tail) {
  if (segments.size() < prefix.size()) return false;
  if (!std::equal(prefix.begin(), prefix.end(), segments.begin())) return false;
  if (tail) tail->assign(segments.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                         segments.end());
  return true;
}

// The fixed part of "/console/{file}": {"console"}.
std::vector<std::string> prefix_of(std::string_view text) {
  std::vector<std::string> out = split_template(text);
  out.pop_back();
  return out;
}

}  // namespace

Router::Router() {
  const auto add = [this](const char* method, const char* text, RouteId id) {
    routes_.push_back({method, split_template(text), id, text});
  };
  add("POST", "/v1/conversations", RouteId::kCreateConversation);
  add("GET", "/v1/conversations/{id}", RouteId::kGetConversation);
  add("DELETE", "/v1/conversations/{id}", RouteId::kEraseConversation);
  add("POST", "/v1/conversations/{id}/turns", RouteId::kPostTurn);
  add("GET", "/v1/conversations/{id}/turns", RouteId::kListTurns);
  add("GET", "/v1/conversations/{id}/events", RouteId::kStreamEvents);
  add("POST", "/v1/conversations/{id}/choice", RouteId::kPostChoice);
  add("POST", "/v1/conversations/{id}/rating", RouteId::kPostRating);
  add("POST", "/v1/conversations/{id}/handover", RouteId::kRequestHandover);
  add("GET", "/v1/conversations/{id}/snapshot", RouteId::kGetSnapshot);
  add("POST", "/v1/admin/conversations/{id}/end-wait", RouteId::kEndWait);
  add("POST", "/v1/admin/agents", RouteId::kCreateAgent);
  add("GET", "/v1/admin/agents/{id}", RouteId::kGetAgent);
  add("PATCH", "/v1/admin/agents/{id}", RouteId::kPatchAgent);
  add("POST", "/v1/admin/agents/{id}/token", RouteId::kRotateAgentToken);
  add("GET", "/v1/agents", RouteId::kListAgents);
  add("GET", "/v1/queues", RouteId::kListQueues);
  add("GET", "/v1/admin/rules", RouteId::kGetRules);
  add("POST", "/v1/admin/reload", RouteId::kReloadRules);
  add("POST", "/v1/admin/rules/rollback", RouteId::kRollbackRules);
  add("GET", "/v1/analytics/handovers", RouteId::kHandoverAnalytics);
  add("DELETE", "/v1/customers/{customer_id}", RouteId::kEraseCustomer);
  add("GET", "/v1/customers/{customer_id}/export", RouteId::kExportCustomer);
  add("GET", "/v1/audit", RouteId::kListAudit);
  add("POST", "/v1/admin/retention/run", RouteId::kRunRetention);
  add("GET", "/livez", RouteId::kLivez);
  add("GET", "/readyz", RouteId::kReadyz);
  add("GET", "/healthz", RouteId::kHealthz);
  add("GET", "/metrics", RouteId::kMetrics);
  add("GET", "/", RouteId::kWebHome);
  // The browser pages under web/; the tail names the file.
  for (const char* text : {"/console/{file}", "/widget/{file}"}) {
    routes_.push_back({"GET", prefix_of(text), RouteId::kWebFile, text, true});
  }
}

RouteMatch Router::match(std::string_view method,
                         const std::vector<std::string>& segments) const {
  RouteMatch result;
  std::vector<std::string> allowed;
  for (const auto& route : routes_) {
    const bool hit = route.prefix ? matches_prefix(route.pattern, segments, nullptr)
                                  : matches(route.pattern, segments, nullptr);
    if (!hit) continue;
    result.route = route.text;
    allowed.push_back(route.method);
    if (route.method == "GET") allowed.push_back("HEAD");
    const bool same = route.method == method || (method == "HEAD" && route.method == "GET");
    if (same && result.kind != RouteMatch::Kind::kFound) {
      result.kind = RouteMatch::Kind::kFound;
      result.id = route.id;
      if (route.prefix) {
        matches_prefix(route.pattern, segments, &result.tail);
      } else {
        matches(route.pattern, segments, &result.params);
      }
    }
  }
  if (allowed.empty()) return result;
  allowed.push_back("OPTIONS");
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    result.allow += (i ? ", " : "") + allowed[i];
  }
  if (result.kind != RouteMatch::Kind::kFound) result.kind = RouteMatch::Kind::kMethodNotAllowed;
  return result;
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.emplace_back(route.method, route.text);
  return out;
}

}  // namespace handover::api

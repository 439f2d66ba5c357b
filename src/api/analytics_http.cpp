// GET /v1/analytics/handovers: query validation and the store read behind the report.
#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/analytics/handover_report.hpp"
#include "handover/util/clock.hpp"
#include "validation.hpp"

namespace handover::api {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kDefaultDays = 7;
constexpr std::int64_t kMaxDays = 366;
constexpr std::size_t kMaxFilter = 128;
constexpr std::int64_t kLatestMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
constexpr std::size_t kMaxChannel = 64;
constexpr std::size_t kMaxChannels = 16;
constexpr const char* kParams[] = {"from", "to", "queue", "rule", "channel"};

// A bare date in `to` ends with that day: the window runs to the next midnight.
std::optional<std::int64_t> parse_bound(const std::string& text, bool is_end) {
  auto ms = parse_rfc3339_ms(text, /*allow_date=*/true);
  if (ms && is_end && text.size() == 10) *ms += kDayMs;
  return ms;
}

void check_params(Validator& v, const Call& call) {
  for (std::size_t i = 0; i < call.query.size(); ++i) {
    const std::string& key = call.query[i].first;
    if (std::find(std::begin(kParams), std::end(kParams), key) == std::end(kParams)) {
      v.fail("/query/" + pointer_token(key), "unknown query parameter '" + key + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (call.query[j].first == key) v.fail("/query/" + pointer_token(key), "given twice");
    }
  }
}

// "web,api": channel names as conversations carry them, separated by commas.
std::vector<std::string> read_channels(Validator& v, const std::string& text) {
  std::vector<std::string> channels;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, comma - start);
    if (name.empty() || name.size() > kMaxChannel || !valid_token_chars(name)) {
      v.fail("/query/channel", "expected channel names of 1 to " + std::to_string(kMaxChannel) +
                                   " letters, digits, '-', '_', '.', ':', separated by ','");
      return {};
    }
    channels.push_back(name);
    if (comma == text.size()) break;
    start = comma + 1;
  }
  if (channels.size() > kMaxChannels) {
    v.fail("/query/channel", "at most " + std::to_string(kMaxChannels) + " channels");
  }
  return channels;
}

analytics::ReportQuery read_query(Validator& v, const Call& call, std::int64_t now_ms) {
  analytics::ReportQuery q;
  q.to_ms = now_ms;
  const std::string* to = call.query_param("to");
  const std::string* from = call.query_param("from");
  if (to) {
    auto parsed = parse_bound(*to, true);
    if (!parsed) v.fail("/query/to", "expected an RFC 3339 timestamp or a date (YYYY-MM-DD)");
    q.to_ms = parsed.value_or(now_ms);
  }
  q.from_ms = q.to_ms - kDefaultDays * kDayMs;
  if (from) {
    auto parsed = parse_bound(*from, false);
    if (!parsed) v.fail("/query/from", "expected an RFC 3339 timestamp or a date (YYYY-MM-DD)");
    q.from_ms = parsed.value_or(q.from_ms);
  }
  // The daily series counts UTC days from 1970, and a window must end where RFC 3339 can
  // still write it (the year 9999).
  if (v.ok() && q.from_ms < 0) v.fail("/query/from", "must be 1970-01-01 or later");
  if (q.to_ms == kLatestMs + 1) q.to_ms = kLatestMs;  // "to=9999-12-31" ends with that day
  if (v.ok() && q.to_ms > kLatestMs) v.fail("/query/to", "must be 9999-12-31 or earlier");
  if (v.ok() && q.from_ms >= q.to_ms) v.fail("/query/to", "must be later than 'from'");
  if (v.ok() && q.to_ms - q.from_ms > kMaxDays * kDayMs) {
    v.fail("/query/from", "the window may span at most " + std::to_string(kMaxDays) + " days");
  }
  for (const char* key : {"queue", "rule"}) {
    const std::string* value = call.query_param(key);
    if (!value) continue;
    if (value->empty() || value->size() > kMaxFilter) {
      v.fail(std::string("/query/") + key,
             "expected 1 to " + std::to_string(kMaxFilter) + " characters");
    }
    (std::string_view(key) == "queue" ? q.queue : q.rule) = *value;
  }
  if (const std::string* channel = call.query_param("channel")) {
    q.channels = read_channels(v, *channel);
  }
  return q;
}

// A queue filter must name a configured queue: a typo would otherwise read as "no handovers".
// Rules are not checked: a reload may have removed a rule whose handovers are still in the
// window.
void check_queue(Validator& v, const ApiContext& ctx, const analytics::ReportQuery& q) {
  if (q.queue.empty() || (ctx.agents && ctx.agents->has_queue(q.queue))) return;
  v.fail("/query/queue", "unknown queue '" + q.queue + "'");
}

}  // namespace

void handover_analytics(ApiContext& ctx, Call& call, http::Responder respond) {
  const Principal& p = call.principal;
  if (p.kind == Principal::Kind::kNone) {
    return respond(unauthenticated("send 'Authorization: Bearer <api key>'"));
  }
  if (p.kind != Principal::Kind::kApiKey) {
    return respond(unauthenticated("analytics need an API key with the read or admin scope"));
  }
  if (!p.has(kScopeRead) && !p.has(kScopeAdmin)) {
    return respond(forbidden("analytics need an API key with the read or admin scope"));
  }
  Validator v;
  check_params(v, call);
  const analytics::ReportQuery query = read_query(v, call, ctx.clock.now_ms());
  check_queue(v, ctx, query);
  if (!v.ok()) return respond(validation_problem(v.errors()));

  auto facts = ctx.store.read_handover_facts({query.from_ms, query.to_ms, query.channels});
  if (!facts) {
    return respond(http::problem(500, "internal", "Internal error", "the store failed"));
  }
  respond(json_response(200, analytics::handover_report(*facts, query).dump()));
}

}  // namespace handover::api

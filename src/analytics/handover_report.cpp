// Aggregation of handover facts into the analytics report.
#include "handover/analytics/handover_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "handover/util/clock.hpp"

namespace handover::analytics {
namespace {

using nlohmann::json;

constexpr std::int64_t kDayMs = 86'400'000;
constexpr const char* kFamilies[] = {"sentiment", "anger",      "risk",  "uncertainty",
                                     "request",   "complexity", "value", "ambiguity"};
constexpr const char* kManual = "(manual)";

// One handover: an escalation and what followed it.
struct Handover {
  std::string conversation_id;
  std::int64_t day = 0;  // of the conversation's creation
  std::string rule;
  std::string queue;
  std::set<std::string> families;
  std::int64_t escalated_at_ms = 0;
  std::int64_t accepted_at_ms = -1;
  std::int64_t waited_ms = -1;
  // resolved, returned, abandoned, ended_by_admin, no_agent, open
  std::string outcome = "open";
  std::int64_t resolved_at_ms = -1;
  std::string justified;
  int rating = 0;  // the user's rating of its resolution, 1 to 5; 0 when none
};

// The signal families the deciding rule's checks read, from its entry in the fired list.
std::set<std::string> families_of(const std::string& fired_json, const std::string& rule) {
  std::set<std::string> out;
  const json fired = json::parse(fired_json, nullptr, false);
  if (!fired.is_array()) return out;
  for (const json& entry : fired) {
    if (!entry.is_object() || entry.value("id", "") != rule) continue;
    const auto checks = entry.find("checks");
    if (checks == entry.end() || !checks->is_array()) continue;
    for (const json& check : *checks) {
      const std::string field = check.is_object() ? check.value("field", "") : "";
      const std::string prefix = field.substr(0, field.find('.'));
      for (const char* family : kFamilies) {
        if (prefix == family) out.insert(prefix);
      }
    }
  }
  return out;
}

std::vector<Handover> handovers_of(const std::vector<store::HandoverEventFact>& events) {
  std::vector<Handover> out;
  std::map<std::string, std::size_t> open;  // conversation -> index of its latest handover
  for (const auto& e : events) {
    if (e.type == "handover.escalated" || e.type == "handover.requested") {
      Handover& h = out.emplace_back();
      h.conversation_id = e.conversation_id;
      h.day = e.conversation_created_at_ms / kDayMs;
      h.rule = e.rule.empty() ? kManual : e.rule;
      h.queue = e.queue;
      h.families = families_of(e.fired_json, e.rule);
      h.escalated_at_ms = e.at_ms;
      open[e.conversation_id] = out.size() - 1;
      continue;
    }
    const auto it = open.find(e.conversation_id);
    if (it == open.end()) continue;
    Handover& h = out[it->second];
    // The user rates the latest resolved handover, once.
    if (e.type == "handover.rated") {
      if (h.outcome == "resolved" && h.rating == 0 && e.rating >= 1 && e.rating <= 5) {
        h.rating = e.rating;
      }
      continue;
    }
    if (h.outcome != "open") continue;
    if ((e.type == "routing.accepted" || e.type == "routing.claimed") && h.accepted_at_ms < 0) {
      h.accepted_at_ms = e.at_ms;
      h.waited_ms = e.waited_ms >= 0 ? e.waited_ms : e.at_ms - h.escalated_at_ms;
    } else if (e.type == "routing.resolved") {
      h.outcome = "resolved";
      h.resolved_at_ms = e.at_ms;
      h.justified = e.justified;
    } else if (e.type == "routing.returned") {
      h.outcome = "returned";
      h.resolved_at_ms = e.at_ms;
    } else if (e.type == "routing.cancelled") {
      // The user left the queue (before anyone accepted, or after a transfer or requeue), or
      // the team ended a wait nobody answered: not the user's doing, so counted apart.
      h.outcome = e.reason == "ended_by_admin" ? "ended_by_admin" : "abandoned";
    } else if (e.type == "routing.no_agent" && !e.queued && h.accepted_at_ms < 0) {
      // Outside business hours or with the queue closed: it stayed with the bot.
      h.outcome = "no_agent";
    }
  }
  return out;
}

// Nearest-rank percentile in seconds; null without samples.
json percentile_s(std::vector<std::int64_t> samples_ms, double p) {
  if (samples_ms.empty()) return nullptr;
  std::sort(samples_ms.begin(), samples_ms.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples_ms.size())));
  const std::size_t index = std::clamp<std::size_t>(rank, 1, samples_ms.size()) - 1;
  return static_cast<double>(samples_ms[index]) / 1000.0;
}

json distribution(const std::vector<std::int64_t>& samples_ms) {
  return {{"count", samples_ms.size()},
          {"p50", percentile_s(samples_ms, 0.50)},
          {"p90", percentile_s(samples_ms, 0.90)},
          {"p99", percentile_s(samples_ms, 0.99)}};
}

double share(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

struct RuleFigures {
  std::size_t handovers = 0, feedback = 0, unjustified = 0, too_late = 0;
};

json rules_json(const std::vector<Handover>& handovers) {
  std::map<std::string, RuleFigures> by_rule;
  for (const auto& h : handovers) {
    RuleFigures& f = by_rule[h.rule];
    ++f.handovers;
    if (h.justified.empty()) continue;
    ++f.feedback;
    if (h.justified == "no") ++f.unjustified;
    if (h.justified == "too_late") ++f.too_late;
  }
  json out = json::array();
  for (const auto& [rule, f] : by_rule) {
    out.push_back(
        {{"rule", rule},
         {"handovers", f.handovers},
         {"feedback", f.feedback},
         {"unjustified", f.unjustified},
         {"too_late", f.too_late},
         {"unjustified_share", f.feedback ? json(share(f.unjustified, f.feedback)) : json()},
         {"too_late_share", f.feedback ? json(share(f.too_late, f.feedback)) : json()}});
  }
  return out;
}

json families_json(const std::vector<Handover>& handovers) {
  json out = json::object();
  for (const char* family : kFamilies) out[family] = 0;
  for (const auto& h : handovers) {
    for (const auto& family : h.families) out[family] = out[family].get<std::size_t>() + 1;
  }
  return out;
}

struct Suggestions {
  std::size_t offered = 0;
  std::size_t accepted = 0;
  std::map<std::int64_t, std::pair<std::size_t, std::size_t>> per_day;  // offered, accepted
};

// Each suggestion is accepted when the conversation's next handover comes before its next
// suggestion. Suggestions are read per conversation in turn order.
Suggestions suggestions_of(const store::HandoverFacts& facts, const std::vector<Handover>& all,
                           const ReportQuery& query) {
  std::map<std::string, std::vector<std::int64_t>> escalations;
  for (const auto& h : all) escalations[h.conversation_id].push_back(h.escalated_at_ms);
  Suggestions out;
  const auto& list = facts.suggestions;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& s = list[i];
    if ((!query.rule.empty() && s.rule != query.rule) ||
        (!query.queue.empty() && s.queue != query.queue)) {
      continue;
    }
    const bool has_next = i + 1 < list.size() && list[i + 1].conversation_id == s.conversation_id;
    const std::int64_t until = has_next ? list[i + 1].at_ms : INT64_MAX;
    bool accepted = false;
    for (std::int64_t at : escalations[s.conversation_id]) {
      if (at >= s.at_ms && at < until) accepted = true;
    }
    ++out.offered;
    auto& day = out.per_day[s.conversation_created_at_ms / kDayMs];
    ++day.first;
    if (accepted) {
      ++out.accepted;
      ++day.second;
    }
  }
  return out;
}

json daily_json(const store::HandoverFacts& facts, const std::vector<Handover>& handovers,
                const Suggestions& suggestions, const ReportQuery& query) {
  std::map<std::int64_t, std::size_t> conversations(facts.conversations_per_day.begin(),
                                                    facts.conversations_per_day.end());
  std::map<std::int64_t, std::set<std::string>> escalated;
  std::map<std::int64_t, std::vector<std::int64_t>> waits;
  for (const auto& h : handovers) {
    escalated[h.day].insert(h.conversation_id);
    if (h.waited_ms >= 0) waits[h.day].push_back(h.waited_ms);
  }
  json out = json::array();
  const std::int64_t last = (query.to_ms - 1) / kDayMs;
  for (std::int64_t day = query.from_ms / kDayMs; day <= last; ++day) {
    const std::size_t n = conversations[day];
    const auto offered = suggestions.per_day.find(day);
    out.push_back(
        {{"date", format_rfc3339_ms(day * kDayMs).substr(0, 10)},
         {"conversations", n},
         {"escalated", escalated[day].size()},
         {"handover_rate", share(escalated[day].size(), n)},
         {"suggestions_offered", offered == suggestions.per_day.end() ? 0 : offered->second.first},
         {"suggestions_accepted",
          offered == suggestions.per_day.end() ? 0 : offered->second.second},
         {"wait_p50_s", percentile_s(waits[day], 0.5)}});
  }
  return out;
}

}  // namespace

json handover_report(const store::HandoverFacts& facts, const ReportQuery& query) {
  const std::vector<Handover> all = handovers_of(facts.events);
  std::vector<Handover> handovers;
  for (const auto& h : all) {
    if (!query.rule.empty() && h.rule != query.rule) continue;
    if (!query.queue.empty() && h.queue != query.queue) continue;
    handovers.push_back(h);
  }

  std::size_t conversations = 0;
  for (const auto& [day, n] : facts.conversations_per_day)
    conversations += static_cast<std::size_t>(n);
  std::set<std::string> escalated;
  std::vector<std::int64_t> waits, resolve_times;
  json outcomes = {
      {"resolved", 0},       {"returned_to_bot", 0}, {"abandoned", 0},
      {"ended_by_admin", 0}, {"no_agent", 0},        {"open", 0}};
  std::size_t rated = 0;
  std::int64_t rating_sum = 0;
  json by_score = {{"1", 0}, {"2", 0}, {"3", 0}, {"4", 0}, {"5", 0}};
  json per_rule = json::object();
  for (const auto& h : handovers) {
    escalated.insert(h.conversation_id);
    if (h.waited_ms >= 0) waits.push_back(h.waited_ms);
    if (h.outcome == "resolved" && h.accepted_at_ms >= 0) {
      resolve_times.push_back(h.resolved_at_ms - h.accepted_at_ms);
    }
    if (h.rating > 0) {
      ++rated;
      rating_sum += h.rating;
      const std::string score = std::to_string(h.rating);
      by_score[score] = by_score[score].get<std::size_t>() + 1;
    }
    const char* key = h.outcome == "returned" ? "returned_to_bot" : h.outcome.c_str();
    outcomes[key] = outcomes[key].get<std::size_t>() + 1;
    per_rule[h.rule] = per_rule.value(h.rule, 0) + 1;
  }
  const Suggestions suggestions = suggestions_of(facts, all, query);
  json filters = json::object();
  if (!query.queue.empty()) filters["queue"] = query.queue;
  if (!query.rule.empty()) filters["rule"] = query.rule;
  if (!query.channels.empty()) filters["channel"] = query.channels;
  return {{"from", format_rfc3339_ms(query.from_ms)},
          {"to", format_rfc3339_ms(query.to_ms)},
          {"filters", std::move(filters)},
          {"conversations", conversations},
          {"escalated_conversations", escalated.size()},
          {"handovers", handovers.size()},
          {"handover_rate", share(escalated.size(), conversations)},
          {"suggestions",
           {{"offered", suggestions.offered},
            {"accepted", suggestions.accepted},
            {"acceptance_rate", suggestions.offered
                                    ? json(share(suggestions.accepted, suggestions.offered))
                                    : json()}}},
          {"escalations_by_rule", std::move(per_rule)},
          {"escalations_by_family", families_json(handovers)},
          {"wait_to_accept_s", distribution(waits)},
          {"time_to_resolve_s", distribution(resolve_times)},
          {"outcomes", std::move(outcomes)},
          {"rules", rules_json(handovers)},
          {"ratings",
           {{"count", rated},
            {"mean", rated == 0 ? json(nullptr)
                                : json(static_cast<double>(rating_sum) /
                                       static_cast<double>(rated))},
            {"by_score", std::move(by_score)}}},
          {"daily", daily_json(facts, handovers, suggestions, query)}};
}

}  // namespace handover::analytics

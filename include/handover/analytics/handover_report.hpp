// The handover analytics: figures over the conversations created in a window, computed from
// the facts the store reads (Store::read_handover_facts). Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "handover/store/store.hpp"

namespace handover::analytics {

struct ReportQuery {
  std::int64_t from_ms = 0;  // window of conversation creation, [from_ms, to_ms)
  std::int64_t to_ms = 0;
  std::string queue;  // when set, only handovers to this queue (and suggestions naming it)
  std::string rule;   // when set, only handovers and suggestions of this rule
  // When set, only conversations on these channels; the facts must be read with the same.
  std::vector<std::string> channels;
};

// The JSON body of GET /v1/analytics/handovers (docs/api.md, "Handover analytics"):
// conversations, escalated conversations and the handover rate, handovers per rule and per
// signal family, suggestions offered and accepted, waits and times to resolve (p50, p90,
// p99 in seconds), outcome counts, per-rule feedback shares, and a daily series.
//
// A handover starts with an escalation event; its wait ends at the first accept or claim,
// its outcome is the first of resolved, returned (to the bot) or cancelled before an accept
// (abandoned while waiting); without one it is still open. A suggestion counts as accepted
// when the conversation's next handover follows it before another suggestion does.
nlohmann::json handover_report(const store::HandoverFacts& facts, const ReportQuery& query);

}  // namespace handover::analytics

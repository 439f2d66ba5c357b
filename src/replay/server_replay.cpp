// Replay through a running server: conversations over REST from several threads, agents
// over WebSocket that accept every offer and resolve at once, figures at the end.
#include "server_replay.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "handover/replay/replayer.hpp"
#include "handover/triggers/rule_set.hpp"
#include "offline.hpp"
#include "server_client.hpp"

namespace handover::replay {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kSettleTimeout = std::chrono::seconds(30);

double ms_since(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// Everything the workers and the agents record, under one mutex.
class Tally {
 public:
  // A turn of `id` is about to be posted: the offer it may cause is timed from here, since
  // the offer can reach an agent before the turn's answer reaches us.
  void posting(const std::string& id) {
    std::lock_guard lock(mutex_);
    posted_at_[id] = Clock::now();
  }
  void escalated(const std::string& id) {
    std::lock_guard lock(mutex_);
    escalated_.insert(id);
  }
  void offered(const std::string& id) {
    std::lock_guard lock(mutex_);
    if (auto it = posted_at_.find(id); it != posted_at_.end() && !offer_ms_.count(id)) {
      offer_ms_[id] = ms_since(it->second, Clock::now());
    }
  }
  void assigned(const std::string& id) {
    std::lock_guard lock(mutex_);
    if (auto it = posted_at_.find(id); it != posted_at_.end()) {
      assign_ms_[id] = ms_since(it->second, Clock::now());
    }
  }
  void lost_race() {
    std::lock_guard lock(mutex_);
    ++lost_races_;
  }
  void resolved(const std::string& id) {
    std::lock_guard lock(mutex_);
    resolved_.insert(id);
  }
  void error(const std::string& what) {
    std::lock_guard lock(mutex_);
    ++errors_[what];
  }
  // True for the conversations this run created.
  bool ours(const std::string& id) {
    std::lock_guard lock(mutex_);
    return posted_at_.contains(id);
  }
  void foreign() {
    std::lock_guard lock(mutex_);
    ++foreign_;
  }
  // True when every escalated conversation was assigned and resolved.
  bool settled() {
    std::lock_guard lock(mutex_);
    return resolved_.size() >= escalated_.size();
  }

  std::mutex mutex_;
  std::map<std::string, Clock::time_point> posted_at_;
  std::set<std::string> escalated_;
  std::size_t lost_races_ = 0;
  std::size_t foreign_ = 0;  // offers of conversations this run did not create
  std::map<std::string, double> offer_ms_;
  std::map<std::string, double> assign_ms_;
  std::set<std::string> resolved_;
  std::map<std::string, std::size_t> errors_;
};

struct Replayed {
  Outcome outcome;  // what the server decided, turn numbers as in the corpus
  std::size_t posted = 0;
};

std::string percentile(std::vector<double> values, double p) {
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f ms",
                values[std::clamp<std::size_t>(rank, 1, values.size()) - 1]);
  return buffer;
}

json conversation_body(const ReplayConversation& c) {
  json body = {{"channel", "replay"}};
  if (!c.language.empty()) body["language"] = c.language;
  json customer = json::object();
  if (!c.customer_tier.empty()) customer["tier"] = c.customer_tier;
  if (c.lifetime_value) customer["lifetime_value"] = *c.lifetime_value;
  if (!customer.empty()) body["customer"] = customer;
  return body;
}

json turn_body(const ReplayTurn& t) {
  json body = {{"role", t.role}, {"text", t.text}};
  json bot = json::object();
  if (t.bot_confidence) bot["confidence"] = *t.bot_confidence;
  if (t.bot_fallback) bot["fallback"] = true;
  if (!t.bot_intent.empty()) bot["intent"] = t.bot_intent;
  if (t.bot_handover_reason) bot["handover"] = {{"reason", *t.bot_handover_reason}};
  if (t.role == "bot" && !bot.empty()) body["bot"] = bot;
  if (t.metadata.is_object()) body["metadata"] = t.metadata;
  return body;
}

// Posts one conversation's user and bot turns until the server hands it over.
Replayed replay_one(HttpConnection& http, const Options& o, const ReplayConversation& c,
                    Tally& tally) {
  Replayed r;
  r.outcome.id = c.id;
  r.outcome.label = c.label;
  auto created = http.request("POST", "/v1/conversations", conversation_body(c).dump(), o.api_key);
  if (!created || created->status != 201) {
    tally.error(created ? "create conversation: HTTP " + std::to_string(created->status)
                        : "create conversation: " + created.status().message().substr(0, 60));
    return r;
  }
  const std::string id = json::parse(created->body, nullptr, false).value("id", "");
  for (std::size_t i = 0; i < c.turns.size(); ++i) {
    const ReplayTurn& turn = c.turns[i];
    if (turn.role != "user" && turn.role != "bot") continue;  // not postable over REST
    tally.posting(id);
    auto posted = http.request("POST", "/v1/conversations/" + id + "/turns",
                               turn_body(turn).dump(-1, ' ', false, json::error_handler_t::replace),
                               o.api_key);
    if (!posted || (posted->status != 201 && posted->status != 200)) {
      tally.error(posted ? "post turn: HTTP " + std::to_string(posted->status)
                         : "post turn: unavailable");
      break;
    }
    ++r.posted;
    r.outcome.turns = i + 1;
    const json answer = json::parse(posted->body, nullptr, false);
    if (!answer.is_object() || answer.value("state", "bot") == "bot") continue;
    r.outcome.escalated_turn = static_cast<int>(i) + 1;
    if (auto d = answer.find("decision"); d != answer.end() && d->is_object()) {
      r.outcome.escalated_rule = d->value("rule", "");
    }
    tally.escalated(id);
    break;
  }
  return r;
}

// The skills the rules ask for and those given with --agent-skills (the queues' own), so the
// simulated agents can take every handover.
std::vector<std::string> agent_skills(const triggers::RuleSet& rules, const std::string& extra) {
  std::set<std::string> skills;
  for (const auto& rule : rules.rules()) skills.insert(rule.skills.begin(), rule.skills.end());
  for (std::size_t start = 0; start < extra.size();) {
    const std::size_t comma = std::min(extra.find(',', start), extra.size());
    if (comma > start) skills.insert(extra.substr(start, comma - start));
    start = comma + 1;
  }
  return {skills.begin(), skills.end()};
}

// The frames an agent answers with: accept every offer, resolve every assignment, of the
// conversations this run created. The agents sit in the server's real queues: anything else
// is a real customer's, declined at once (or handed back to its queue) and never resolved.
std::vector<json> answer_frame(const json& frame, const std::string& feedback, Tally& tally) {
  const std::string type = frame.value("type", "");
  const std::string id = frame.value("conversation_id", "");
  if ((type == "offer" || type == "assigned") && !tally.ours(id)) {
    tally.foreign();
    if (type == "offer") {
      return {{{"type", "decline"},
               {"conversation_id", id},
               {"offer_id", frame["offer_id"]},
               {"reason", "replay_agent"}}};
    }
    return {{{"type", "transfer"},
             {"conversation_id", id},
             {"queue", frame.value("queue", "")},
             {"note", "a replay agent does not serve customers"}}};
  }
  if (type == "offer") {
    tally.offered(id);
    return {{{"type", "accept"}, {"conversation_id", id}, {"offer_id", frame["offer_id"]}}};
  }
  if (type == "assigned") {
    tally.assigned(id);
    return {{{"type", "resolve"},
             {"conversation_id", id},
             {"feedback", {{"justified", feedback}, {"reason", "replay"}}}}};
  }
  if (type == "unassigned" && frame.value("reason", "") == "resolved" && tally.ours(id)) {
    tally.resolved(id);
  }
  // In a broadcast queue every offered agent accepts and only the first wins.
  if (type == "error" && frame.value("code", "") == "offer_revoked") tally.lost_race();
  if (type == "error" && frame.value("code", "") != "offer_revoked") {
    tally.error("agent frame error: " + frame.value("code", "?"));
  }
  return {};
}

Result<std::vector<std::string>> create_agents(HttpConnection& http, const Options& o,
                                               const std::vector<std::string>& skills,
                                               std::vector<std::string>& ids) {
  std::vector<std::string> tokens;
  const std::string run =
      std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch() / std::chrono::seconds(1));
  for (int i = 0; i < o.agents; ++i) {
    const std::string id = "replay-" + run + "-" + std::to_string(i + 1);
    const json body = {{"id", id},
                       {"name", id},
                       {"display_name", "Replay agent " + std::to_string(i + 1)},
                       {"skills", skills},
                       {"languages", {"en", "de"}},
                       {"capacity", 50}};
    auto r = http.request("POST", "/v1/admin/agents", body.dump(), o.admin_key);
    if (!r) return r.status();
    if (r->status != 201) {
      return Status::invalid_argument("creating agent " + id + ": HTTP " +
                                      std::to_string(r->status) + " " + r->body.substr(0, 200));
    }
    tokens.push_back(json::parse(r->body, nullptr, false).value("token", ""));
    ids.push_back(id);
  }
  return tokens;
}

void print_report(std::ostream& out, const std::vector<Replayed>& results, Tally& tally,
                  const Replayer& offline, const std::vector<ReplayConversation>& corpus,
                  double seconds) {
  Summary summary;
  std::size_t posted = 0, agree = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    summary.add(results[i].outcome);
    posted += results[i].posted;
    const Outcome expected = offline.run(corpus[i]);
    if (expected.escalated_turn == results[i].outcome.escalated_turn &&
        expected.escalated_rule == results[i].outcome.escalated_rule) {
      ++agree;
    }
  }
  std::lock_guard lock(tally.mutex_);
  std::vector<double> offers, assigns;
  for (const auto& [id, ms] : tally.offer_ms_) offers.push_back(ms);
  for (const auto& [id, ms] : tally.assign_ms_) assigns.push_back(ms);
  out << "Replayed " << results.size() << " conversations through the server: " << posted
      << " turns posted in " << std::to_string(seconds).substr(0, 5) << " s ("
      << static_cast<long>(static_cast<double>(posted) / std::max(seconds, 1e-6)) << " turns/s)\n";
  out << "Handover rate " << percent(summary.handover_rate()) << " (" << summary.escalated()
      << " escalated); same escalation turn and rule as offline in " << agree << " of "
      << results.size() << "\n";
  out << "Handovers offered " << tally.offer_ms_.size() << ", assigned " << tally.assign_ms_.size()
      << ", resolved " << tally.resolved_.size() << " (" << tally.lost_races_
      << " accepts lost a broadcast race)\n";
  if (tally.foreign_ > 0) {
    out << "Offers of conversations this run did not create, declined: " << tally.foreign_ << "\n";
  }
  out << "From the escalating turn's POST to the first offer: p50 " << percentile(offers, 0.5)
      << ", p90 " << percentile(offers, 0.9) << ", p99 " << percentile(offers, 0.99) << "\n";
  out << "From the escalating turn's POST to assigned:      p50 " << percentile(assigns, 0.5)
      << ", p90 " << percentile(assigns, 0.9) << ", p99 " << percentile(assigns, 0.99) << "\n";
  std::size_t errors = 0;
  for (const auto& [what, n] : tally.errors_) errors += n;
  out << "Errors " << errors << "\n";
  for (const auto& [what, n] : tally.errors_) out << "  " << n << "  " << what << "\n";
  for (const auto& [rule, n] : summary.escalations_by_rule()) {
    out << "  escalated by " << rule << ": " << n << "\n";
  }
}

}  // namespace

int run_server_replay(const Options& o, std::ostream& out, std::ostream& err) {
  auto endpoint = parse_http_url(o.server);
  auto rules = triggers::load_rule_set(o.rules, 0);
  if (!endpoint || !rules) {
    err << "handover-replay: " << (!endpoint ? endpoint.status() : rules.status()).message()
        << "\n";
    return 1;
  }
  CorpusFeed feed(o, err);
  std::vector<ReplayConversation> corpus;
  Status read = feed.load_labels();
  if (read.is_ok())
    read = feed.read_all([&](ReplayConversation&& c) { corpus.push_back(std::move(c)); });
  if (!read.is_ok()) {
    err << "handover-replay: " << read.message() << "\n";
    return 1;
  }

  Tally tally;
  HttpConnection admin(*endpoint);
  std::vector<std::string> agent_ids;
  auto tokens = create_agents(admin, o, agent_skills(**rules, o.agent_skills), agent_ids);
  if (!tokens) {
    err << "handover-replay: " << tokens.status().message() << "\n";
    return 1;
  }
  AgentPool agents(*endpoint, [&](std::size_t, const json& frame) {
    return answer_frame(frame, o.resolve_feedback, tally);
  });
  for (const auto& token : *tokens) {
    if (Status s = agents.connect(token); !s.is_ok()) {
      err << "handover-replay: " << s.message() << "\n";
      return 1;
    }
  }
  agents.start();

  const auto started = Clock::now();
  std::vector<Replayed> results(corpus.size());
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&] {
      HttpConnection http(*endpoint);
      for (std::size_t i = next++; i < corpus.size(); i = next++) {
        results[i] = replay_one(http, o, corpus[i], tally);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const auto deadline = Clock::now() + kSettleTimeout;
  while (!tally.settled() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!tally.settled()) tally.error("handovers not resolved within 30 s");
  agents.stop();
  for (const auto& id : agent_ids) {
    auto r = admin.request("PATCH", "/v1/admin/agents/" + id, R"({"disabled":true})", o.admin_key);
    if (!r || r->status != 200) tally.error("disabling the simulated agents");
  }
  print_report(out, results, tally, Replayer(*rules), corpus, seconds);
  return 0;
}

}  // namespace handover::replay

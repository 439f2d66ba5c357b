// The agent service's routing half: escalations, routing effects turned into store writes
// (persisted before anyone is told), restore from the store and the timer thread.
#include "handover/agents/agent_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <utility>

#include "event_codec.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/thread_name.hpp"
#include "service_impl.hpp"

namespace handover::agents {
namespace {

using nlohmann::json;

constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kPage = 1000;
constexpr std::size_t kMaxRestoredConversations = 1'000'000;

// True on a thread that holds AgentService::Impl::mu (see with_router()).
thread_local bool tl_holds_router = false;

}  // namespace

// Holds the router mutex; on release runs the callbacks deferred meanwhile (see
// call_outside()), so no caller's callback ever runs with the mutex held.
class AgentService::Impl::RouterLock {
 public:
  explicit RouterLock(Impl& impl) : impl_(impl), lock_(impl.mu) { tl_holds_router = true; }
  ~RouterLock() {
    auto later = std::move(impl_.deferred);
    impl_.deferred.clear();
    tl_holds_router = false;
    lock_.unlock();
    for (auto& fn : later) fn();
  }
  std::unique_lock<std::mutex>& lock() { return lock_; }

 private:
  Impl& impl_;
  std::unique_lock<std::mutex> lock_;
};

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

store::EventRecord agent_event(const char* type, std::string conversation, std::string agent,
                               json data) {
  store::EventRecord record;
  record.type = type;
  record.conversation_id = std::move(conversation);
  record.agent_id = std::move(agent);
  record.data_json = dump(data);
  return record;
}

std::vector<std::string> string_array(const std::string& text) {
  std::vector<std::string> out;
  const json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) return out;
  for (const auto& item : parsed) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

// The snapshot text an escalation record holds, or nullopt.
std::optional<std::string> stored_snapshot(const store::EventRecord& record) {
  const json data = json::parse(record.data_json, nullptr, false);
  if (!data.is_object() || !data.contains("snapshot")) return std::nullopt;
  return dump(data["snapshot"]);
}

}  // namespace

routing::AgentProfile profile_of(const store::AgentRecord& record) {
  routing::AgentProfile profile;
  profile.id = record.id;
  profile.display_name = record.display_name.empty() ? record.name : record.display_name;
  profile.skills = string_array(record.skills_json);
  profile.languages = string_array(record.languages_json);
  profile.capacity = record.capacity;
  return profile;
}

std::string error_code_of(const Status& status) {
  static constexpr std::string_view kRoutingCodes[] = {
      routing::kUnknownConversation, routing::kUnknownAgent,     routing::kUnknownQueue,
      routing::kInvalidProfile,      routing::kInvalidArgument,  routing::kAlreadyQueued,
      routing::kNotOffered,          routing::kOfferExpired,     routing::kOfferRevoked,
      routing::kOfferDeclined,       routing::kAlreadyAssigned,  routing::kNotAssigned,
      routing::kCapacityFull,        routing::kNotEligible,      routing::kSelfPickDisabled,
      routing::kQueueClosed,         routing::kAgentUnavailable, routing::kNotRestorable,
  };
  const std::string_view code = routing::error_code(status);
  for (std::string_view known : kRoutingCodes) {
    if (code == known) return std::string(code);
  }
  switch (status.code()) {
    case StatusCode::kConflict: return "conflict";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    default: return "internal";
  }
}

AgentService::Impl::Impl(store::Store& store_in, routing::RoutingConfig config_in,
                         const Clock& clock_in, metrics::Registry& registry)
    : store(store_in),
      config(config_in),
      clock(clock_in),
      escalations(registry.counter("handover_escalations_total", "Escalations accepted by routing")
                      .with({})),
      escalation_failures(registry
                              .counter("handover_escalation_failures_total",
                                       "Escalations refused (state, queue) or not persisted")
                              .with({})),
      offers_sent(
          registry.counter("handover_offers_sent_total", "Offer frames sent to agents").with({})),
      assignments(
          registry.counter("handover_assignments_total", "Conversations assigned").with({})),
      frames_in(
          registry.counter("handover_agent_frames_total", "Frames received from agents").with({})),
      frame_errors(registry
                       .counter("handover_agent_frame_errors_total",
                                "Agent frames answered with an error frame")
                       .with({})),
      store_failures(
          registry
              .counter("handover_routing_store_failures_total", "Routing writes the store refused")
              .with({})),
      escalation_to_offer(registry
                              .histogram("handover_escalation_to_offer_seconds",
                                         "Time from escalation to the first offer frame sent",
                                         metrics::latency_buckets())
                              .with({})),
      router(std::move(config_in), clock_in) {}

// ---- Planning ---------------------------------------------------------------------------------

std::string AgentService::Impl::state_of_locked(const std::string& conversation) const {
  auto it = states.find(conversation);
  return it == states.end() ? kStateBot : it->second;
}

PlannedWrite& AgentService::Impl::write_for(std::vector<PlannedWrite>& writes,
                                            const std::string& conversation) {
  for (auto& write : writes) {
    if (write.conversation_id == conversation) return write;
  }
  PlannedWrite& write = writes.emplace_back();
  write.conversation_id = conversation;
  if (!conversation.empty()) write.expected_state = state_of_locked(conversation);
  return write;
}

void AgentService::Impl::transition_locked(std::vector<PlannedWrite>& writes,
                                           const std::string& conversation,
                                           const std::string& state) {
  PlannedWrite& write = write_for(writes, conversation);
  write.new_state = state;
  if (state == kStateBot) {
    states.erase(conversation);
    assigned.erase(conversation);
    held_turns.erase(conversation);
    std::lock_guard lock(conn_mu);
    snapshots.erase(conversation);
    customers.erase(conversation);
    relay_audited.erase(conversation);
    escalated_at_ns.erase(conversation);
  } else {
    states[conversation] = state;
  }
}

void AgentService::Impl::plan_locked(routing::Effects effects, std::vector<PlannedWrite>& writes) {
  for (auto& effect : effects) {
    if (auto* event = std::get_if<routing::Event>(&effect)) {
      write_for(writes, event->conversation_id).events.push_back(encode_routing_event(*event));
      if (event->type == "queued") transition_locked(writes, event->conversation_id, kStateQueued);
      if (event->type == "cancelled") transition_locked(writes, event->conversation_id, kStateBot);
    } else if (auto* offer = std::get_if<routing::SendOffer>(&effect)) {
      json data = {{"conversation_id", offer->conversation_id},
                   {"offer_id", offer->offer_id},
                   {"expires_at", format_rfc3339_ms(offer->expires_at_ms)},
                   {"expires_at_ms", offer->expires_at_ms},
                   {"queue", offer->queue}};
      // The next agent reads why the last one handed the conversation on.
      if (!offer->handed_over_by.empty()) {
        data["transfer"] = {{"from_agent", offer->handed_over_by},
                            {"note", offer->handover_note}};
      }
      write_for(writes, offer->conversation_id)
          .events.push_back(
              agent_event(kEventOffer, offer->conversation_id, offer->agent_id, std::move(data)));
    } else if (auto* revoke = std::get_if<routing::RevokeOffer>(&effect)) {
      json data = {{"conversation_id", revoke->conversation_id},
                   {"offer_id", revoke->offer_id},
                   {"reason", revoke->reason}};
      write_for(writes, revoke->conversation_id)
          .events.push_back(agent_event(kEventOfferRevoked, revoke->conversation_id,
                                        revoke->agent_id, std::move(data)));
    } else if (auto* assign = std::get_if<routing::Assigned>(&effect)) {
      transition_locked(writes, assign->conversation_id, kStateAgent);
      assigned[assign->conversation_id] = assign->agent_id;
      assignments.inc();
      json data = {{"conversation_id", assign->conversation_id}, {"queue", assign->queue}};
      auto& events = write_for(writes, assign->conversation_id).events;
      events.push_back(agent_event(kEventAssigned, assign->conversation_id, assign->agent_id,
                                   std::move(data)));
      if (join_notices_on) {
        join_notices[assign->conversation_id].until_ms = clock.now_ms() + kJoinNoticeWaitMs;
      }
      // What the user wrote since the snapshot, which the offer did not carry.
      if (auto held = held_turns.find(assign->conversation_id); held != held_turns.end()) {
        for (const auto& turn : held->second.turns) {
          events.push_back(turn_event(assign->agent_id, turn, /*catch_up=*/true));
        }
      }
    } else if (auto* unassign = std::get_if<routing::Unassigned>(&effect)) {
      const bool to_bot = unassign->reason == "resolved" || unassign->reason == "returned";
      transition_locked(writes, unassign->conversation_id, to_bot ? kStateBot : kStateQueued);
      assigned.erase(unassign->conversation_id);
      json data = {{"conversation_id", unassign->conversation_id},
                   {"reason", unassign->reason},
                   {"note", unassign->note}};
      write_for(writes, unassign->conversation_id)
          .events.push_back(agent_event(kEventUnassigned, unassign->conversation_id,
                                        unassign->agent_id, std::move(data)));
    } else if (auto* no_agent = std::get_if<routing::NoAgent>(&effect)) {
      // Outside business hours the router keeps nothing: the conversation stays with the bot.
      if (!no_agent->queued) transition_locked(writes, no_agent->conversation_id, kStateBot);
    } else if (auto* update = std::get_if<routing::QueueUpdate>(&effect)) {
      if (position_listener) {
        QueuePosition position{update->queue, update->position, update->estimated_wait_s, {}};
        call_outside([listener = position_listener, id = update->conversation_id, position] {
          listener(id, position);
        });
      }
    }
    // WaitLimitReached is for the customer side; its event came as an Event effect above.
  }
}

void AgentService::Impl::commit_locked(routing::Effects effects, std::function<void(Status)> done,
                                       LeadWrite lead) {
  std::vector<PlannedWrite> writes;
  if (!lead.conversation_id.empty()) write_for(writes, lead.conversation_id);
  plan_locked(std::move(effects), writes);
  if (!lead.events.empty()) {
    auto& events = writes.front().events;
    events.insert(events.begin(), std::make_move_iterator(lead.events.begin()),
                  std::make_move_iterator(lead.events.end()));
  }
  std::erase_if(writes, [&](const PlannedWrite& w) {
    return w.events.empty() && !w.new_state && w.conversation_id != lead.conversation_id;
  });
  notify_timer_locked();
  if (writes.empty()) {
    if (done) done(Status::ok());
    return;
  }

  auto tracker = std::make_shared<CommitTracker>();
  tracker->remaining = static_cast<int>(writes.size());
  tracker->done = std::move(done);
  for (auto& write : writes) {
    const bool is_lead = write.conversation_id == lead.conversation_id && lead.done;
    submit_locked(std::move(write), tracker,
                  is_lead ? std::move(lead.done) : store::Callback<store::ConversationRecord>());
  }
}

PlannedWrite AgentService::Impl::plan_lead_locked(routing::Effects effects,
                                                 const std::string& conversation) {
  std::vector<PlannedWrite> writes;
  write_for(writes, conversation);
  plan_locked(std::move(effects), writes);
  PlannedWrite lead = std::move(writes.front());
  writes.erase(writes.begin());
  std::erase_if(writes, [](const PlannedWrite& w) { return w.events.empty() && !w.new_state; });
  notify_timer_locked();
  if (writes.empty()) return lead;

  auto tracker = std::make_shared<CommitTracker>();
  tracker->remaining = static_cast<int>(writes.size());
  for (auto& write : writes) submit_locked(std::move(write), tracker, {});
  return lead;
}

void AgentService::Impl::submit_locked(PlannedWrite write, std::shared_ptr<CommitTracker> tracker,
                                       store::Callback<store::ConversationRecord> lead_done) {
  if (write.conversation_id.empty()) {
    auto on_stored = [this, tracker,
                      token = track()](Result<std::vector<store::EventRecord>> stored) {
      if (!stored) {
        store_failures.inc();
        spdlog::error("routing events not stored: {}", stored.status().message());
        return tracker->finish(stored.status());
      }
      deliver(*stored);
      tracker->finish(Status::ok());
    };
    return store.append_events(std::move(write.events), std::move(on_stored));
  }
  store::ConversationUpdate update;
  update.id = write.conversation_id;
  update.expected_state = write.expected_state;
  update.new_state = write.new_state;
  update.events = std::move(write.events);
  auto on_updated = [this, tracker, lead_done,
                     token = track()](Result<store::ConversationUpdateOutcome> outcome) {
    if (!outcome) {
      store_failures.inc();
      if (lead_done) {
        lead_done(outcome.status());  // the caller reports it
      } else {
        spdlog::error("routing transition not stored: {}", outcome.status().message());
      }
      return tracker->finish(outcome.status());
    }
    deliver(outcome->events);
    if (lead_done) lead_done(outcome->record);
    tracker->finish(Status::ok());
  };
  store.update_conversation(std::move(update), std::move(on_updated));
}

// ---- Escalation -------------------------------------------------------------------------------

bool AgentService::has_queue(std::string_view name) const {
  return impl_->config.find_queue(name) != nullptr;
}

std::string AgentService::default_queue(const std::string& language) const {
  const std::string primary = language.substr(0, language.find('-'));
  for (const auto& queue : impl_->config.queues) {
    for (const auto& served : queue.languages) {
      if (served.substr(0, served.find('-')) == primary) return queue.name;
    }
  }
  for (const auto& queue : impl_->config.queues) {
    if (queue.languages.empty()) return queue.name;
  }
  return impl_->config.queues.empty() ? std::string() : impl_->config.queues.front().name;
}

namespace {

// The router's request for `e`, whose queue is already chosen. A queue without languages
// serves any: the conversation's language is then no requirement.
routing::Escalation routing_request(const routing::RoutingConfig& config, const Escalation& e,
                                    const store::ConversationRecord& conversation,
                                    std::shared_ptr<const std::string> snapshot) {
  std::string language = conversation.language == "und" ? "" : conversation.language;
  const routing::QueueConfig* queue = config.find_queue(e.queue);
  if (queue && queue->languages.empty()) language.clear();
  routing::Escalation request;
  request.conversation_id = e.conversation_id;
  request.customer_id = conversation.customer_id;
  request.language = std::move(language);
  request.queue = e.queue;
  request.extra_skills = e.skills;
  request.priority = e.priority;
  request.snapshot = std::move(snapshot);
  return request;
}

// The audit event of an escalation. It carries the snapshot once; restore reads it back.
store::EventRecord escalated_event(const Escalation& e, const std::string& snapshot) {
  const json head = {
      {"queue", e.queue}, {"skills", e.skills}, {"priority", e.priority}, {"reasons", e.reasons}};
  std::string data = dump(head);
  data.pop_back();
  data += ",\"snapshot\":" + snapshot + "}";
  store::EventRecord audit;
  audit.type = kEventEscalated;
  audit.conversation_id = e.conversation_id;
  audit.data_json = std::move(data);
  return audit;
}

}  // namespace

void AgentService::escalate(Escalation e, store::Callback<store::ConversationRecord> done) {
  Impl& s = *impl_;
  const std::int64_t started_ns = steady_ns();
  auto conversation = s.store.get_conversation(e.conversation_id);
  if (!conversation) {
    s.escalation_failures.inc();
    return done(conversation.status());
  }
  if (e.queue.empty()) {
    e.queue = default_queue(conversation->language == "und" ? "" : conversation->language);
  }
  auto snapshot =
      std::make_shared<const std::string>(e.snapshot_json.empty() ? "{}" : e.snapshot_json);

  Impl::RouterLock lock(s);
  if (s.state_of_locked(e.conversation_id) != kStateBot || conversation->state != kStateBot) {
    s.escalation_failures.inc();
    return s.call_outside(
        [done, status = Status::conflict("conversation " + e.conversation_id + " is in state '" +
                                         (conversation->state != kStateBot
                                              ? conversation->state
                                              : s.state_of_locked(e.conversation_id)) +
                                         "', not 'bot'")] { done(status); });
  }
  auto effects = s.router.escalate(routing_request(s.config, e, *conversation, snapshot));
  if (!effects) {
    s.escalation_failures.inc();
    return s.call_outside([done, status = effects.status()] { done(status); });
  }
  s.escalations.inc();
  s.held_turns[e.conversation_id].after_seq =
      e.history_through > 0 ? e.history_through : conversation->last_seq;
  // Turns committed after the snapshot was cut and before this entry existed were not held
  // as they came; the stored ones are read now, and later ones arrive in seq order.
  if (Status read = s.read_held_turns_locked(e.conversation_id); !read.is_ok()) {
    spdlog::warn("turns since the snapshot not read conv={}: {}", e.conversation_id,
                 read.message());
  }
  {
    std::lock_guard conn_lock(s.conn_mu);
    s.snapshots[e.conversation_id] = snapshot;
    s.customers[e.conversation_id] = conversation->customer_id;
  }
  store::EventRecord audit = escalated_event(e, *snapshot);
  spdlog::info("escalation conv={} queue={} priority={}", e.conversation_id, e.queue, e.priority);

  const std::string id = e.conversation_id;
  auto on_lead = [this, id, done = std::move(done)](Result<store::ConversationRecord> record) {
    if (!record) {
      impl_->escalation_failures.inc();
      spdlog::warn("escalation not stored conv={}: {}", id, record.status().message());
      // Nothing of it was persisted or sent: the router forgets it again.
      impl_->with_router([&] {
        (void)impl_->router.cancel(id, "not_persisted");
        impl_->states.erase(id);
        impl_->assigned.erase(id);
        impl_->held_turns.erase(id);
      });
    }
    impl_->call_outside([done, record = std::move(record)] { done(record); });
  };
  {
    std::lock_guard conn_lock(s.conn_mu);
    s.escalated_at_ns[id] = started_ns;
  }
  LeadWrite lead;
  lead.conversation_id = id;
  lead.events.push_back(std::move(audit));
  lead.done = std::move(on_lead);
  s.commit_locked(std::move(*effects), nullptr, std::move(lead));
}

Status AgentService::plan_escalation(const Escalation& request,
                                     const store::ConversationRecord& conversation,
                                     const std::string& state, store::AppendFollowUp& out) {
  Impl& s = *impl_;
  const std::int64_t started_ns = steady_ns();
  Escalation e = request;
  if (e.queue.empty()) {
    e.queue = default_queue(conversation.language == "und" ? "" : conversation.language);
  }
  auto snapshot =
      std::make_shared<const std::string>(e.snapshot_json.empty() ? "{}" : e.snapshot_json);

  Impl::RouterLock lock(s);
  if (s.state_of_locked(e.conversation_id) != kStateBot || state != kStateBot) {
    s.escalation_failures.inc();
    return Status::conflict("conversation " + e.conversation_id + " is not in state 'bot'");
  }
  auto effects = s.router.escalate(routing_request(s.config, e, conversation, snapshot));
  if (!effects) {
    s.escalation_failures.inc();
    return effects.status();
  }
  s.escalations.inc();
  s.held_turns[e.conversation_id].after_seq =
      e.history_through > 0 ? e.history_through : conversation.last_seq;
  {
    std::lock_guard conn_lock(s.conn_mu);
    s.snapshots[e.conversation_id] = snapshot;
    s.customers[e.conversation_id] = conversation.customer_id;
    s.escalated_at_ns[e.conversation_id] = started_ns;
  }
  spdlog::info("escalation conv={} queue={} priority={}", e.conversation_id, e.queue, e.priority);
  PlannedWrite lead = s.plan_lead_locked(std::move(*effects), e.conversation_id);
  out.new_state = std::move(lead.new_state);
  out.events.push_back(escalated_event(e, *snapshot));
  for (auto& event : lead.events) out.events.push_back(std::move(event));
  return Status::ok();
}

void AgentService::escalation_committed(const std::string& id,
                                        const Result<std::vector<store::EventRecord>>& events) {
  Impl& s = *impl_;
  if (events) return s.deliver(*events);
  s.escalation_failures.inc();
  s.store_failures.inc();
  spdlog::warn("escalation not stored conv={}: {}", id, events.status().message());
  // Nothing of it was persisted or sent: the router forgets it again.
  s.with_router([&] {
    (void)s.router.cancel(id, "not_persisted");
    s.states.erase(id);
    s.assigned.erase(id);
    s.held_turns.erase(id);
  });
}

void AgentService::set_agent_view(AgentView view) {
  std::lock_guard lock(impl_->mu);
  impl_->agent_view = std::move(view);
}

store::EventRecord AgentService::Impl::turn_event(const std::string& agent,
                                                  const store::TurnRecord& turn,
                                                  bool catch_up) const {
  json data = {{"conversation_id", turn.conversation_id},
               {"turn", turn_json(agent_view ? agent_view(turn) : turn)}};
  if (catch_up) data["catch_up"] = true;
  return agent_event(kEventTurn, turn.conversation_id, agent, std::move(data));
}

void AgentService::Impl::hold_turn_locked(const store::TurnRecord& turn) {
  auto it = held_turns.find(turn.conversation_id);
  if (it == held_turns.end() || turn.seq <= it->second.after_seq) return;
  auto& turns = it->second.turns;
  if (!turns.empty() && turn.seq <= turns.back().seq) return;  // seen already
  store::TurnRecord kept;
  kept.conversation_id = turn.conversation_id;
  kept.seq = turn.seq;
  kept.client_turn_id = turn.client_turn_id;
  kept.role = turn.role;
  kept.text = turn.text;
  kept.actions_json = turn.actions_json;
  kept.metadata_json = turn.metadata_json;
  kept.created_at_ms = turn.created_at_ms;
  if (turns.size() == kMaxHeldTurns) turns.erase(turns.begin());
  turns.push_back(std::move(kept));
}

void AgentService::on_turn_committed(const store::ConversationRecord& conv,
                                     const store::TurnRecord& turn) {
  if (turn.role != "user" && turn.role != "system" && turn.role != "bot") return;
  Impl& s = *impl_;
  std::string agent;
  {
    Impl::RouterLock lock(s);
    s.hold_turn_locked(turn);
    // A bot answer stored after the escalation (its question came just before) is caught up;
    // once a person holds the conversation the bot is refused.
    if (turn.role == "bot") return;
    auto it = s.assigned.find(conv.id);
    if (it == s.assigned.end()) return;
    agent = it->second;
    // Submitted under the lock so it is ordered after the assignment's own events.
    s.store.append_events({s.turn_event(agent, turn, /*catch_up=*/false)},
                          [&s, token = s.track()](Result<std::vector<store::EventRecord>> stored) {
                            if (!stored) {
                              s.store_failures.inc();
                              spdlog::warn("turn relay not stored: {}", stored.status().message());
                              return;
                            }
                            s.deliver(*stored);
                          });
  }
  spdlog::debug("turn relayed conv={} agent={} seq={}", conv.id, agent, turn.seq);
}

void AgentService::set_store_mask(TextMask mask) {
  std::lock_guard lock(impl_->mu);
  impl_->store_mask = std::move(mask);
}

void AgentService::set_join_notices(bool on) {
  std::lock_guard lock(impl_->mu);
  impl_->join_notices_on = on;
}

void AgentService::join_announced(const std::string& conversation_id) {
  impl_->with_router([&] { impl_->release_join_locked(conversation_id); });
}

void AgentService::Impl::release_join_locked(const std::string& conversation) {
  auto it = join_notices.find(conversation);
  if (it == join_notices.end()) return;
  std::vector<HeldMessage> held = std::move(it->second.messages);
  join_notices.erase(it);
  for (auto& message : held) handle_message(message.connection, message.agent, message.frame);
}

std::optional<std::int64_t> AgentService::Impl::next_join_deadline_locked() const {
  std::optional<std::int64_t> next;
  for (const auto& [id, notice] : join_notices) {
    if (!notice.messages.empty() && (!next || notice.until_ms < *next)) next = notice.until_ms;
  }
  return next;
}

void AgentService::forget_turns(const std::vector<std::string>& conversation_ids) {
  std::lock_guard lock(impl_->mu);
  for (const auto& id : conversation_ids) impl_->held_turns.erase(id);
}

Result<std::string> AgentService::escalation_snapshot(const std::string& conversation_id) const {
  store::EventQuery query;
  query.conversation_id = conversation_id;
  query.limit = kPage;
  std::optional<store::EventRecord> latest;
  for (;;) {
    auto page = impl_->store.list_events(query);
    if (!page) return page.status();
    for (auto& record : *page) {
      if (record.type == kEventEscalated) latest = std::move(record);
    }
    if (page->size() < kPage) break;
    query.after_id = page->back().id;
  }
  if (!latest) return Status::not_found("conversation " + conversation_id + " was never escalated");
  // Retention removes the snapshots of conversations that are over; the escalation stays.
  std::optional<std::string> snapshot = stored_snapshot(*latest);
  return snapshot ? std::move(*snapshot) : std::string();
}

bool AgentService::assigned_to_agent(const std::string& conversation_id) const {
  std::lock_guard lock(impl_->mu);
  return impl_->assigned.contains(conversation_id);
}

std::optional<QueuePosition> AgentService::position(const std::string& conversation_id) const {
  std::lock_guard lock(impl_->mu);
  auto view = impl_->router.position(conversation_id);
  if (!view) return std::nullopt;
  return QueuePosition{view->queue, view->position, view->estimated_wait_s, view->assigned_agent};
}

void AgentService::set_position_listener(PositionListener listener) {
  std::lock_guard lock(impl_->mu);
  impl_->position_listener = std::move(listener);
}

void AgentService::cancel_waiting(const std::string& conversation_id, const std::string& reason,
                                  std::function<void(Status)> done) {
  Impl& s = *impl_;
  Impl::RouterLock lock(s);
  if (s.state_of_locked(conversation_id) != kStateQueued) {
    return s.call_outside([done, conversation_id] {
      done(Status::conflict("conversation " + conversation_id + " is not waiting in a queue"));
    });
  }
  auto effects = s.router.cancel(conversation_id, reason);
  if (!effects) return s.call_outside([done, status = effects.status()] { done(status); });
  s.commit_locked(std::move(*effects), [this, done](Status status) {
    impl_->call_outside([done, status] { done(status); });
  });
}

std::string AgentService::state_of(const std::string& conversation_id) const {
  std::lock_guard lock(impl_->mu);
  return impl_->state_of_locked(conversation_id);
}

AgentService::ReadAccess AgentService::read_access(const std::string& agent_id,
                                                   const std::string& conversation_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->assigned.find(conversation_id);
  if (it != impl_->assigned.end() && it->second == agent_id) return ReadAccess::kAssigned;
  if (impl_->router.has_open_offer(agent_id, conversation_id)) return ReadAccess::kOffered;
  return ReadAccess::kNone;
}

nlohmann::json AgentService::queues_view() const {
  json queues = json::array();
  std::lock_guard lock(impl_->mu);
  for (const auto& view : impl_->router.queues_view()) {
    queues.push_back({{"name", view.name},
                      {"waiting", view.waiting},
                      {"oldest_wait_s", view.oldest_wait_s},
                      {"agents_online", view.agents_online},
                      {"agents_available", view.agents_available},
                      {"average_wait_s", view.average_wait_s ? json(*view.average_wait_s)
                                                             : json(nullptr)},
                      {"open", view.open}});
  }
  return {{"queues", std::move(queues)}};
}

nlohmann::json AgentService::agents_view() const {
  json agents = json::array();
  std::lock_guard lock(impl_->mu);
  for (const auto& view : impl_->router.agents_view()) {
    agents.push_back({{"id", view.id},
                      {"display_name", view.display_name},
                      {"presence", view.connected ? routing::to_string(view.presence) : "offline"},
                      {"connected", view.connected},
                      {"load", view.load},
                      {"open_offers", view.open_offers},
                      {"capacity", view.capacity}});
  }
  return {{"agents", std::move(agents)}};
}

// ---- Restore ----------------------------------------------------------------------------------

namespace {

// The routing and escalation records of the conversations, oldest first.
Result<std::vector<store::EventRecord>> routing_records(
    store::Store& store, const std::vector<store::ConversationRecord>& conversations) {
  std::vector<store::EventRecord> records;
  for (const auto& conversation : conversations) {
    store::EventQuery query;
    query.conversation_id = conversation.id;
    query.limit = kPage;
    for (;;) {
      auto page = store.list_events(query);
      if (!page) return page.status();
      for (auto& record : *page) {
        if (record.type == kEventEscalated || record.type.starts_with(kRoutingPrefix)) {
          records.push_back(std::move(record));
        }
      }
      if (page->size() < kPage) break;
      query.after_id = page->back().id;
    }
  }
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return records;
}

// An agent_online event with the agent's stored profile (a bare one if it was deleted).
routing::Event online_event(store::Store& store, const std::string& id, std::int64_t at_ms) {
  auto record = store.get_agent(id);
  routing::AgentProfile profile;
  profile.id = id;
  if (record) profile = profile_of(*record);
  routing::Event online;
  online.type = "agent_online";
  online.agent_id = id;
  online.at_ms = at_ms;
  online.data = {{"display_name", profile.display_name},
                 {"skills", profile.skills},
                 {"languages", profile.languages},
                 {"capacity", std::max(profile.capacity, routing::kMinCapacity)}};
  return online;
}

}  // namespace

// Replays the routing events of every conversation still queued or with an agent. The agents
// they name come online first (and the router then marks them disconnected, with a fresh
// grace), so their offers and assignments replay as they happened.
Status AgentService::Impl::restore() {
  auto active =
      store.list_conversations_in_states({kStateQueued, kStateAgent}, kMaxRestoredConversations);
  if (!active) return active.status();
  auto records = routing_records(store, *active);
  if (!records) return records.status();

  std::vector<routing::Event> events;
  std::set<std::string> agents;
  for (const auto& record : *records) {
    if (record.type == kEventEscalated) {
      if (auto snapshot = stored_snapshot(record)) {
        snapshots[record.conversation_id] = std::make_shared<const std::string>(*snapshot);
      }
      continue;
    }
    auto event = decode_routing_event(record);
    if (!event) return Status::internal("malformed routing event " + std::to_string(record.id));
    if (!event->agent_id.empty()) agents.insert(event->agent_id);
    events.push_back(std::move(*event));
  }
  const std::int64_t first_ms = events.empty() ? clock.now_ms() : events.front().at_ms;
  std::vector<routing::Event> replay;
  for (const auto& id : agents) replay.push_back(online_event(store, id, first_ms));
  replay.insert(replay.end(), std::make_move_iterator(events.begin()),
                std::make_move_iterator(events.end()));

  Status status = router.restore(replay, [this](const std::string& id) {
    auto it = snapshots.find(id);
    return it == snapshots.end() ? nullptr : it->second;
  });
  if (!status.is_ok()) return status;
  rebuild_mirrors_locked(*active);
  if (Status held = restore_held_turns_locked(); !held.is_ok()) return held;
  spdlog::info("routing restored conversations={} events={} agents={}", active->size(),
               replay.size(), agents.size());
  return Status::ok();
}

void AgentService::Impl::rebuild_mirrors_locked(
    const std::vector<store::ConversationRecord>& active) {
  for (const auto& conversation : active) {
    auto position = router.position(conversation.id);
    if (!position) {
      spdlog::warn("conversation conv={} is '{}' but has no routing state", conversation.id,
                   conversation.state);
      continue;
    }
    states[conversation.id] = conversation.state;
    if (!position->assigned_agent.empty()) assigned[conversation.id] = position->assigned_agent;
    std::lock_guard lock(conn_mu);
    customers[conversation.id] = conversation.customer_id;
  }
}

Status AgentService::Impl::restore_held_turns_locked() {
  for (const auto& [id, state] : states) {
    HeldTurns& held = held_turns[id];
    if (auto it = snapshots.find(id); it != snapshots.end() && it->second) {
      const json snapshot = json::parse(*it->second, nullptr, false);
      const json conversation = snapshot.is_object() ? snapshot.value("conversation", json())
                                                     : json();
      const json seq = conversation.is_object() ? conversation.value("last_seq", json()) : json();
      if (seq.is_number_integer()) held.after_seq = seq.get<std::int64_t>();
    }
    if (Status read = read_held_turns_locked(id); !read.is_ok()) return read;
  }
  return Status::ok();
}

Status AgentService::Impl::read_held_turns_locked(const std::string& conversation) {
  auto held = held_turns.find(conversation);
  if (held == held_turns.end()) return Status::ok();
  for (std::int64_t after = held->second.after_seq;;) {
    auto page = store.list_turns(conversation, after, kPage);
    if (!page) return page.status();
    for (const auto& turn : *page) {
      if (turn.role != "agent") hold_turn_locked(turn);
    }
    if (page->size() < kPage) break;
    after = page->back().seq;
  }
  return Status::ok();
}

// ---- Timer ------------------------------------------------------------------------------------

void AgentService::Impl::call_outside(std::function<void()> fn) {
  if (!tl_holds_router) return fn();
  deferred.push_back(std::move(fn));
}

void AgentService::Impl::flush_deferred(std::unique_lock<std::mutex>& lock) {
  if (deferred.empty()) return;
  auto later = std::move(deferred);
  deferred.clear();
  tl_holds_router = false;
  lock.unlock();
  for (auto& fn : later) fn();
  lock.lock();
  tl_holds_router = true;
}

void AgentService::Impl::with_router(const std::function<void()>& fn) {
  if (tl_holds_router) return fn();
  RouterLock lock(*this);
  fn();
}

void AgentService::Impl::notify_timer_locked() {
  std::int64_t next = router.next_deadline_ms().value_or(kNoDeadline);
  if (auto hold = next_hold_deadline()) next = std::min(next, *hold);
  if (auto join = next_join_deadline_locked()) next = std::min(next, *join);
  if (next < armed_deadline) timer_cv.notify_one();
}

void AgentService::Impl::tick_locked(std::int64_t now_ms) {
  release_expired_holds(now_ms);
  std::vector<std::string> overdue;
  for (const auto& [id, notice] : join_notices) {
    if (notice.until_ms <= now_ms) overdue.push_back(id);
  }
  // Past the wait the notice is late or lost; the agent's words go out regardless.
  for (const auto& id : overdue) release_join_locked(id);
  auto effects = router.tick(now_ms);
  if (!effects.empty()) commit_locked(std::move(effects), nullptr);
}

void AgentService::Impl::run_timer() {
  set_thread_name("agent-timers");
  RouterLock guard(*this);
  auto& lock = guard.lock();
  while (!stopping) {
    std::int64_t next = router.next_deadline_ms().value_or(kNoDeadline);
    if (auto hold = next_hold_deadline()) next = std::min(next, *hold);
    if (auto join = next_join_deadline_locked()) next = std::min(next, *join);
    const std::int64_t now = clock.now_ms();
    if (next <= now) {
      tick_locked(now);
      flush_deferred(lock);
      continue;
    }
    armed_deadline = next;
    tl_holds_router = false;
    if (next == kNoDeadline) {
      timer_cv.wait(lock);
    } else {
      timer_cv.wait_for(lock, std::chrono::milliseconds(next - now));
    }
    tl_holds_router = true;
    armed_deadline = 0;
  }
}

// ---- Lifecycle ----------------------------------------------------------------------------

AgentService::AgentService(store::Store& store, routing::RoutingConfig config, const Clock& clock,
                           metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(store, std::move(config), clock, registry)) {
  Impl* s = impl_.get();
  registry.callback_gauge("handover_agents_connected", "Agent WebSocket connections open", [s] {
    std::lock_guard lock(s->conn_mu);
    return static_cast<double>(s->sessions.size());
  });
  registry.callback_gauge("handover_conversations_waiting", "Conversations waiting in queues", [s] {
    std::lock_guard lock(s->mu);
    double waiting = 0;
    for (const auto& q : s->router.queues_view()) {
      waiting += static_cast<double>(q.waiting);
    }
    return waiting;
  });
}

AgentService::~AgentService() {
  stop();
  impl_->wait_for_callbacks();
}

std::shared_ptr<void> AgentService::Impl::track() {
  {
    std::lock_guard lock(flight_mu);
    ++in_flight;
  }
  return std::shared_ptr<void>(nullptr, [this](void*) {
    std::lock_guard lock(flight_mu);
    if (--in_flight == 0) flight_cv.notify_all();
  });
}

void AgentService::Impl::wait_for_callbacks() {
  std::unique_lock lock(flight_mu);
  // The store answers every write, at the latest when it closes; the bound guards a hang.
  flight_cv.wait_for(lock, std::chrono::seconds(10), [this] { return in_flight == 0; });
}

Status AgentService::start() {
  Impl& s = *impl_;
  {
    Impl::RouterLock lock(s);
    if (s.started) return Status::conflict("the agent service is already started");
    if (Status restored = s.restore(); !restored.is_ok()) return restored;
    s.started = true;
  }
  s.timer = std::thread([&s] { s.run_timer(); });
  return Status::ok();
}

void AgentService::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.timer_cv.notify_all();
  if (s.timer.joinable()) s.timer.join();
}

void AgentService::tick_for_test() {
  Impl::RouterLock lock(*impl_);
  impl_->tick_locked(impl_->clock.now_ms());
}

}  // namespace handover::agents

// The routing state machine. Every transition is an Event: decisions build the event, apply()
// changes the state from the event alone, and restore() replays the same apply() calls, so a
// restarted router holds what the running one held.
#include "handover/routing/router.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "handover/util/clock.hpp"

namespace handover::routing {
namespace {

using Json = nlohmann::json;
using Ms = std::int64_t;

constexpr double kAverageWeight = 0.2;        // weight of the newest sample in moving averages
constexpr Ms kClosedOfferMemoryMs = 3'600'000;  // how long a late accept gets a precise answer
constexpr std::size_t kMaxCodeLength = 64;
constexpr int kMaxPriority = 100;

Status fail(StatusCode code, std::string_view error, const std::string& detail) {
  return Status(code, std::string(error) + ": " + detail);
}

Status conflict(std::string_view error, const std::string& detail) {
  return fail(StatusCode::kConflict, error, detail);
}

bool is_code(std::string_view text) {
  return !text.empty() && text.size() <= kMaxCodeLength &&
         text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") ==
             std::string_view::npos;
}

bool is_id(std::string_view text) {
  return !text.empty() && text.size() <= kMaxIdLength &&
         std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

// The primary subtag in lower case: "de-CH" -> "de".
std::string primary_language(std::string_view tag) {
  std::string out(tag.substr(0, tag.find('-')));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

double blend(double average, double sample) {
  return average < 0 ? sample : average + kAverageWeight * (sample - average);
}

// ---- State ------------------------------------------------------------------------------------

struct Conversation;

// Queue order: higher priority first, then earlier entry, then escalation order.
struct WaitKey {
  int neg_priority = 0;
  Ms enqueued_ms = 0;
  std::uint64_t seq = 0;
  Conversation* conversation = nullptr;  // not part of the order

  bool operator<(const WaitKey& other) const {
    return std::tie(neg_priority, enqueued_ms, seq) <
           std::tie(other.neg_priority, other.enqueued_ms, other.seq);
  }
};

// An order-statistics tree: the queue position of a conversation costs O(log n).
using WaitList = __gnu_pbds::tree<WaitKey, __gnu_pbds::null_type, std::less<WaitKey>,
                                  __gnu_pbds::rb_tree_tag,
                                  __gnu_pbds::tree_order_statistics_node_update>;

struct Offer {
  std::uint64_t id = 0;
  std::string agent;
  Ms created_ms = 0;
  Ms expires_at_ms = 0;
};

struct Conversation {
  std::string id;
  std::string customer;
  std::string language;  // primary subtag, "" when none
  bool language_required = false;
  std::string queue;
  std::vector<std::string> extra_skills;
  std::vector<std::string> skills;  // sorted: what an agent needs now
  int priority = 0;                 // effective: queue + request + boosts
  Ms enqueued_ms = 0;               // queue order; kept across requeues
  Ms queued_since_ms = 0;           // entry into the current queue; overflow steps count from it
  std::uint64_t seq = 0;
  std::size_t next_step = 0;
  bool wait_limit_signalled = false;
  std::shared_ptr<const std::string> snapshot;
  std::vector<Offer> offers;
  std::unordered_map<std::string, Ms> cooldown_until;
  std::string pinned_agent;  // a transfer to a named agent offers only to that agent
  // Who transferred the conversation and the note they left, for the offers that follow,
  // until someone accepts it.
  std::string handed_over_by;
  std::string handover_note;
  std::string assigned_agent;
  bool in_queue = false;
  WaitKey key;
  std::int64_t published_position = 0;
  std::int64_t published_estimate = -1;
};

struct Agent {
  AgentProfile profile;  // skills sorted; languages as primary subtags
  Presence presence = Presence::kOffline;
  bool connected = false;
  int load = 0;
  std::map<std::uint64_t, std::string> offers;  // offer id -> conversation
  std::set<std::string> assigned;
  Ms idle_since_ms = 0;  // last assignment or arrival: "longest idle" sorts on it
  std::uint64_t generation = 0;  // bumped on every (dis)connection; stale grace timers skip
  Ms grace_until_ms = 0;
  bool indexed = false;  // in available_
  Ms indexed_key = 0;
  std::vector<std::size_t> counted_in;  // queues whose agents_online counts this agent
  bool counted_available = false;       // ... and whose agents_available counts it too
};

struct QueueState {
  const QueueConfig* config = nullptr;
  std::size_t index = 0;
  std::vector<std::string> skills;  // the config's, sorted
  bool widens_skills = false;
  WaitList waiting;
  std::int64_t agents_online = 0;
  std::int64_t agents_available = 0;  // of those, the ones not away
  double average_wait_s = -1;
  double average_offer_accept_s = -1;
  double average_accept_interval_s = -1;
  Ms last_accept_ms = 0;
  bool dirty = false;
  bool publish_scheduled = false;
  Ms last_publish_ms = std::numeric_limits<Ms>::min() / 2;
};

enum class TimerKind { kOfferExpiry, kCooldown, kOverflow, kMaxWait, kGrace, kPublish };

struct Timer {
  Ms at = 0;
  std::uint64_t order = 0;  // FIFO among equal deadlines, for determinism
  TimerKind kind = TimerKind::kOfferExpiry;
  std::string conversation;
  std::string agent;  // or the queue name for kPublish
  std::uint64_t value = 0;
  Ms stamp = 0;
};

struct TimerLater {
  bool operator()(const Timer& a, const Timer& b) const {
    return std::tie(a.at, a.order) > std::tie(b.at, b.order);
  }
};

struct ClosedOffer {
  std::string conversation;
  std::string agent;
  std::string outcome;  // accepted | declined | expired | revoked
  Ms at = 0;
};

// Thrown by apply() when an event names something that does not exist; only restore() can
// meet it, since live transitions are built from existing state.
class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

const char* to_string(Presence presence) {
  switch (presence) {
    case Presence::kOnline: return "online";
    case Presence::kAway: return "away";
    case Presence::kOffline: return "offline";
  }
  return "offline";
}

const char* to_string(Justified justified) {
  switch (justified) {
    case Justified::kYes: return "yes";
    case Justified::kNo: return "no";
    case Justified::kTooLate: return "too_late";
  }
  return "yes";
}

std::string_view error_code(const Status& status) {
  if (status.is_ok()) return {};
  std::string_view message = status.message();
  return message.substr(0, message.find(':'));
}

namespace {

std::optional<Presence> presence_from(std::string_view text) {
  if (text == "online") return Presence::kOnline;
  if (text == "away") return Presence::kAway;
  if (text == "offline") return Presence::kOffline;
  return std::nullopt;
}

}  // namespace

struct Router::State {
  State(RoutingConfig config_in, const Clock& clock_in)
      : config(std::move(config_in)), clock(clock_in) {
    for (std::size_t i = 0; i < config.queues.size(); ++i) {
      QueueState& queue = queues[config.queues[i].name];
      queue.config = &config.queues[i];
      queue.index = i;
      queue.skills = sorted_unique(queue.config->skills);
      queue.widens_skills = std::any_of(
          queue.config->overflow.begin(), queue.config->overflow.end(), [](const auto& step) {
            return step.action == OverflowStep::Action::kWidenSkills;
          });
    }
  }

  RoutingConfig config;
  const Clock& clock;
  std::map<std::string, QueueState, std::less<>> queues;
  std::unordered_map<std::string, std::unique_ptr<Conversation>> conversations;
  std::map<std::string, Agent, std::less<>> agents;
  std::set<std::pair<Ms, std::string>> available;  // free agents by idle time, then id
  std::unordered_map<std::string, std::string> last_agent_of_customer;
  std::unordered_map<std::uint64_t, ClosedOffer> closed_offers;
  std::deque<std::pair<Ms, std::uint64_t>> closed_order;
  std::priority_queue<Timer, std::vector<Timer>, TimerLater> timers;
  std::uint64_t next_offer_id = 1;
  std::uint64_t next_seq = 1;
  std::uint64_t next_timer_order = 1;
  bool used = false;

  // ---- Lookups ------------------------------------------------------------------------------

  Conversation* find_conversation(std::string_view id) {
    auto it = conversations.find(std::string(id));
    return it == conversations.end() ? nullptr : it->second.get();
  }

  Agent* find_agent(std::string_view id) {
    auto it = agents.find(id);
    return it == agents.end() ? nullptr : &it->second;
  }

  // The agent gives the conversation up (`reason` is the event type: returned, resolved);
  // the freed capacity goes to the next waiting conversation.
  void end_assignment(std::string_view agent_id, std::string_view conversation_id,
                      const char* reason, const Json& data, std::string_view note, Ms now,
                      Effects& out) {
    const std::string id(conversation_id);
    emit(out, reason, id, agent_id, now, data);
    push_unassigned(out, std::string(agent_id), id, reason, note);
    offer_to_agent(std::string(agent_id), now, out);
    finish(now, out);
  }

  // Marks the router as used by an input and returns the time of this step.
  Ms begin_step() {
    used = true;
    return clock.now_ms();
  }

  QueueState* find_queue(std::string_view name) {
    auto it = queues.find(name);
    return it == queues.end() ? nullptr : &it->second;
  }

  Conversation& conversation_of(const Event& e) {
    Conversation* conversation = find_conversation(e.conversation_id);
    if (conversation == nullptr) throw ReplayError("unknown conversation " + e.conversation_id);
    return *conversation;
  }

  Agent& agent_of(const Event& e) {
    Agent* agent = find_agent(e.agent_id);
    if (agent == nullptr) throw ReplayError("unknown agent " + e.agent_id);
    return *agent;
  }

  QueueState& queue_named(const std::string& name) {
    QueueState* queue = find_queue(name);
    if (queue == nullptr) throw ReplayError("unknown queue " + name);
    return *queue;
  }

  std::size_t offer_width(const Conversation& c) {
    const QueueConfig& queue = *queue_named(c.queue).config;
    if (!c.pinned_agent.empty() || queue.offer_mode == OfferMode::kSingle) return 1;
    return static_cast<std::size_t>(queue.broadcast_size);
  }

  // ---- Timers -------------------------------------------------------------------------------

  void schedule(Timer timer) {
    timer.order = next_timer_order++;
    timers.push(std::move(timer));
  }

  void schedule_queue_timers(const Conversation& c) {
    const QueueConfig& queue = *queue_named(c.queue).config;
    if (c.next_step < queue.overflow.size()) {
      Timer timer;
      timer.at = c.queued_since_ms + queue.overflow[c.next_step].after_s * 1000;
      timer.kind = TimerKind::kOverflow;
      timer.conversation = c.id;
      timer.value = c.next_step;
      timer.stamp = c.queued_since_ms;
      schedule(std::move(timer));
    }
  }

  // ---- Indexes ------------------------------------------------------------------------------

  static bool has_free_capacity(const Agent& agent) {
    return agent.load + static_cast<int>(agent.offers.size()) < agent.profile.capacity;
  }

  static bool is_active(const Agent& agent) {
    return agent.presence == Presence::kOnline && agent.connected;
  }

  static bool speaks(const Agent& agent, const std::string& language) {
    const auto& languages = agent.profile.languages;
    return std::find(languages.begin(), languages.end(), language) != languages.end();
  }

  static bool has_skills(const Agent& agent, const std::vector<std::string>& sorted_skills) {
    return std::includes(agent.profile.skills.begin(), agent.profile.skills.end(),
                         sorted_skills.begin(), sorted_skills.end());
  }

  static bool serves(const Agent& agent, const QueueState& state) {
    const QueueConfig& queue = *state.config;
    if (!has_skills(agent, state.skills)) return false;
    return queue.languages.empty() ||
           std::any_of(queue.languages.begin(), queue.languages.end(),
                       [&](const std::string& tag) {
                         return speaks(agent, primary_language(tag));
                       });
  }

  // Keeps `available` in step with one agent's presence, connection and load.
  void refresh(Agent& agent) {
    if (agent.indexed) available.erase({agent.indexed_key, agent.profile.id});
    agent.indexed = is_active(agent) && has_free_capacity(agent);
    agent.indexed_key = agent.idle_since_ms;
    if (agent.indexed) available.insert({agent.indexed_key, agent.profile.id});
  }

  // Keeps the per-queue online counts in step with the agent's profile, presence and
  // connection; O(queues), so it runs only when one of those changes.
  void recount(Agent& agent) {
    for (std::size_t index : agent.counted_in) {
      --queue_at(index).agents_online;
      if (agent.counted_available) --queue_at(index).agents_available;
    }
    agent.counted_in.clear();
    agent.counted_available = false;
    if (agent.presence == Presence::kOffline || !agent.connected) return;
    agent.counted_available = agent.presence == Presence::kOnline;
    for (auto& [name, queue] : queues) {
      if (!serves(agent, queue)) continue;
      ++queue.agents_online;
      if (agent.counted_available) ++queue.agents_available;
      agent.counted_in.push_back(queue.index);
    }
  }

  QueueState& queue_at(std::size_t index) { return queues.find(config.queues[index].name)->second; }

  void enqueue(Conversation& c) {
    QueueState& queue = queue_named(c.queue);
    c.key = WaitKey{-c.priority, c.enqueued_ms, c.seq, &c};
    queue.waiting.insert(c.key);
    c.in_queue = true;
    queue.dirty = true;
  }

  void dequeue(Conversation& c) {
    if (!c.in_queue) return;
    QueueState& queue = queue_named(c.queue);
    queue.waiting.erase(c.key);
    c.in_queue = false;
    queue.dirty = true;
  }

  void remember_closed(std::uint64_t offer_id, const Conversation& c, const std::string& agent,
                       std::string outcome, Ms at) {
    closed_offers[offer_id] = ClosedOffer{c.id, agent, std::move(outcome), at};
    closed_order.emplace_back(at, offer_id);
  }

  void prune_closed(Ms now) {
    while (!closed_order.empty() && closed_order.front().first + kClosedOfferMemoryMs < now) {
      closed_offers.erase(closed_order.front().second);
      closed_order.pop_front();
    }
  }

  // Removes an open offer everywhere and frees the capacity it reserved.
  Offer close_offer(Conversation& c, std::uint64_t offer_id, std::string outcome, Ms at) {
    auto it = std::find_if(c.offers.begin(), c.offers.end(),
                           [&](const Offer& offer) { return offer.id == offer_id; });
    if (it == c.offers.end()) throw ReplayError("offer " + std::to_string(offer_id) + " not open");
    Offer offer = *it;
    c.offers.erase(it);
    if (Agent* agent = find_agent(offer.agent)) {
      agent->offers.erase(offer_id);
      refresh(*agent);
    }
    if (c.pinned_agent == offer.agent && outcome != "accepted") c.pinned_agent.clear();
    remember_closed(offer_id, c, offer.agent, std::move(outcome), at);
    return offer;
  }

  void unassign(Conversation& c, Agent& agent) {
    agent.assigned.erase(c.id);
    --agent.load;
    c.assigned_agent.clear();
    refresh(agent);
  }

  void forget(Conversation& c) {
    dequeue(c);
    conversations.erase(c.id);
  }

  // ---- apply(): the state change of each event ------------------------------------------------

  void apply(const Event& e) {
    using Handler = void (State::*)(const Event&);
    static const std::unordered_map<std::string, Handler> kHandlers = {
        {"agent_online", &State::apply_agent_online},
        {"agent_presence", &State::apply_agent_presence},
        {"agent_disconnected", &State::apply_agent_disconnected},
        {"agent_reconnected", &State::apply_agent_reconnected},
        {"queued", &State::apply_queued},
        {"offered", &State::apply_offered},
        {"accepted", &State::apply_accepted},
        {"claimed", &State::apply_accepted},
        {"declined", &State::apply_declined},
        {"timed_out", &State::apply_declined},
        {"revoked", &State::apply_revoked},
        {"transferred", &State::apply_requeued},
        {"requeued", &State::apply_requeued},
        {"overflowed", &State::apply_overflowed},
        {"returned", &State::apply_closed},
        {"resolved", &State::apply_closed},
        {"cancelled", &State::apply_closed},
        {"no_agent", &State::apply_nothing},
        {"wait_limit_reached", &State::apply_wait_limit},
    };
    auto it = kHandlers.find(e.type);
    if (it == kHandlers.end()) throw ReplayError("unknown event type " + e.type);
    (this->*(it->second))(e);
  }

  void apply_nothing(const Event&) {}

  void apply_agent_online(const Event& e) {
    Agent& agent = agents[e.agent_id];
    bool arriving = agent.presence == Presence::kOffline || !agent.connected;
    agent.profile.id = e.agent_id;
    agent.profile.display_name = e.data.at("display_name").get<std::string>();
    agent.profile.skills = sorted_unique(e.data.at("skills").get<std::vector<std::string>>());
    agent.profile.languages.clear();
    for (const auto& tag : e.data.at("languages").get<std::vector<std::string>>()) {
      agent.profile.languages.push_back(primary_language(tag));
    }
    agent.profile.languages = sorted_unique(agent.profile.languages);
    agent.profile.capacity = e.data.at("capacity").get<int>();
    agent.presence = Presence::kOnline;
    agent.connected = true;
    agent.grace_until_ms = 0;
    ++agent.generation;
    if (arriving) agent.idle_since_ms = e.at_ms;
    refresh(agent);
    recount(agent);
  }

  void apply_agent_presence(const Event& e) {
    Agent& agent = agent_of(e);
    std::optional<Presence> presence = presence_from(e.data.at("presence").get<std::string>());
    if (!presence) throw ReplayError("bad presence");
    agent.presence = *presence;
    refresh(agent);
    recount(agent);
  }

  void apply_agent_disconnected(const Event& e) {
    Agent& agent = agent_of(e);
    agent.connected = false;
    ++agent.generation;
    agent.grace_until_ms = e.data.at("grace_until_ms").get<Ms>();
    refresh(agent);
    recount(agent);
    schedule_grace(agent);
  }

  void schedule_grace(const Agent& agent) {
    if (agent.assigned.empty()) return;
    Timer timer;
    timer.at = agent.grace_until_ms;
    timer.kind = TimerKind::kGrace;
    timer.agent = agent.profile.id;
    timer.value = agent.generation;
    schedule(std::move(timer));
  }

  void apply_agent_reconnected(const Event& e) {
    Agent& agent = agent_of(e);
    agent.connected = true;
    agent.grace_until_ms = 0;
    ++agent.generation;
    refresh(agent);
    recount(agent);
  }

  void apply_queued(const Event& e) {
    auto owned = std::make_unique<Conversation>();
    Conversation& c = *owned;
    c.id = e.conversation_id;
    c.customer = e.data.at("customer_id").get<std::string>();
    c.language = e.data.at("language").get<std::string>();
    c.language_required = e.data.at("language_required").get<bool>();
    c.queue = e.data.at("queue").get<std::string>();
    c.extra_skills = e.data.at("extra_skills").get<std::vector<std::string>>();
    c.skills = sorted_unique(e.data.at("skills").get<std::vector<std::string>>());
    c.priority = e.data.at("priority").get<int>();
    c.enqueued_ms = e.at_ms;
    c.queued_since_ms = e.at_ms;
    c.seq = next_seq++;
    c.snapshot = std::make_shared<const std::string>();
    queue_named(c.queue);  // validates the name before anything is stored
    conversations[c.id] = std::move(owned);
    enqueue(c);
    schedule_queue_timers(c);
    schedule_max_wait(c);
  }

  // The max_wait of the queue the conversation just entered, counted from that entry.
  void schedule_max_wait(const Conversation& c) {
    const QueueConfig& queue = *queue_named(c.queue).config;
    if (queue.max_wait_s <= 0) return;
    Timer timer;
    timer.at = c.queued_since_ms + queue.max_wait_s * 1000;
    timer.kind = TimerKind::kMaxWait;
    timer.conversation = c.id;
    timer.stamp = c.queued_since_ms;
    schedule(std::move(timer));
  }

  void apply_offered(const Event& e) {
    Conversation& c = conversation_of(e);
    Agent& agent = agent_of(e);
    Offer offer{e.data.at("offer_id").get<std::uint64_t>(), agent.profile.id, e.at_ms,
                e.data.at("expires_at_ms").get<Ms>()};
    c.offers.push_back(offer);
    agent.offers[offer.id] = c.id;
    next_offer_id = std::max(next_offer_id, offer.id + 1);
    refresh(agent);

    Timer timer;
    timer.at = offer.expires_at_ms;
    timer.kind = TimerKind::kOfferExpiry;
    timer.conversation = c.id;
    timer.value = offer.id;
    schedule(std::move(timer));
  }

  // accepted (with the offer) or claimed (without one).
  void apply_accepted(const Event& e) {
    Conversation& c = conversation_of(e);
    Agent& agent = agent_of(e);
    c.handed_over_by.clear();
    c.handover_note.clear();
    QueueState& queue = queue_named(c.queue);
    if (e.data.contains("offer_id")) {
      Offer offer = close_offer(c, e.data.at("offer_id").get<std::uint64_t>(), "accepted",
                                e.at_ms);
      queue.average_offer_accept_s =
          blend(queue.average_offer_accept_s,
                static_cast<double>(e.at_ms - offer.created_ms) / 1000);
    }
    record_accept_times(queue, c, e.at_ms);

    dequeue(c);
    c.assigned_agent = agent.profile.id;
    c.pinned_agent.clear();
    agent.assigned.insert(c.id);
    ++agent.load;
    agent.idle_since_ms = e.at_ms;
    refresh(agent);
    if (!c.customer.empty()) last_agent_of_customer[c.customer] = agent.profile.id;
  }

  // Queue time, and the interval between accepts while someone was waiting all along: the
  // throughput the wait estimate is built from.
  static void record_accept_times(QueueState& queue, const Conversation& c, Ms at) {
    queue.average_wait_s =
        blend(queue.average_wait_s, static_cast<double>(at - c.queued_since_ms) / 1000);
    if (queue.last_accept_ms > 0 && c.queued_since_ms <= queue.last_accept_ms) {
      queue.average_accept_interval_s = blend(
          queue.average_accept_interval_s, static_cast<double>(at - queue.last_accept_ms) / 1000);
    }
    queue.last_accept_ms = at;
  }

  // declined or timed_out: the offer closes and the agent cools down for this conversation.
  void apply_declined(const Event& e) {
    Conversation& c = conversation_of(e);
    std::string outcome = e.type == "declined" ? "declined" : "expired";
    close_offer(c, e.data.at("offer_id").get<std::uint64_t>(), outcome, e.at_ms);
    Ms until = e.data.at("cooldown_until_ms").get<Ms>();
    if (until <= e.at_ms) return;
    c.cooldown_until[e.agent_id] = until;
    queue_named(c.queue).dirty = true;  // its estimate may be unknown now
    Timer timer;
    timer.at = until;
    timer.kind = TimerKind::kCooldown;
    timer.conversation = c.id;
    schedule(std::move(timer));
  }

  void apply_revoked(const Event& e) {
    Conversation& c = conversation_of(e);
    close_offer(c, e.data.at("offer_id").get<std::uint64_t>(), "revoked", e.at_ms);
  }

  // transferred or requeued: the agent lets go and the conversation waits again.
  void apply_requeued(const Event& e) {
    Conversation& c = conversation_of(e);
    if (Agent* agent = find_agent(c.assigned_agent)) unassign(c, *agent);
    std::string queue = e.data.at("queue").get<std::string>();
    queue_named(queue);
    if (queue != c.queue) c.next_step = 0;
    c.queue = std::move(queue);
    c.priority = e.data.at("priority").get<int>();
    c.skills = sorted_unique(e.data.at("skills").get<std::vector<std::string>>());
    c.language_required = e.data.at("language_required").get<bool>();
    c.pinned_agent = e.data.value("to_agent", std::string());
    c.language = e.data.value("language", c.language);
    if (e.type == "transferred") {
      c.cooldown_until[e.agent_id] = e.data.at("cooldown_until_ms").get<Ms>();
      c.handed_over_by = e.agent_id;
      c.handover_note = e.data.value("note", std::string());
    } else {
      c.handed_over_by.clear();
      c.handover_note.clear();
    }
    c.queued_since_ms = e.at_ms;
    c.wait_limit_signalled = false;
    enqueue(c);
    schedule_queue_timers(c);
    schedule_max_wait(c);
  }

  void apply_overflowed(const Event& e) {
    Conversation& c = conversation_of(e);
    std::string queue = e.data.at("queue").get<std::string>();
    queue_named(queue);
    c.skills = sorted_unique(e.data.at("skills").get<std::vector<std::string>>());
    c.language_required = e.data.at("language_required").get<bool>();
    c.language = e.data.value("language", c.language);
    if (queue == c.queue) {
      c.next_step = e.data.at("step").get<std::size_t>() + 1;
    } else {
      dequeue(c);
      c.queue = std::move(queue);
      c.next_step = 0;
      c.queued_since_ms = e.at_ms;
      c.wait_limit_signalled = false;
      enqueue(c);
      schedule_max_wait(c);
    }
    queue_named(c.queue).dirty = true;
    schedule_queue_timers(c);
  }

  // returned, resolved or cancelled: the router forgets the conversation.
  void apply_closed(const Event& e) {
    Conversation& c = conversation_of(e);
    if (!c.offers.empty()) throw ReplayError("conversation closed with open offers");
    if (Agent* agent = find_agent(c.assigned_agent)) unassign(c, *agent);
    forget(c);
  }

  void apply_wait_limit(const Event& e) { conversation_of(e).wait_limit_signalled = true; }

  // ---- Emitting -----------------------------------------------------------------------------

  void emit(Effects& out, std::string type, std::string_view conversation,
            std::string_view agent, Ms at, Json data) {
    Event event;
    event.type = std::move(type);
    event.conversation_id = std::string(conversation);
    event.agent_id = std::string(agent);
    event.at_ms = at;
    event.data = std::move(data);
    apply(event);
    out.emplace_back(std::move(event));
  }

  // ---- Eligibility and offers ---------------------------------------------------------------

  static bool has_offer_for(const Conversation& c, const std::string& agent) {
    return std::any_of(c.offers.begin(), c.offers.end(),
                       [&](const Offer& offer) { return offer.agent == agent; });
  }

  static bool matches(const Conversation& c, const Agent& agent) {
    if (!std::includes(agent.profile.skills.begin(), agent.profile.skills.end(),
                       c.skills.begin(), c.skills.end())) {
      return false;
    }
    return !c.language_required || speaks(agent, c.language);
  }

  bool eligible(const Conversation& c, const Agent& agent, Ms now) const {
    if (!is_active(agent) || !has_free_capacity(agent)) return false;
    if (!c.pinned_agent.empty() && c.pinned_agent != agent.profile.id) return false;
    if (has_offer_for(c, agent.profile.id)) return false;
    auto cooling = c.cooldown_until.find(agent.profile.id);
    if (cooling != c.cooldown_until.end() && now < cooling->second) return false;
    return matches(c, agent);
  }

  // Sticky agent first, otherwise the longest-idle eligible one.
  Agent* pick_agent(const Conversation& c, Ms now) {
    if (!c.pinned_agent.empty()) {
      Agent* pinned = find_agent(c.pinned_agent);
      return pinned != nullptr && eligible(c, *pinned, now) ? pinned : nullptr;
    }
    if (auto last = last_agent_of_customer.find(c.customer);
        !c.customer.empty() && last != last_agent_of_customer.end()) {
      Agent* sticky = find_agent(last->second);
      if (sticky != nullptr && eligible(c, *sticky, now)) return sticky;
    }
    for (const auto& [idle_since, id] : available) {
      Agent& agent = agents.find(id)->second;
      if (eligible(c, agent, now)) return &agent;
    }
    return nullptr;
  }

  void make_offer(Conversation& c, Agent& agent, Ms now, Effects& out) {
    const QueueConfig& queue = *queue_named(c.queue).config;
    std::uint64_t offer_id = next_offer_id;
    Ms expires_at = now + queue.offer_timeout_s * 1000;
    emit(out, "offered", c.id, agent.profile.id, now,
         {{"offer_id", offer_id}, {"expires_at_ms", expires_at}, {"queue", c.queue}});

    SendOffer offer;
    offer.agent_id = agent.profile.id;
    offer.conversation_id = c.id;
    offer.offer_id = offer_id;
    offer.expires_at_ms = expires_at;
    offer.queue = c.queue;
    offer.snapshot = c.snapshot;
    offer.handed_over_by = c.handed_over_by;
    offer.handover_note = c.handover_note;
    out.emplace_back(std::move(offer));
  }

  // Offers a waiting conversation to as many agents as its queue's mode wants.
  void dispatch(Conversation& c, Ms now, Effects& out) {
    if (!c.in_queue) return;
    std::size_t width = offer_width(c);
    while (c.offers.size() < width) {
      Agent* agent = pick_agent(c, now);
      if (agent == nullptr) break;
      make_offer(c, *agent, now, out);
    }
  }

  void dispatch_id(const std::string& id, Ms now, Effects& out) {
    if (Conversation* c = find_conversation(id)) dispatch(*c, now, out);
  }

  // The first conversation of `queue` this agent may be offered, in queue order.
  Conversation* first_for(QueueState& queue, const Agent& agent, Ms now) {
    if (!queue.widens_skills && !has_skills(agent, queue.skills)) return nullptr;
    for (const WaitKey& key : queue.waiting) {
      Conversation& c = *key.conversation;
      if (c.offers.size() < offer_width(c) && eligible(c, agent, now)) return &c;
    }
    return nullptr;
  }

  // A new or freed agent gets the oldest highest-priority conversation across all queues.
  void offer_to_agent(const std::string& agent_id, Ms now, Effects& out) {
    Agent* agent = find_agent(agent_id);
    while (agent != nullptr && is_active(*agent) && has_free_capacity(*agent)) {
      Conversation* best = nullptr;
      for (auto& [name, queue] : queues) {
        Conversation* candidate = first_for(queue, *agent, now);
        if (candidate != nullptr && (best == nullptr || candidate->key < best->key)) {
          best = candidate;
        }
      }
      if (best == nullptr) return;
      make_offer(*best, *agent, now, out);
    }
  }

  // ---- Positions and estimates --------------------------------------------------------------

  // -1 when nobody who could take the queue's conversations is online and not away: an
  // estimate would be invented.
  std::int64_t estimate_s(const QueueState& queue, std::int64_t position) const {
    if (queue.agents_available == 0) return -1;
    const QueueConfig& config_of_queue = *queue.config;
    double first = queue.average_offer_accept_s >= 0
                       ? queue.average_offer_accept_s
                       : static_cast<double>(config_of_queue.offer_timeout_s) / 2;
    double interval = queue.average_accept_interval_s >= 0
                          ? queue.average_accept_interval_s
                          : static_cast<double>(config_of_queue.sla_target_s);
    return static_cast<std::int64_t>(
        std::ceil(first + static_cast<double>(position - 1) * interval));
  }

  std::int64_t position_of(const QueueState& queue, const Conversation& c) const {
    return static_cast<std::int64_t>(queue.waiting.order_of_key(c.key)) + 1;
  }

  void publish(QueueState& queue, Ms now, Effects& out) {
    std::int64_t position = 0;
    for (const WaitKey& key : queue.waiting) {
      Conversation& c = *key.conversation;
      ++position;
      std::int64_t estimate = could_be_taken(c, now) ? estimate_s(queue, position) : -1;
      if (position == c.published_position && estimate == c.published_estimate) continue;
      c.published_position = position;
      c.published_estimate = estimate;
      QueueUpdate update;
      update.conversation_id = c.id;
      update.queue = queue.config->name;
      update.position = position;
      update.estimated_wait_s = estimate;
      out.emplace_back(std::move(update));
    }
    queue.dirty = false;
    queue.last_publish_ms = now;
  }

  // Ends every input: publishes positions of queues that moved, at most once per interval.
  void finish(Ms now, Effects& out) {
    Ms interval = config.position_update_interval_ms;
    for (auto& [name, queue] : queues) {
      if (!queue.dirty) continue;
      if (now - queue.last_publish_ms >= interval) {
        publish(queue, now, out);
      } else if (!queue.publish_scheduled) {
        queue.publish_scheduled = true;
        Timer timer;
        timer.at = queue.last_publish_ms + interval;
        timer.kind = TimerKind::kPublish;
        timer.agent = name;
        schedule(std::move(timer));
      }
    }
  }

  // ---- Timers firing ------------------------------------------------------------------------

  void run_timer(const Timer& timer, Ms now, Effects& out) {
    switch (timer.kind) {
      case TimerKind::kOfferExpiry: return expire_offer(timer, now, out);
      case TimerKind::kCooldown:
        if (Conversation* c = find_conversation(timer.conversation); c && c->in_queue) {
          queue_named(c->queue).dirty = true;  // its estimate may be known again
        }
        return dispatch_id(timer.conversation, now, out);
      case TimerKind::kOverflow: return overflow(timer, now, out);
      case TimerKind::kMaxWait: return wait_limit(timer, now, out);
      case TimerKind::kGrace: return grace_expired(timer, now, out);
      case TimerKind::kPublish:
        if (QueueState* queue = find_queue(timer.agent)) queue->publish_scheduled = false;
        return;
    }
  }

  void expire_offer(const Timer& timer, Ms now, Effects& out) {
    Conversation* c = find_conversation(timer.conversation);
    if (c == nullptr) return;
    auto it = std::find_if(c->offers.begin(), c->offers.end(),
                           [&](const Offer& offer) { return offer.id == timer.value; });
    if (it == c->offers.end() || it->expires_at_ms > now) return;
    std::string agent = it->agent;
    std::uint64_t offer_id = it->id;
    emit(out, "timed_out", c->id, agent, now,
         {{"offer_id", offer_id}, {"cooldown_until_ms", now + config.decline_cooldown_s * 1000}});
    push_revoke(out, agent, c->id, offer_id, "expired");
    dispatch(*c, now, out);
    offer_to_agent(agent, now, out);
    tell_if_nobody_online(c->id, now, out);
  }

  void overflow(const Timer& timer, Ms now, Effects& out) {
    Conversation* c = find_conversation(timer.conversation);
    if (c == nullptr || !c->in_queue || c->next_step != timer.value ||
        c->queued_since_ms != timer.stamp) {
      return;
    }
    const OverflowStep& step = queue_named(c->queue).config->overflow[c->next_step];
    std::vector<std::string> skills = c->skills;
    bool language_required = c->language_required;
    std::string language = c->language;
    std::string target = c->queue;
    switch (step.action) {
      case OverflowStep::Action::kWidenSkills:
        std::erase_if(skills, [&](const std::string& skill) {
          return step.skills.empty() ||
                 std::find(step.skills.begin(), step.skills.end(), skill) != step.skills.end();
        });
        break;
      case OverflowStep::Action::kDropLanguage: language_required = false; break;
      case OverflowStep::Action::kMoveToQueue:
        target = step.to_queue;
        skills = sorted_unique(concat(queue_named(target).config->skills, c->extra_skills));
        language = language_in(*queue_named(target).config, c->language);
        language_required = !language.empty();
        revoke_all(*c, "overflowed", now, out);
        break;
    }
    emit(out, "overflowed", c->id, "", now,
         {{"step", c->next_step}, {"action", to_string(step.action)}, {"from_queue", c->queue},
          {"queue", target}, {"skills", skills}, {"language", language},
          {"language_required", language_required}});
    dispatch(*c, now, out);
    if (step.action == OverflowStep::Action::kMoveToQueue) tell_if_nobody_online(c->id, now, out);
  }

  // The language a conversation needs in `queue`: its own if the queue serves it (or serves
  // any language), otherwise the queue's first one.
  static std::string language_in(const QueueConfig& queue, const std::string& language) {
    if (queue.languages.empty()) return language;
    for (const std::string& tag : queue.languages) {
      if (primary_language(tag) == language) return language;
    }
    return primary_language(queue.languages.front());
  }

  static std::vector<std::string> concat(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  void wait_limit(const Timer& timer, Ms now, Effects& out) {
    Conversation* c = find_conversation(timer.conversation);
    if (c == nullptr || !c->in_queue || c->wait_limit_signalled ||
        c->queued_since_ms != timer.stamp) {
      return;
    }
    std::int64_t waited_s = (now - c->queued_since_ms) / 1000;
    emit(out, "wait_limit_reached", c->id, "", now, {{"queue", c->queue}, {"waited_s", waited_s}});
    WaitLimitReached reached;
    reached.conversation_id = c->id;
    reached.queue = c->queue;
    reached.waited_s = waited_s;
    out.emplace_back(std::move(reached));
  }

  void grace_expired(const Timer& timer, Ms now, Effects& out) {
    Agent* agent = find_agent(timer.agent);
    if (agent == nullptr || agent->connected || agent->generation != timer.value) return;
    requeue_all(*agent, "grace_expired", now, out);
  }

  // ---- Shared steps of inputs ---------------------------------------------------------------

  void push_revoke(Effects& out, const std::string& agent, const std::string& conversation,
                   std::uint64_t offer_id, std::string reason) {
    RevokeOffer revoke;
    revoke.agent_id = agent;
    revoke.conversation_id = conversation;
    revoke.offer_id = offer_id;
    revoke.reason = std::move(reason);
    out.emplace_back(std::move(revoke));
  }

  void push_unassigned(Effects& out, const std::string& agent, const std::string& conversation,
                       std::string reason, std::string_view note) {
    Unassigned unassigned;
    unassigned.agent_id = agent;
    unassigned.conversation_id = conversation;
    unassigned.reason = std::move(reason);
    unassigned.note = std::string(note);
    out.emplace_back(std::move(unassigned));
  }

  // Revokes every open offer of `c`; returns the agents whose capacity came free.
  std::vector<std::string> revoke_all(Conversation& c, const std::string& reason, Ms now,
                                      Effects& out) {
    std::vector<std::string> freed;
    while (!c.offers.empty()) {
      Offer offer = c.offers.front();
      emit(out, "revoked", c.id, offer.agent, now, {{"offer_id", offer.id}, {"reason", reason}});
      push_revoke(out, offer.agent, c.id, offer.id, reason);
      freed.push_back(offer.agent);
    }
    return freed;
  }

  // Revokes every open offer of one agent and routes those conversations elsewhere.
  void revoke_agent_offers(Agent& agent, const std::string& reason, Ms now, Effects& out) {
    std::vector<std::string> conversations_offered;
    while (!agent.offers.empty()) {
      auto [offer_id, conversation] = *agent.offers.begin();
      emit(out, "revoked", conversation, agent.profile.id, now,
           {{"offer_id", offer_id}, {"reason", reason}});
      push_revoke(out, agent.profile.id, conversation, offer_id, reason);
      conversations_offered.push_back(conversation);
    }
    for (const std::string& id : conversations_offered) dispatch_id(id, now, out);
  }

  // The agent left (went offline or disconnected): the users waiting for a conversation it
  // could have taken, who may have been told a wait, are told if nobody online can take it
  // now. Those told already in this step (requeued ones) are not told twice.
  void tell_those_left_alone(const Agent& agent, Ms now, Effects& out) {
    std::vector<std::string> ids;
    for (auto& [name, queue] : queues) {
      if (!queue.widens_skills && !has_skills(agent, queue.skills)) continue;
      for (const WaitKey& key : queue.waiting) {
        const Conversation& c = *key.conversation;
        if (c.offers.empty() && matches(c, agent) && !told_nobody(out, c.id)) ids.push_back(c.id);
      }
    }
    for (const std::string& id : ids) tell_if_nobody_online(id, now, out);
  }

  static bool told_nobody(const Effects& out, const std::string& conversation) {
    return std::any_of(out.begin(), out.end(), [&conversation](const Effect& effect) {
      const auto* no_agent = std::get_if<NoAgent>(&effect);
      return no_agent != nullptr && no_agent->conversation_id == conversation;
    });
  }

  // Every assignment of the agent goes back to its queue with raised priority.
  void requeue_all(Agent& agent, const std::string& reason, Ms now, Effects& out) {
    std::vector<std::string> ids(agent.assigned.begin(), agent.assigned.end());
    for (const std::string& id : ids) {
      Conversation& c = *find_conversation(id);
      emit(out, "requeued", id, agent.profile.id, now,
           {{"reason", reason}, {"queue", c.queue},
            {"priority", std::min(c.priority + config.requeue_priority_boost, 2 * kMaxPriority)},
            {"skills", c.skills}, {"language_required", c.language_required}});
      push_unassigned(out, agent.profile.id, id, reason, "");
    }
    for (const std::string& id : ids) dispatch_id(id, now, out);
    for (const std::string& id : ids) tell_if_nobody_online(id, now, out);
  }

  // A waiting conversation that nobody online can take: the user is told, and offered the
  // choices, as when it was first escalated.
  void tell_if_nobody_online(const std::string& id, Ms now, Effects& out) {
    Conversation* c = find_conversation(id);
    if (c == nullptr || !c->in_queue || !c->offers.empty()) return;
    QueueState* queue = find_queue(c->queue);
    const char* reason = queue == nullptr ? nullptr : why_nobody_could_take(*c, now);
    if (reason != nullptr) push_no_agent(out, id, *queue->config, reason, true, now);
  }

  // nullptr when someone online and not away could take `c` once they have room: the skills
  // and the language, and no cooldown after declining or transferring it. Otherwise
  // "no_agent_eligible" when such agents are online but all cool down, "no_agent_online"
  // when there are none.
  const char* why_nobody_could_take(const Conversation& c, Ms now) const {
    bool cooling_only = false;
    for (const auto& [id, agent] : agents) {
      if (!is_active(agent) || !matches(c, agent)) continue;
      if (!c.pinned_agent.empty() && c.pinned_agent != id) continue;
      auto cooling = c.cooldown_until.find(id);
      if (cooling == c.cooldown_until.end() || now >= cooling->second) return nullptr;
      cooling_only = true;
    }
    return cooling_only ? "no_agent_eligible" : "no_agent_online";
  }

  // Whether an estimate means anything for `c`: not while everyone who could take it cools
  // down. Cheap for the many conversations nobody has declined.
  bool could_be_taken(const Conversation& c, Ms now) const {
    if (c.cooldown_until.empty() && c.pinned_agent.empty()) return true;
    return why_nobody_could_take(c, now) == nullptr;
  }

  Result<Agent*> assigned_to(std::string_view agent_id, std::string_view conversation_id) {
    Conversation* c = find_conversation(conversation_id);
    if (c == nullptr) {
      return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
    }
    Agent* agent = find_agent(agent_id);
    if (agent == nullptr || c->assigned_agent != agent_id) {
      return conflict(kNotAssigned, "conversation " + c->id + " is not assigned to agent " +
                                        std::string(agent_id));
    }
    return agent;
  }

  // The open offer `offer_id` of `agent` for `c`, or why there is none.
  Result<Offer> open_offer(const Conversation& c, std::string_view agent, std::uint64_t offer_id,
                           Ms now) {
    std::string detail = "offer " + std::to_string(offer_id) + " of conversation " + c.id;
    for (const Offer& offer : c.offers) {
      if (offer.id != offer_id) continue;
      if (offer.agent != agent) return conflict(kNotOffered, detail + " is for another agent");
      if (now >= offer.expires_at_ms) return conflict(kOfferExpired, detail + " has expired");
      return offer;
    }
    auto closed = closed_offers.find(offer_id);
    if (closed == closed_offers.end() || closed->second.conversation != c.id ||
        closed->second.agent != agent) {
      if (!c.assigned_agent.empty()) {
        return conflict(kAlreadyAssigned, "conversation " + c.id + " is already assigned");
      }
      return conflict(kNotOffered, detail + " was not made to agent " + std::string(agent));
    }
    const std::string& outcome = closed->second.outcome;
    if (outcome == "expired") return conflict(kOfferExpired, detail + " has expired");
    if (outcome == "declined") return conflict(kOfferDeclined, detail + " was declined");
    if (outcome == "accepted") return conflict(kAlreadyAssigned, detail + " was accepted already");
    return conflict(kOfferRevoked, detail + " was revoked");
  }

  void push_no_agent(Effects& out, const std::string& conversation, const QueueConfig& queue,
                     const char* reason, bool queued, Ms now);
  static void push_assigned(Effects& out, const Conversation& c);
  Status check_claim(const Conversation& c, const Agent& agent) const;
  Result<std::string> check_transfer_target(const Conversation& c, std::string_view agent_id,
                                            const TransferTarget& target);

  static Status check_codes(std::string_view code, std::string_view note) {
    if (!code.empty() && !is_code(code)) {
      return fail(StatusCode::kInvalidArgument, kInvalidArgument,
                  "a reason code is 1 to 64 characters a-z, 0-9, '_', '-' or '.'");
    }
    if (note.size() > kMaxNoteBytes) {
      return fail(StatusCode::kInvalidArgument, kInvalidArgument,
                  "a note is at most " + std::to_string(kMaxNoteBytes) + " bytes");
    }
    return Status::ok();
  }
};

// ---- Validation of what agents and callers send ---------------------------------------------

namespace {

Status check_profile(const AgentProfile& profile) {
  auto bad = [](const std::string& what) {
    return fail(StatusCode::kInvalidArgument, kInvalidProfile, what);
  };
  if (!is_id(profile.id)) return bad("an agent id is 1 to 128 printable characters");
  if (profile.display_name.size() > 200) return bad("display_name is at most 200 bytes");
  if (profile.capacity < kMinCapacity || profile.capacity > kMaxCapacity) {
    return bad("capacity must be an integer from " + std::to_string(kMinCapacity) + " to " +
               std::to_string(kMaxCapacity) + ", got " + std::to_string(profile.capacity));
  }
  if (profile.skills.size() > kMaxSkills || profile.languages.size() > kMaxSkills) {
    return bad("at most " + std::to_string(kMaxSkills) + " skills and languages");
  }
  for (const std::string& skill : profile.skills) {
    if (!is_code(skill)) return bad("skill '" + skill.substr(0, 64) + "' is not a valid name");
  }
  for (const std::string& language : profile.languages) {
    if (language.size() < 2 || language.size() > 16 || language.front() == '-' ||
        language.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") !=
            std::string::npos) {
      return bad("language '" + language.substr(0, 16) + "' is not a language tag");
    }
  }
  return Status::ok();
}

Status check_escalation(const Escalation& e) {
  auto bad = [](const std::string& what) {
    return fail(StatusCode::kInvalidArgument, kInvalidArgument, what);
  };
  if (!is_id(e.conversation_id)) return bad("a conversation id is 1 to 128 printable characters");
  if (!e.customer_id.empty() && !is_id(e.customer_id)) return bad("customer id is malformed");
  if (e.priority < 0 || e.priority > kMaxPriority) return bad("priority must be 0 to 100");
  if (e.language.size() > 16) return bad("language is malformed");
  if (e.extra_skills.size() > kMaxSkills) return bad("too many skills");
  for (const std::string& skill : e.extra_skills) {
    if (!is_code(skill)) return bad("skill '" + skill.substr(0, 64) + "' is not a valid name");
  }
  return Status::ok();
}

Json profile_json(const AgentProfile& profile) {
  return {{"display_name", profile.display_name},
          {"skills", profile.skills},
          {"languages", profile.languages},
          {"capacity", profile.capacity}};
}

}  // namespace

// ---- Router: inputs ---------------------------------------------------------------------------

Router::Router(RoutingConfig config, const Clock& clock)
    : state_(std::make_unique<State>(std::move(config), clock)) {}

Router::~Router() = default;

Result<Effects> Router::agent_online(const AgentProfile& profile) {
  if (Status status = check_profile(profile); !status.is_ok()) return status;
  State& s = *state_;
  const Ms now = s.begin_step();
  Effects out;

  s.emit(out, "agent_online", "", profile.id, now, profile_json(profile));
  s.offer_to_agent(profile.id, now, out);
  s.finish(now, out);
  return out;
}

Result<Effects> Router::set_presence(std::string_view agent_id, Presence presence) {
  State& s = *state_;
  Agent* agent = s.find_agent(agent_id);
  if (agent == nullptr) return fail(StatusCode::kNotFound, kUnknownAgent, std::string(agent_id));
  const Ms now = s.begin_step();
  Effects out;

  s.emit(out, "agent_presence", "", agent_id, now, {{"presence", to_string(presence)}});
  if (presence == Presence::kOffline) {
    s.revoke_agent_offers(*agent, "agent_offline", now, out);
    s.requeue_all(*agent, "agent_offline", now, out);
    s.tell_those_left_alone(*agent, now, out);
  }
  s.offer_to_agent(agent->profile.id, now, out);
  s.finish(now, out);
  return out;
}

Result<Effects> Router::agent_disconnected(std::string_view agent_id) {
  State& s = *state_;
  Agent* agent = s.find_agent(agent_id);
  if (agent == nullptr) return fail(StatusCode::kNotFound, kUnknownAgent, std::string(agent_id));
  const Ms now = s.begin_step();
  Effects out;

  s.emit(out, "agent_disconnected", "", agent_id, now,
         {{"grace_until_ms", now + s.config.reconnect_grace_s * 1000}});
  s.revoke_agent_offers(*agent, "agent_disconnected", now, out);
  s.tell_those_left_alone(*agent, now, out);
  s.finish(now, out);
  return out;
}

Result<Effects> Router::agent_reconnected(std::string_view agent_id) {
  State& s = *state_;
  Agent* agent = s.find_agent(agent_id);
  if (agent == nullptr) return fail(StatusCode::kNotFound, kUnknownAgent, std::string(agent_id));
  const Ms now = s.begin_step();
  Effects out;

  s.emit(out, "agent_reconnected", "", agent_id, now, Json::object());
  s.offer_to_agent(agent->profile.id, now, out);
  s.finish(now, out);
  return out;
}

Result<Effects> Router::escalate(const Escalation& e) {
  if (Status status = check_escalation(e); !status.is_ok()) return status;
  State& s = *state_;
  QueueState* queue = s.find_queue(e.queue);
  if (queue == nullptr) return fail(StatusCode::kNotFound, kUnknownQueue, e.queue);
  if (s.find_conversation(e.conversation_id) != nullptr) {
    return conflict(kAlreadyQueued, "conversation " + e.conversation_id + " is already routed");
  }
  const Ms now = s.begin_step();
  Effects out;

  const QueueConfig& config = *queue->config;
  if (!config.hours.is_open(now)) {
    s.push_no_agent(out, e.conversation_id, config, "outside_business_hours", false, now);
    return out;
  }
  std::string language = e.language.empty() && !config.languages.empty()
                             ? config.languages.front()
                             : e.language;
  s.emit(out, "queued", e.conversation_id, "", now,
         {{"customer_id", e.customer_id}, {"language", primary_language(language)},
          {"language_required", !language.empty()}, {"queue", e.queue},
          {"extra_skills", e.extra_skills},
          {"skills", sorted_unique(State::concat(config.skills, e.extra_skills))},
          {"priority", config.priority + e.priority}});
  Conversation& c = *s.find_conversation(e.conversation_id);
  c.snapshot = e.snapshot ? e.snapshot : std::make_shared<const std::string>();

  s.dispatch(c, now, out);
  if (c.offers.empty() && queue->agents_online == 0) {
    s.push_no_agent(out, c.id, config, "no_agent_online", true, now);
  }
  s.finish(now, out);
  return out;
}

void Router::State::push_no_agent(Effects& out, const std::string& conversation,
                                  const QueueConfig& queue, const char* reason, bool queued,
                                  Ms now) {
  emit(out, "no_agent", conversation, "", now,
               {{"queue", queue.name}, {"path", to_string(queue.no_agent_path)},
                {"reason", reason}, {"queued", queued}});
  NoAgent no_agent;
  no_agent.conversation_id = conversation;
  no_agent.queue = queue.name;
  no_agent.path = queue.no_agent_path;
  no_agent.reason = reason;
  no_agent.queued = queued;
  out.emplace_back(std::move(no_agent));
}

Result<Effects> Router::accept(std::string_view agent_id, std::string_view conversation_id,
                               std::uint64_t offer_id) {
  State& s = *state_;
  Conversation* c = s.find_conversation(conversation_id);
  if (c == nullptr) {
    return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
  }
  Ms now = s.clock.now_ms();
  Result<Offer> offer = s.open_offer(*c, agent_id, offer_id, now);
  if (!offer) return offer.status();
  Agent& agent = *s.find_agent(agent_id);
  if (agent.load >= agent.profile.capacity) {
    return conflict(kCapacityFull, "agent " + agent.profile.id + " is at capacity");
  }
  s.used = true;
  Effects out;

  std::int64_t waited_ms = now - c->queued_since_ms;
  s.emit(out, "accepted", c->id, agent_id, now,
         {{"offer_id", offer_id}, {"queue", c->queue}, {"waited_ms", waited_ms}});
  State::push_assigned(out, *c);
  for (const std::string& freed : s.revoke_all(*c, "accepted_elsewhere", now, out)) {
    s.offer_to_agent(freed, now, out);
  }
  s.finish(now, out);
  return out;
}

void Router::State::push_assigned(Effects& out, const Conversation& c) {
  Assigned assigned;
  assigned.agent_id = c.assigned_agent;
  assigned.conversation_id = c.id;
  assigned.queue = c.queue;
  out.emplace_back(std::move(assigned));
}

Result<Effects> Router::decline(std::string_view agent_id, std::string_view conversation_id,
                                std::uint64_t offer_id, std::string_view reason_code) {
  if (Status status = State::check_codes(reason_code, ""); !status.is_ok()) return status;
  State& s = *state_;
  Conversation* c = s.find_conversation(conversation_id);
  if (c == nullptr) {
    return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
  }
  Ms now = s.clock.now_ms();
  Result<Offer> offer = s.open_offer(*c, agent_id, offer_id, now);
  if (!offer) return offer.status();
  s.used = true;
  Effects out;

  std::string reason = reason_code.empty() ? "unspecified" : std::string(reason_code);
  s.emit(out, "declined", c->id, agent_id, now,
         {{"offer_id", offer_id}, {"reason", reason},
          {"cooldown_until_ms", now + s.config.decline_cooldown_s * 1000}});
  // Every offer ends in the agent's event stream, so a replay shows none of them open.
  s.push_revoke(out, std::string(agent_id), c->id, offer_id, "declined");
  s.dispatch(*c, now, out);
  s.offer_to_agent(std::string(agent_id), now, out);
  s.tell_if_nobody_online(c->id, now, out);
  s.finish(now, out);
  return out;
}

Result<Effects> Router::claim(std::string_view agent_id, std::string_view conversation_id) {
  State& s = *state_;
  Conversation* c = s.find_conversation(conversation_id);
  if (c == nullptr) {
    return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
  }
  Agent* agent = s.find_agent(agent_id);
  if (agent == nullptr) return fail(StatusCode::kNotFound, kUnknownAgent, std::string(agent_id));
  if (Status status = s.check_claim(*c, *agent); !status.is_ok()) return status;
  const Ms now = s.begin_step();
  Effects out;

  // An agent claiming what it has been offered accepts that offer. The claim names no offer,
  // so the offer's end is told as for the other agents' offers.
  for (const Offer& offer : c->offers) {
    if (offer.agent != agent_id) continue;
    const std::uint64_t offer_id = offer.id;
    Result<Effects> accepted = accept(agent_id, conversation_id, offer_id);
    if (accepted) s.push_revoke(*accepted, std::string(agent_id), c->id, offer_id, "claimed");
    return accepted;
  }
  s.emit(out, "claimed", c->id, agent_id, now,
         {{"queue", c->queue}, {"waited_ms", now - c->queued_since_ms}});
  State::push_assigned(out, *c);
  for (const std::string& freed : s.revoke_all(*c, "claimed", now, out)) {
    s.offer_to_agent(freed, now, out);
  }
  s.finish(now, out);
  return out;
}

Status Router::State::check_claim(const Conversation& c, const Agent& agent) const {
  if (!queues.find(c.queue)->second.config->self_pick) {
    return conflict(kSelfPickDisabled, "queue " + c.queue + " does not allow self-pick");
  }
  if (!c.assigned_agent.empty()) {
    return conflict(kAlreadyAssigned, "conversation " + c.id + " is already assigned");
  }
  if (!State::is_active(agent) || !State::matches(c, agent)) {
    return conflict(kNotEligible, "agent " + agent.profile.id + " may not take " + c.id);
  }
  if (!State::has_free_capacity(agent) && !State::has_offer_for(c, agent.profile.id)) {
    return conflict(kCapacityFull, "agent " + agent.profile.id + " is at capacity");
  }
  return Status::ok();
}

Result<Effects> Router::transfer(std::string_view agent_id, std::string_view conversation_id,
                                 const TransferTarget& target, std::string_view note) {
  if (Status status = State::check_codes("", note); !status.is_ok()) return status;
  State& s = *state_;
  Result<Agent*> from = s.assigned_to(agent_id, conversation_id);
  if (!from) return from.status();
  Conversation& c = *s.find_conversation(conversation_id);
  Result<std::string> queue = s.check_transfer_target(c, agent_id, target);
  if (!queue) return queue.status();
  const Ms now = s.begin_step();
  Effects out;

  const QueueConfig& old_queue = *s.find_queue(c.queue)->config;
  const QueueConfig& new_queue = *s.find_queue(*queue)->config;
  bool moves = new_queue.name != old_queue.name;
  std::vector<std::string> skills =
      moves ? sorted_unique(State::concat(new_queue.skills, c.extra_skills)) : c.skills;
  std::string language = moves ? State::language_in(new_queue, c.language) : c.language;
  // The transferring agent is not offered the conversation straight back.
  Json data = {{"note", note}, {"queue", new_queue.name},
               {"priority", c.priority - old_queue.priority + new_queue.priority},
               {"skills", skills}, {"language", language},
               {"language_required", moves ? !language.empty() : c.language_required},
               {"cooldown_until_ms", now + s.config.decline_cooldown_s * 1000}};
  if (target.agent.empty()) {
    data["to_queue"] = new_queue.name;
  } else {
    data["to_agent"] = target.agent;
  }
  s.emit(out, "transferred", c.id, agent_id, now, std::move(data));
  s.push_unassigned(out, std::string(agent_id), c.id, "transferred", note);
  s.dispatch(c, now, out);
  s.offer_to_agent(std::string(agent_id), now, out);
  s.tell_if_nobody_online(c.id, now, out);
  s.finish(now, out);
  return out;
}

// The queue the conversation lands in, or why the target is refused.
Result<std::string> Router::State::check_transfer_target(const Conversation& c,
                                                         std::string_view agent_id,
                                                         const TransferTarget& target) {
  State& s = *this;
  if (target.queue.empty() == target.agent.empty()) {
    return fail(StatusCode::kInvalidArgument, kInvalidArgument,
                "a transfer names exactly one queue or one agent");
  }
  if (!target.queue.empty()) {
    QueueState* queue = s.find_queue(target.queue);
    if (queue == nullptr) return fail(StatusCode::kNotFound, kUnknownQueue, target.queue);
    if (!queue->config->hours.is_open(s.clock.now_ms())) {
      return conflict(kQueueClosed, "queue " + target.queue + " is outside its business hours");
    }
    return target.queue;
  }
  Agent* to = s.find_agent(target.agent);
  if (to == nullptr) return fail(StatusCode::kNotFound, kUnknownAgent, target.agent);
  if (target.agent == agent_id || !State::is_active(*to)) {
    return conflict(kAgentUnavailable, "agent " + target.agent + " cannot take it now");
  }
  if (!State::has_free_capacity(*to)) {
    return conflict(kCapacityFull, "agent " + target.agent + " is at capacity");
  }
  // The conversation would wait for that agent alone (pinned_agent), and nobody else could
  // take it: refuse what the agent could never be offered.
  if (!State::matches(c, *to)) {
    return conflict(kNotEligible,
                    "agent " + target.agent + " lacks the skills or the language of " + c.id);
  }
  if (auto cooling = c.cooldown_until.find(to->profile.id);
      cooling != c.cooldown_until.end() && s.clock.now_ms() < cooling->second) {
    return conflict(kNotEligible, "agent " + target.agent + " declined " + c.id + " a moment ago");
  }
  return c.queue;
}

Result<Effects> Router::return_to_bot(std::string_view agent_id, std::string_view conversation_id,
                                      std::string_view note) {
  if (Status status = State::check_codes("", note); !status.is_ok()) return status;
  State& s = *state_;
  Result<Agent*> agent = s.assigned_to(agent_id, conversation_id);
  if (!agent) return agent.status();
  const Ms now = s.begin_step();
  Effects out;

  s.end_assignment(agent_id, conversation_id, "returned", {{"note", note}}, note, now, out);
  return out;
}

Result<Effects> Router::resolve(std::string_view agent_id, std::string_view conversation_id,
                                const Feedback& feedback) {
  if (Status status = State::check_codes(feedback.reason_code, feedback.note); !status.is_ok()) {
    return status;
  }
  State& s = *state_;
  Result<Agent*> agent = s.assigned_to(agent_id, conversation_id);
  if (!agent) return agent.status();
  const Ms now = s.begin_step();
  Effects out;

  const Json data = {{"justified", to_string(feedback.justified)},
                     {"reason_code", feedback.reason_code},
                     {"note", feedback.note}};
  s.end_assignment(agent_id, conversation_id, "resolved", data, "", now, out);
  return out;
}

Result<Effects> Router::cancel(std::string_view conversation_id, std::string_view reason_code) {
  if (Status status = State::check_codes(reason_code, ""); !status.is_ok()) return status;
  State& s = *state_;
  Conversation* c = s.find_conversation(conversation_id);
  if (c == nullptr) {
    return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
  }
  if (!c->assigned_agent.empty()) {
    return conflict(kAlreadyAssigned, "conversation " + c->id + " is with an agent");
  }
  const Ms now = s.begin_step();
  Effects out;

  std::string id = c->id;
  std::vector<std::string> freed = s.revoke_all(*c, "cancelled", now, out);
  s.emit(out, "cancelled", id, "", now,
         {{"reason", reason_code.empty() ? "unspecified" : std::string(reason_code)}});
  for (const std::string& agent : freed) s.offer_to_agent(agent, now, out);
  s.finish(now, out);
  return out;
}

Effects Router::tick(std::int64_t now_ms) {
  State& s = *state_;
  s.used = true;
  Effects out;
  while (!s.timers.empty() && s.timers.top().at <= now_ms) {
    Timer timer = s.timers.top();
    s.timers.pop();
    s.run_timer(timer, now_ms, out);
  }
  s.prune_closed(now_ms);
  s.finish(now_ms, out);
  return out;
}

std::optional<std::int64_t> Router::next_deadline_ms() const {
  if (state_->timers.empty()) return std::nullopt;
  return state_->timers.top().at;
}

// ---- Restore ----------------------------------------------------------------------------------

Status Router::restore(std::span<const Event> events, const SnapshotLookup& snapshots) {
  State& s = *state_;
  if (s.used) return conflict(kNotRestorable, "restore() needs a router that has seen no input");
  s.used = true;
  for (std::size_t i = 0; i < events.size(); ++i) {
    try {
      s.apply(events[i]);
    } catch (const std::exception& e) {
      // nlohmann::json reports missing or mistyped fields by exception; ReplayError the rest.
      return fail(StatusCode::kInvalidArgument, kInvalidArgument,
                  "event " + std::to_string(i) + " (" + events[i].type + "): " + e.what());
    }
  }

  Ms now = s.clock.now_ms();
  for (auto& [id, conversation] : s.conversations) {
    std::shared_ptr<const std::string> snapshot = snapshots ? snapshots(id) : nullptr;
    conversation->snapshot = snapshot ? snapshot : std::make_shared<const std::string>();
  }
  // Nobody is connected to a process that just started: assignments wait for the grace.
  for (auto& [id, agent] : s.agents) {
    if (!agent.connected) continue;
    agent.connected = false;
    ++agent.generation;
    agent.grace_until_ms = now + s.config.reconnect_grace_s * 1000;
    s.refresh(agent);
    s.recount(agent);
    s.schedule_grace(agent);
  }
  return Status::ok();
}

// ---- Views ------------------------------------------------------------------------------------

std::vector<QueueView> Router::queues_view() const {
  const State& s = *state_;
  Ms now = s.clock.now_ms();
  std::vector<QueueView> views;
  for (const QueueConfig& config : s.config.queues) {
    const QueueState& queue = s.queues.find(config.name)->second;
    QueueView view;
    view.name = config.name;
    view.waiting = static_cast<std::int64_t>(queue.waiting.size());
    for (const WaitKey& key : queue.waiting) {
      Ms waited_s = (now - key.conversation->enqueued_ms) / 1000;
      view.oldest_wait_s = std::max(view.oldest_wait_s, waited_s);
    }
    view.agents_online = queue.agents_online;
    view.agents_available = queue.agents_available;
    if (queue.average_wait_s >= 0) {
      view.average_wait_s = static_cast<std::int64_t>(std::lround(queue.average_wait_s));
    }
    view.open = config.hours.is_open(now);
    views.push_back(std::move(view));
  }
  return views;
}

std::vector<AgentView> Router::agents_view() const {
  std::vector<AgentView> views;
  for (const auto& [id, agent] : state_->agents) {
    AgentView view;
    view.id = id;
    view.display_name = agent.profile.display_name;
    view.presence = agent.presence;
    view.connected = agent.connected;
    view.load = agent.load;
    view.open_offers = static_cast<int>(agent.offers.size());
    view.capacity = agent.profile.capacity;
    views.push_back(std::move(view));
  }
  return views;
}

Result<PositionView> Router::position(std::string_view conversation_id) const {
  const State& s = *state_;
  auto it = s.conversations.find(std::string(conversation_id));
  if (it == s.conversations.end()) {
    return fail(StatusCode::kNotFound, kUnknownConversation, std::string(conversation_id));
  }
  const Conversation& c = *it->second;
  PositionView view;
  view.queue = c.queue;
  view.assigned_agent = c.assigned_agent;
  if (c.in_queue) {
    const QueueState& queue = s.queues.find(c.queue)->second;
    view.position = s.position_of(queue, c);
    view.estimated_wait_s =
        s.could_be_taken(c, s.clock.now_ms()) ? s.estimate_s(queue, view.position) : -1;
  }
  return view;
}

bool Router::has_open_offer(std::string_view agent_id, std::string_view conversation_id) const {
  const State& s = *state_;
  auto it = s.conversations.find(std::string(conversation_id));
  if (it == s.conversations.end()) return false;
  const Ms now = s.clock.now_ms();
  const auto& offers = it->second->offers;
  return std::any_of(offers.begin(), offers.end(), [&](const Offer& offer) {
    return offer.agent == agent_id && now < offer.expires_at_ms;
  });
}

}  // namespace handover::routing

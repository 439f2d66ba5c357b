// The narrator's worker: public events in, system turns out, with a durable cursor.
#include "handover/messages/narrator.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "handover/agents/agent_service.hpp"
#include "handover/api/api.hpp"
#include "handover/messages/catalog.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/scheduling.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::messages {
namespace {

using nlohmann::json;

constexpr const char* kCursor = "narrator";
constexpr std::size_t kPage = 500;
constexpr std::int64_t kWaitingEveryMs = 60'000;  // at most one "you moved up" a minute

// What to say about one event: a message key, its placeholders and extra metadata.
struct Telling {
  std::string key;
  Params params;
  json metadata = json::object();
};

json choices() {
  json out = json::array();
  for (const char* choice : kChoices) out.push_back(choice);
  return out;
}

}  // namespace

struct Narrator::Impl {
  NarratorDeps deps;
  feed::Hub* hub = nullptr;
  feed::Hub::Subscription subscription;
  std::thread worker;

  std::mutex mu;
  std::condition_variable ready;
  std::condition_variable idle;
  std::deque<feed::Event> queue;
  bool stopping = false;
  bool busy = false;
  std::int64_t caught_up_to = 0;  // the worker skips stored events up to this id

  struct Waiting {
    std::int64_t position = 0;
    std::int64_t told_at_ms = 0;
  };
  // Written only by handle(), which runs while `busy` is set; read by the worker and, while
  // the worker is idle, by enqueue() under mu.
  std::unordered_map<std::string, Waiting> waiting;

  explicit Impl(NarratorDeps d) : deps(std::move(d)) {}

  void enqueue(const feed::Event& event) {
    const bool turn = event.type == feed::kTurnCreated;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      if (turn && !ends_a_wait(event)) return;  // nearly every turn: nothing copied
      queue.push_back(turn ? slim(event) : event);
    }
    ready.notify_one();
  }

  // A new turn only ends a wait, when it finds the conversation back with the bot (see
  // handle()); any other turn changes nothing, and need not wake the worker. While the worker
  // is idle with nothing queued, `waiting` is as handle() left it, so a turn of a conversation
  // nobody waits in changes nothing either. Together that is nearly every turn: those of
  // conversations with the bot and nobody waiting, and those of conversations still waiting
  // or with an agent. Called with mu held.
  bool ends_a_wait(const feed::Event& turn) const {
    const auto state = turn.data.find("state");
    if (state == turn.data.end() || *state != agents::kStateBot) return false;
    if (busy || !queue.empty()) return true;
    return waiting.contains(turn.conversation_id);
  }

  // Of a new turn the worker needs only the conversation's state (see handle()); the turn and
  // the rest of its data would sit in the queue for nothing while the worker catches up.
  static feed::Event slim(const feed::Event& event) {
    feed::Event kept;
    kept.id = event.id;
    kept.type = event.type;
    kept.conversation_id = event.conversation_id;
    kept.created_at_ms = event.created_at_ms;
    if (auto state = event.data.find("state"); state != event.data.end()) {
      kept.data["state"] = *state;
    }
    return kept;
  }

  // The conversation's language; when it was created without one ("und"), the language
  // the trigger engine read in the user's latest turns.
  std::string language_of(const std::string& conversation_id) {
    auto conversation = deps.store.get_conversation(conversation_id);
    if (!conversation) return std::string();
    if (!conversation->language.empty() && conversation->language != "und") {
      return conversation->language;
    }
    constexpr std::int64_t kLookBack = 20;
    auto turns = deps.store.list_turns(
        conversation_id, std::max<std::int64_t>(0, conversation->last_seq - kLookBack), kLookBack);
    if (!turns) return conversation->language;
    for (auto it = turns->rbegin(); it != turns->rend(); ++it) {
      if (it->role != "user" || it->evaluation_json.empty()) continue;
      const json evaluation = json::parse(it->evaluation_json, nullptr, false);
      if (!evaluation.is_object() || !evaluation.contains("signals")) continue;
      const std::string detected = evaluation["signals"].value("language", std::string());
      if (!detected.empty()) return detected;
    }
    return conversation->language;
  }

  // True when at least one agent who could take the queue's conversations is online and not
  // away: with everyone away an estimate would be invented as well.
  bool anyone_available(const std::string& queue_name) {
    if (!deps.agents) return true;
    // Held in a local: a range-for over a member of the returned temporary would read it
    // after its end.
    const json views = deps.agents->queues_view();
    for (const auto& view : views.value("queues", json::array())) {
      if (view.value("name", std::string()) == queue_name)
        return view.value("agents_available", 0) > 0;
    }
    return true;
  }

  std::string wait_params(const std::string& conversation_id, std::string_view language,
                          Params& params) {
    std::int64_t position = 1;
    std::int64_t wait_s = -1;
    if (deps.agents) {
      if (auto at = deps.agents->position(conversation_id); at && at->position > 0) {
        position = at->position;
        // With nobody online an estimate would be invented: the wait is not known.
        wait_s = anyone_available(at->queue) ? at->estimated_wait_s : -1;
      }
    }
    params.emplace_back("position", std::to_string(position));
    params.emplace_back("wait", deps.catalog.wait_text(wait_s, language));
    return std::to_string(position);
  }

  // The message for a stored event; empty key for events the user is not told about.
  Telling telling_for(const feed::Event& event, std::string_view language) {
    Telling t;
    const json& data = event.data;
    const std::string type = event.type;
    if (type == feed::kHandoverRequested) {
      // Outside business hours (or with the queue closed) routing keeps nothing and the
      // conversation stays with the bot: the no_agent message that follows says so.
      if (deps.agents && !deps.agents->position(event.conversation_id)) return t;
      t.key = "handover.announce";
      wait_params(event.conversation_id, language, t.params);
      t.params.emplace_back("notice", deps.notice ? deps.notice(language) : std::string());
    } else if (type == feed::kHandoverAccepted) {
      t.key = "agent.joined";
      std::string name;
      if (auto agent = data.find("agent"); agent != data.end() && agent->is_object()) {
        name = agent->value("display_name", std::string());
      }
      t.params.emplace_back("agent", name.empty() ? std::string("…") : name);
      t.metadata["agent"] = name;
    } else if (type == feed::kHandoverTransferred) {
      t.key = "handover.transferred";
    } else if (type == feed::kHandoverRequeued) {
      t.key = "handover.requeued";
    } else if (type == feed::kHandoverReturned) {
      t.key = "handover.returned";
    } else if (type == feed::kHandoverResolved) {
      t.key = "handover.resolved";
      t.metadata["rating"] = {{"min", 1}, {"max", 5}};
    } else if (type == feed::kHandoverCancelled) {
      const std::string reason = data.value("reason", std::string());
      if (reason == "back_to_bot") t.key = "handover.cancelled";
      // The team ended a wait nobody answered: nobody is coming, and the bot carries on.
      if (reason == agents::kWaitEndedByAdmin) t.key = "no_agent.stay_with_bot";
    } else if (type == feed::kHandoverChoice) {
      if (data.value("choice", std::string()) == "leave_contact") t.key = "contact.thanks";
    } else if (type == feed::kHandoverNoAgent) {
      if (data.value("queued", false)) {
        // Agents online who all declined it (or handed it on) are not "nobody online".
        const bool cooling = data.value("reason", std::string()) == "no_agent_eligible";
        t.key = cooling ? "no_agent.none_eligible" : "no_agent.online_none";
        t.metadata["choices"] = choices();
      } else {
        const std::string path = data.value("path", std::string());
        t.key = path == "ask_contact"     ? "no_agent.ask_contact"
                : path == "stay_with_bot" ? "no_agent.stay_with_bot"
                                          : "no_agent.offline";
        if (path == "ask_contact") t.metadata["choices"] = json::array({"leave_contact"});
      }
    } else if (type == feed::kHandoverWaitLimit) {
      t.key = "wait_limit";
      t.metadata["choices"] = choices();
    } else if (type == feed::kHandoverRated) {
      t.key = "rating.thanks";
    }
    return t;
  }

  // A better place in the queue, told at most once a minute.
  std::optional<Telling> telling_for_position(const feed::Event& event, std::string_view language) {
    const std::int64_t position = event.data.value("position", std::int64_t{0});
    const std::int64_t now = deps.clock.now_ms();
    // Places are told only after the announcement, which gives the first one.
    auto found = waiting.find(event.conversation_id);
    if (found == waiting.end()) return std::nullopt;
    Waiting& w = found->second;
    const bool improved = w.position == 0 || position < w.position;
    if (position <= 0 || !improved || now - w.told_at_ms < kWaitingEveryMs) {
      if (w.position == 0) w = Waiting{position, now};
      return std::nullopt;
    }
    w = Waiting{position, now};
    Telling t;
    t.key = "handover.waiting";
    t.params.emplace_back("position", std::to_string(position));
    // null while nobody who could take it is available: the wait is not known.
    const auto estimate = event.data.find("estimated_wait_s");
    const std::int64_t wait_s = estimate != event.data.end() && estimate->is_number_integer()
                                    ? estimate->get<std::int64_t>()
                                    : -1;
    t.params.emplace_back("wait", deps.catalog.wait_text(wait_s, language));
    return t;
  }

  // Posts the system turn and waits for it, so turns follow event order.
  bool tell(const feed::Event& event, const Telling& t, std::string_view language) {
    api::ServerTurn turn;
    turn.conversation_id = event.conversation_id;
    turn.role = "system";
    turn.text = deps.catalog.render(t.key, language, t.params);
    json metadata = t.metadata;
    metadata["message"] = t.key;
    turn.metadata = std::move(metadata);
    // Stored events give an idempotent turn id; the live queue position has none.
    if (!event.transient()) {
      turn.client_turn_id = std::string(store::kNarratorTurnIdPrefix) + std::to_string(event.id);
    }
    std::promise<Status> posted;
    deps.poster.post(std::move(turn), [&posted](Result<api::ServerTurnResult> r) {
      posted.set_value(r ? Status::ok() : r.status());
    });
    const Status status = posted.get_future().get();
    if (!status.is_ok()) {
      spdlog::warn("narrator: message {} not posted conv={}: {}", t.key, event.conversation_id,
                   status.message());
    }
    return status.is_ok() || status.code() == StatusCode::kNotFound;
  }

  void handle(const feed::Event& event) {
    if (event.type == feed::kTurnCreated) {
      // Back with the bot: a later wait starts its "you moved up" messages afresh.
      if (event.data.value("state", std::string()) == "bot") waiting.erase(event.conversation_id);
      return;
    }
    const std::string language = language_of(event.conversation_id);
    if (event.transient()) {
      if (event.type != feed::kQueuePosition) return;
      if (auto t = telling_for_position(event, language)) tell(event, *t, language);
      return;
    }
    const Telling t = telling_for(event, language);
    // A wait starts with its own notice, which gives the first place: places published
    // before it (a requeue publishes the new place first) belong to no wait the user knows.
    if (event.type == feed::kHandoverRequested || event.type == feed::kHandoverRequeued ||
        event.type == feed::kHandoverTransferred) {
      waiting[event.conversation_id] = Waiting{0, deps.clock.now_ms()};
    } else if (event.type == feed::kHandoverAccepted) {
      waiting.erase(event.conversation_id);
    }
    const bool told = t.key.empty() || tell(event, t, language);
    // The agent's first words waited for this notice (AgentService::set_join_notices()).
    if (event.type == feed::kHandoverAccepted && deps.agents) {
      deps.agents->join_announced(event.conversation_id);
    }
    if (!told) return;  // retold from the cursor later
    if (t.key.empty()) return;
    std::promise<void> stored;
    deps.store.put_cursor(kCursor, event.id, [&stored](Result<bool> r) {
      if (!r) spdlog::warn("narrator: cursor not stored: {}", r.status().message());
      stored.set_value();
    });
    stored.get_future().wait();
  }

  // Tells what a stop left untold. Without a cursor (the first start) nothing is retold.
  void catch_up() {
    auto cursor = deps.store.get_cursor(kCursor);
    if (!cursor) return;
    std::int64_t after = *cursor;
    for (;;) {
      auto page = hub->history("", after, kPage);
      if (!page) {
        spdlog::warn("narrator: cannot read the event history: {}", page.status().message());
        return;
      }
      for (const auto& event : *page) {
        handle(event);
        after = event.id;
      }
      {
        std::lock_guard lock(mu);
        caught_up_to = after;
      }
      if (page->size() < kPage) return;
    }
  }

  void run() {
    set_thread_name("narrator");
    schedule_as_batch_work();
    {
      std::lock_guard lock(mu);
      busy = true;  // handle() runs in catch_up() too
    }
    catch_up();
    std::unique_lock lock(mu);
    busy = false;
    idle.notify_all();
    for (;;) {
      ready.wait(lock, [this] { return stopping || !queue.empty(); });
      if (stopping) return;
      feed::Event event = std::move(queue.front());
      queue.pop_front();
      if (!event.transient() && event.id <= caught_up_to) continue;
      busy = true;
      lock.unlock();
      try {
        handle(event);
      } catch (const std::exception& e) {
        spdlog::error("narrator: event {} not handled: {}", event.type, e.what());
      }
      lock.lock();
      busy = false;
      idle.notify_all();
    }
  }
};

Narrator::Narrator(NarratorDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {}

Narrator::~Narrator() { stop(); }

Status Narrator::start(feed::Hub& hub) {
  Impl* impl = impl_.get();
  impl->hub = &hub;
  if (impl->deps.agents) impl->deps.agents->set_join_notices(true);
  impl->subscription = hub.subscribe("", [impl](const feed::Event& e) { impl->enqueue(e); });
  impl->worker = std::thread([impl] { impl->run(); });
  return Status::ok();
}

void Narrator::stop() {
  impl_->subscription.reset();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->ready.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void Narrator::drain_for_test() {
  std::unique_lock lock(impl_->mu);
  impl_->idle.wait(lock,
                   [this] { return impl_->stopping || (impl_->queue.empty() && !impl_->busy); });
}

}  // namespace handover::messages

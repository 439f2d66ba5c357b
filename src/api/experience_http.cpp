// What the user answers back to the handover: the choice while waiting
// (POST /v1/conversations/{id}/choice) and the rating after a resolved handover
// (POST /v1/conversations/{id}/rating).
#include <nlohmann/json.hpp>

#include <cmath>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "context.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/privacy/masker.hpp"
#include "validation.hpp"

namespace handover::api {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxComment = 2000;
constexpr std::size_t kEventPage = 1000;

http::Response state_conflict(std::string detail) {
  return http::problem(409, "conversation-state", "Not possible in this state", detail);
}

// The latest resolution of the conversation and whether it was rated since.
struct LastResolution {
  std::int64_t event_id = 0;  // 0: never resolved
  std::string agent_id;
  bool rated = false;
  json rating;  // the stored rating, with its event id, when rated
};

// Conversations with an answer of the user being checked and stored: a second request
// meanwhile is refused, so two racing requests cannot both pass the check of what is stored.
class AnswersInFlight {
 public:
  bool begin(const std::string& conversation) {
    std::lock_guard lock(mu_);
    return ids_.insert(conversation).second;
  }
  void end(const std::string& conversation) {
    std::lock_guard lock(mu_);
    ids_.erase(conversation);
  }

 private:
  std::mutex mu_;
  std::set<std::string> ids_;
};

// One resolution gets one rating.
AnswersInFlight& ratings_in_flight() {
  static AnswersInFlight in_flight;
  return in_flight;
}

// One wait gets one answer: contact details left twice would be called back twice.
AnswersInFlight& choices_in_flight() {
  static AnswersInFlight in_flight;
  return in_flight;
}

// Calls `visit` with each of the conversation's events, oldest first, a page at a time.
template <typename Visit>
Status each_event(store::Store& store, const std::string& conversation, Visit visit) {
  store::EventQuery query;
  query.conversation_id = conversation;
  query.limit = kEventPage;
  for (;;) {
    auto page = store.list_events(query);
    if (!page) return page.status();
    for (const auto& event : *page) visit(event);
    if (page->size() < kEventPage) return Status::ok();
    query.after_id = page->back().id;
  }
}

Result<LastResolution> last_resolution(store::Store& store, const std::string& conversation) {
  LastResolution last;
  Status read = each_event(store, conversation, [&last](const store::EventRecord& event) {
    if (event.type == "routing.resolved") {
      const json data = json::parse(event.data_json, nullptr, false);
      last.event_id = event.id;
      last.agent_id = data.is_object() ? data.value("agent_id", std::string()) : std::string();
      last.rated = false;
    } else if (event.type == "handover.rated") {
      last.rated = true;
      last.rating = json::parse(event.data_json, nullptr, false);
      if (last.rating.is_object()) last.rating["id"] = event.id;
    }
  });
  if (!read.is_ok()) return read;
  return last;
}

// The choices the user is offered while waiting, as the narrator tells them.
constexpr const char* kWaitingChoices[] = {"keep_waiting", "leave_contact", "back_to_bot"};
// Events after which no earlier offer applies: a new wait, a person took the conversation,
// or the wait ended.
constexpr std::string_view kOfferEnds[] = {
    "handover.escalated", "handover.requested",  "routing.accepted",
    "routing.claimed",    "routing.transferred", "routing.requeued",
    "routing.returned",   "routing.resolved",    "routing.cancelled"};

// The choices open after `event`, given those open before it. The narrator offers them with
// routing.no_agent and routing.wait_limit_reached (docs/api.md, "What the user is told").
std::set<std::string> choices_after(const store::EventRecord& event, std::set<std::string> open) {
  const std::set<std::string> all(std::begin(kWaitingChoices), std::end(kWaitingChoices));
  if (event.type == "routing.wait_limit_reached") return all;
  const json stored = json::parse(event.data_json, nullptr, false);
  if (event.type == "routing.no_agent") {
    const json data = stored.is_object() ? stored.value("data", json::object()) : json::object();
    if (!data.is_object()) return {};
    if (data.value("queued", false)) return all;
    if (data.value("path", std::string()) == "ask_contact") return {"leave_contact"};
    return {};
  }
  // Contact details are left once; waiting on leaves the other answers open.
  if (event.type == "handover.choice" && stored.is_object() &&
      stored.value("choice", std::string()) == "leave_contact") {
    return {};
  }
  for (std::string_view ends : kOfferEnds) {
    if (event.type == ends) return {};
  }
  return open;
}

// The choices the user may answer now, from the conversation's events.
Result<std::set<std::string>> offered_choices(store::Store& store,
                                              const std::string& conversation) {
  std::set<std::string> open;
  Status read = each_event(store, conversation, [&open](const store::EventRecord& event) {
    open = choices_after(event, std::move(open));
  });
  if (!read.is_ok()) return read;
  return open;
}

void record_choice(ApiContext& ctx, const store::ConversationRecord& conv, std::string choice,
                   json contact, const http::Responder& respond) {
  store::EventRecord event;
  event.conversation_id = conv.id;
  event.type = "handover.choice";
  json data = {{"choice", choice}};
  if (!contact.empty()) data["contact"] = std::move(contact);
  event.data_json = data.dump();
  ctx.store.append_events({std::move(event)}, [respond, conv, choice](auto stored) {
    if (!stored) return respond(store_problem(stored.status()));
    respond(json_response(200, json{{"choice", choice}, {"state", conv.state}}.dump()));
  });
}

// The contact details of a leave_contact choice: at least an e-mail address or a phone
// number. They are kept as given, like the customer profile's own fields, so the team can
// call back (docs/privacy.md).
json read_contact(Validator& v, const json& body) {
  json contact = json::object();
  const json* given = v.object(body, "", "contact");
  if (!given) {
    v.fail("/contact", "leave_contact needs contact details: an email or a phone number");
    return contact;
  }
  v.allow_only(*given, "/contact", {"name", "email", "phone"});
  for (const char* key : {"name", "email", "phone"}) {
    if (auto value = v.string(*given, "/contact", key, false, 256)) contact[key] = *value;
  }
  if (v.ok() && !contact.contains("email") && !contact.contains("phone")) {
    v.fail("/contact", "give an email or a phone number");
  }
  return contact;
}

// Checks that the user was offered `choice` and records it: contact details, a wish to keep
// waiting, or the end of the wait. `respond` is called once.
void record_open_choice(ApiContext& ctx, const store::ConversationRecord& conv,
                        const std::string& choice, json contact, const http::Responder& respond) {
  auto open = offered_choices(ctx.store, conv.id);
  if (!open) return respond(store_problem(open.status()));
  if (!open->contains(choice)) {
    return respond(state_conflict("the user of conversation " + conv.id +
                                  " was not offered the choice '" + choice + "'"));
  }
  // Contact details left with the bot (the queue's ask_contact path): there is no wait to end.
  if (conv.state == agents::kStateBot) {
    return record_choice(ctx, conv, choice, std::move(contact), respond);
  }
  if (choice == "keep_waiting") return record_choice(ctx, conv, choice, {}, respond);
  auto cancel = [&ctx, respond, choice, id = conv.id] {
    // Leaving contact details or going back both end the wait; the reason tells the user
    // (and the analytics) which.
    ctx.agents->cancel_waiting(id, choice, [&ctx, respond, choice, id](Status status) {
      if (status.code() == StatusCode::kConflict && choice == "leave_contact") {
        // The wait ended meanwhile (a person took the conversation, or an admin ended it), but
        // the details are stored and the team will call back: the user is not told it failed.
        const std::string state = ctx.agents->state_of(id);
        return respond(json_response(200, json{{"choice", choice}, {"state", state}}.dump()));
      }
      if (status.code() == StatusCode::kConflict) return respond(state_conflict(status.message()));
      if (!status.is_ok()) return respond(store_problem(status));
      respond(json_response(200, json{{"choice", choice}, {"state", agents::kStateBot}}.dump()));
    });
  };
  if (choice == "back_to_bot") return cancel();
  // The contact details are stored first: the wait ends only once they are safe.
  store::EventRecord event;
  event.conversation_id = conv.id;
  event.type = "handover.choice";
  event.data_json = json{{"choice", choice}, {"contact", contact}}.dump();
  ctx.store.append_events({std::move(event)}, [respond, cancel](auto stored) {
    if (!stored) return respond(store_problem(stored.status()));
    cancel();
  });
}

}  // namespace

void post_choice(ApiContext& ctx, Call& call, http::Responder respond) {
  auto conv = load_authorized(ctx, call, kScopeBot, respond);
  if (!conv) return;
  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  v.allow_only(body, "", {"choice", "contact"});
  const std::string choice = v.string(body, "", "choice", true, 32).value_or("");
  if (v.ok() && choice != "keep_waiting" && choice != "leave_contact" && choice != "back_to_bot") {
    v.fail("/choice", "expected 'keep_waiting', 'leave_contact' or 'back_to_bot'");
  }
  json contact = json::object();
  if (v.ok() && choice == "leave_contact") contact = read_contact(v, body);
  if (v.ok() && choice != "leave_contact" && body.contains("contact")) {
    v.fail("/contact", "only leave_contact takes contact details");
  }
  if (!v.ok()) return respond(validation_problem(v.errors()));
  const bool waiting = conv->state == agents::kStateQueued && ctx.agents != nullptr;
  // Contact details may also be left when nobody could take the conversation at all
  // (the queue's ask_contact path leaves it with the bot).
  const bool contact_from_bot = choice == "leave_contact" && conv->state == agents::kStateBot;
  if (!waiting && !contact_from_bot) {
    return respond(state_conflict("conversation " + conv->id + " is in state '" + conv->state +
                                  "'; the choice is for a conversation waiting in a queue"));
  }
  // Held from reading the offered choices until the answer is stored and the wait ended.
  if (!choices_in_flight().begin(conv->id)) {
    return respond(state_conflict("a choice of conversation " + conv->id + " is being stored"));
  }
  http::Responder respond_once = [id = conv->id, respond](http::Response r) {
    choices_in_flight().end(id);
    respond(std::move(r));
  };
  record_open_choice(ctx, *conv, choice, std::move(contact), respond_once);
}

void post_rating(ApiContext& ctx, Call& call, http::Responder respond) {
  auto conv = load_authorized(ctx, call, kScopeBot, respond);
  if (!conv) return;
  json body;
  if (auto bad = parse_json_object(call.request, body)) return respond(std::move(*bad));
  Validator v;
  v.allow_only(body, "", {"rating", "comment"});
  const double rating = v.number(body, "", "rating", true, 1, 5).value_or(0);
  if (v.ok() && std::floor(rating) != rating) v.fail("/rating", "expected a whole number 1 to 5");
  std::string comment = v.string(body, "", "comment", false, kMaxComment, true).value_or("");
  if (!v.ok()) return respond(validation_problem(v.errors()));

  // The comment is the user's own text: it is stored as the store policy masks it.
  comment = ctx.masker.mask(comment, privacy::Destination::kStore).text;
  if (!ratings_in_flight().begin(conv->id)) {
    return respond(state_conflict("a rating of conversation " + conv->id + " is being stored"));
  }
  auto done = [id = conv->id, respond](http::Response r) {
    ratings_in_flight().end(id);
    respond(std::move(r));
  };
  // The user sees who helped by the display name in the events; the agent's id is internal.
  const bool end_user = call.principal.kind == Principal::Kind::kBearer;
  auto answer = [end_user](json stored) {
    if (end_user) stored.erase("agent_id");
    return stored.dump();
  };
  auto last = last_resolution(ctx.store, conv->id);
  if (!last) return done(store_problem(last.status()));
  if (last->event_id == 0) {
    return done(state_conflict("conversation " + conv->id + " has no resolved handover to rate"));
  }
  if (last->rated) {
    // A client retrying the request it sent is told it was stored.
    const bool same = last->rating.is_object() &&
                      last->rating.value("rating", 0) == static_cast<int>(rating) &&
                      last->rating.value("comment", std::string()) == comment;
    if (same) return done(json_response(200, answer(last->rating)));
    return done(state_conflict("the latest handover of conversation " + conv->id +
                               " is rated already"));
  }
  store::EventRecord event;
  event.conversation_id = conv->id;
  event.agent_id = last->agent_id;
  event.type = "handover.rated";
  const json data = {{"rating", static_cast<int>(rating)},
                     {"comment", comment},
                     {"agent_id", last->agent_id},
                     {"resolved_event_id", last->event_id}};
  event.data_json = data.dump();
  ctx.store.append_events({std::move(event)}, [done, answer, data](auto stored) {
    if (!stored) return done(store_problem(stored.status()));
    json out = data;
    out["id"] = stored->front().id;
    done(json_response(201, answer(std::move(out))));
  });
}

}  // namespace handover::api

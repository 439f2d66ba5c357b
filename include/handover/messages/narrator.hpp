// The narrator tells the user what happens to the conversation: it follows the public event
// feed and posts a `system` turn, in the conversation's language, at every step of a
// handover (announcement with queue place and wait, a person joining, transfer, return to
// the bot, resolution with the rating request, no agent available, the wait limit).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "handover/feed/feed.hpp"
#include "handover/util/status.hpp"

namespace handover {
class Clock;
namespace api {
class TurnPoster;
}
namespace agents {
class AgentService;
}
namespace store {
class Store;
}
}  // namespace handover

namespace handover::messages {

class Catalog;

// The choices a waiting user is offered (POST /v1/conversations/{id}/choice).
inline constexpr const char* kChoices[] = {"keep_waiting", "leave_contact", "back_to_bot"};

struct NarratorDeps {
  api::TurnPoster& poster;
  store::Store& store;  // conversation languages and the narrator's cursor
  const Catalog& catalog;
  agents::AgentService* agents = nullptr;  // the queue place for the announcement; may be null
  // The privacy notice that a person will now read the conversation, for {notice}.
  std::function<std::string(std::string_view language)> notice;
  const Clock& clock;
};

// Thread-safety: on_event may be called from any thread (the Hub's dispatcher); it only
// queues. One worker thread posts the turns, in event order.
class Narrator {
 public:
  explicit Narrator(NarratorDeps deps);  // the dependencies must outlive the narrator
  ~Narrator();                           // calls stop()
  Narrator(const Narrator&) = delete;
  Narrator& operator=(const Narrator&) = delete;

  // Subscribes to `hub`, then catches up on the stored events after its cursor (those a
  // stop or crash left untold; system turns carry the event id as their turn id, so nothing
  // is told twice) and then follows the live events. Call once.
  Status start(feed::Hub& hub);
  // Unsubscribes and joins the worker. Events queued but not yet told are told after the
  // next start, from the cursor.
  void stop();

  // Blocks until every event queued before the call was handled and its turn posted (tests).
  void drain_for_test();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::messages

// Bot connectors: for channels whose widget posts only user turns, the server asks the
// channel's bot (built-in FAQ or a webhook) and posts its replies as bot turns.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handover/api/api.hpp"
#include "handover/config/server_config.hpp"
#include "handover/connector/bot.hpp"
#include "handover/feed/feed.hpp"
#include "handover/store/store.hpp"
#include "handover/util/status.hpp"

namespace handover::http {
class Client;
}
namespace handover::metrics {
class Registry;
}

namespace handover::connector {

// Reads a conversation (its channel, language and current state). Thread-safe.
using ConversationLookup =
    std::function<Result<store::ConversationRecord>(const std::string& conversation_id)>;

// The text that tells a user, in `language`, that the bot cannot answer right now.
using MessageText = std::function<std::string(std::string_view language)>;

struct ConnectorDeps {
  api::TurnPoster& poster;
  ConversationLookup lookup;
  metrics::Registry& metrics;
  http::Client* client = nullptr;  // needed by webhook connectors; must outlive the service
  MessageText unavailable_text;    // empty: default_unavailable_text
  std::size_t max_text_bytes = 8192;  // longest reply text accepted from a webhook bot
};

// The built-in German or English (for any other language) "bot unavailable" text.
std::string default_unavailable_text(std::string_view language);

// Answers user turns of conversations the bot has (state "bot"): one question at a time per
// conversation, in turn order, on its own worker thread. Replies are posted with
// client_turn_id "bot-reply:<user seq>" (":<n>" appended for the second and later replies),
// so a repeated question cannot post twice; a reply that meets a person (Conflict) is dropped.
// When a webhook bot cannot be reached, the user gets a system turn with the
// unavailable text, metadata {"message": "bot_unavailable"} and bot {"unreachable": true},
// which the trigger rules see as uncertainty.bot_unreachable.
class ConnectorService {
 public:
  // A bot for every connector whose type is not "none". InvalidArgument when a FAQ file does
  // not load or a webhook connector has a bad URL or no client.
  static Result<std::unique_ptr<ConnectorService>> create(
      const std::vector<config::ConnectorConfig>& connectors, ConnectorDeps deps);

  // Bots by channel, given directly (tests). Starts the worker.
  ConnectorService(std::map<std::string, std::shared_ptr<Bot>> bots, ConnectorDeps deps);
  ~ConnectorService();  // calls stop()
  ConnectorService(const ConnectorService&) = delete;
  ConnectorService& operator=(const ConnectorService&) = delete;

  // Takes one feed event; acts on turn.created of a user turn in state "bot". Never blocks:
  // the work goes to the worker thread. Thread-safe; meant for a Hub listener.
  void on_event(const feed::Event& event);

  // Asks the bots again the questions a stopped process left unanswered (from
  // Store::list_unanswered_user_turns): user turns of conversations with the bot on a channel
  // that has one, unless the triggers escalated them. Replies keep their client_turn_id, so a
  // question answered meanwhile is not answered twice. Returns how many were asked.
  std::size_t ask_again(const std::vector<store::UnfinishedEscalation>& unanswered);

  // Stops the worker; questions not yet answered are dropped. Idempotent. Call before the
  // poster and the client go away; callbacks arriving later do nothing.
  void stop();

  // Blocks until no question is waiting or being answered (tests).
  void drain_for_test();

  // Channels that have a bot, sorted.
  std::vector<std::string> channels() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace handover::connector

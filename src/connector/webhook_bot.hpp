// A bot behind an HTTP endpoint: the request and reply shapes (handover's own and the Rasa
// REST channel's) and the exchange with timeouts and retries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "handover/connector/bot.hpp"
#include "handover/http/client.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/util/url.hpp"

namespace handover::connector {

enum class BotFormat { kHandover, kRasa };

struct WebhookBotOptions {
  url::HttpUrl url;
  BotFormat format = BotFormat::kHandover;
  int timeout_ms = 5000;        // per attempt
  int retries = 2;              // more attempts after a network error, 5xx or 429
  int retry_backoff_ms = 500;   // before the first retry; doubles after each
  std::size_t max_text_bytes = 8192;  // longer reply texts make the reply invalid
};

// The JSON body POSTed for `question`.
std::string bot_request_body(BotFormat format, const BotQuestion& question);

// The replies in a bot's 2xx response body. InvalidArgument (saying what is wrong) when it
// is not the format's shape, a text is empty or longer than `max_text_bytes`, or a
// confidence is not a number from 0 to 1. Rasa items without "text" (images, buttons) are
// skipped.
Result<std::vector<BotReply>> parse_bot_reply(BotFormat format, std::string_view body,
                                              std::size_t max_text_bytes);

// How long to wait before retry number `retry` (1 for the first): backoff_ms * 2^(retry-1),
// at most 30 s.
std::int64_t bot_retry_delay_ms(int backoff_ms, int retry);

class WebhookBot final : public Bot {
 public:
  // `client` must outlive the bot. `failures`, when set, counts failed attempts by reason
  // (connect, timeout, protocol, http_5xx, http_4xx, bad_reply) and must outlive it too.
  WebhookBot(WebhookBotOptions options, http::Client& client,
             metrics::Family<metrics::Counter>* failures);

  // Runs `done` on a client I/O thread: the replies, or Unavailable once the attempts are
  // used up, the bot answered 4xx or a malformed body (those are not retried).
  void ask(BotQuestion question, BotCallback done) override;

 private:
  struct Attempt;
  void send(std::shared_ptr<Attempt> attempt);
  void on_outcome(std::shared_ptr<Attempt> attempt, http::ClientOutcome outcome);
  void count(const char* reason);

  WebhookBotOptions options_;
  http::Client& client_;
  metrics::Family<metrics::Counter>* failures_;
};

}  // namespace handover::connector

// Asking a bot over HTTP: building the request, reading the reply, retrying with backoff.
#include "webhook_bot.hpp"

#include <algorithm>

namespace handover::connector {

namespace {

using nlohmann::json;

constexpr std::int64_t kMaxRetryDelayMs = 30'000;

Status bad_reply(const std::string& why) {
  return Status::invalid_argument("the bot's reply " + why);
}

// True when `text` holds something besides white space, as a posted turn must.
bool has_words(const json& text) {
  if (!text.is_string()) return false;
  return text.get_ref<const std::string&>().find_first_not_of(" \t\r\n") != std::string::npos;
}

// One reply object of the handover format: {text, confidence?, intent?, fallback?, actions?}.
Result<BotReply> read_reply(const json& item, std::size_t index, std::size_t max_text_bytes) {
  const std::string at = "replies[" + std::to_string(index) + "]";
  if (!item.is_object()) return bad_reply(at + " is not an object");
  BotReply reply;
  const auto text = item.find("text");
  if (text == item.end() || !has_words(*text)) return bad_reply(at + " has no text");
  reply.text = text->get<std::string>();
  if (reply.text.size() > max_text_bytes) return bad_reply(at + ".text is too long");
  if (const auto c = item.find("confidence"); c != item.end() && !c->is_null()) {
    if (!c->is_number() || c->get<double>() < 0.0 || c->get<double>() > 1.0) {
      return bad_reply(at + ".confidence is not a number from 0 to 1");
    }
    reply.confidence = c->get<double>();
  }
  if (const auto i = item.find("intent"); i != item.end() && i->is_string()) {
    reply.intent = i->get<std::string>();
  }
  if (const auto f = item.find("fallback"); f != item.end() && f->is_boolean()) {
    reply.fallback = f->get<bool>();
  }
  if (const auto a = item.find("actions"); a != item.end() && a->is_array()) reply.actions = *a;
  return reply;
}

Result<std::vector<BotReply>> read_handover_reply(const json& body, std::size_t max_text_bytes) {
  const auto replies = body.is_object() ? body.find("replies") : body.end();
  if (!body.is_object() || replies == body.end() || !replies->is_array()) {
    return bad_reply("is not an object with a \"replies\" list");
  }
  std::vector<BotReply> out;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    Result<BotReply> reply = read_reply((*replies)[i], i, max_text_bytes);
    if (!reply) return reply.status();
    out.push_back(std::move(reply).value());
  }
  return out;
}

// The Rasa REST channel answers [{"recipient_id", "text"}, {"recipient_id", "image"}, ...].
Result<std::vector<BotReply>> read_rasa_reply(const json& body, std::size_t max_text_bytes) {
  if (!body.is_array()) return bad_reply("is not a list of messages");
  std::vector<BotReply> out;
  for (const json& item : body) {
    if (!item.is_object()) return bad_reply("has a message that is not an object");
    const auto text = item.find("text");
    if (text == item.end() || !has_words(*text)) continue;
    BotReply reply;
    reply.text = text->get<std::string>();
    if (reply.text.size() > max_text_bytes) return bad_reply("has a text that is too long");
    out.push_back(std::move(reply));
  }
  return out;
}

bool retryable_status(int status) { return status >= 500 || status == 429; }

}  // namespace

std::string bot_request_body(BotFormat format, const BotQuestion& question) {
  if (format == BotFormat::kRasa) {
    return json{{"sender", question.conversation_id},
                {"message", question.text},
                {"metadata",
                 {{"language", question.language},
                  {"channel", question.channel},
                  {"suggest_handover", question.suggest_handover}}}}
        .dump();
  }
  return json{{"conversation_id", question.conversation_id},
              {"sender", question.conversation_id},
              {"message", question.text},
              {"language", question.language},
              {"channel", question.channel},
              {"turn", question.turn},
              {"suggest_handover", question.suggest_handover}}
      .dump();
}

Result<std::vector<BotReply>> parse_bot_reply(BotFormat format, std::string_view body,
                                              std::size_t max_text_bytes) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return bad_reply("is not JSON");
  return format == BotFormat::kRasa ? read_rasa_reply(parsed, max_text_bytes)
                                    : read_handover_reply(parsed, max_text_bytes);
}

std::int64_t bot_retry_delay_ms(int backoff_ms, int retry) {
  std::int64_t delay = std::max(1, backoff_ms);
  for (int i = 1; i < retry && delay < kMaxRetryDelayMs; ++i) delay *= 2;
  return std::min(delay, kMaxRetryDelayMs);
}

struct WebhookBot::Attempt {
  http::ClientRequest request;
  BotCallback done;
  int number = 0;  // attempts made so far
};

WebhookBot::WebhookBot(WebhookBotOptions options, http::Client& client,
                       metrics::Family<metrics::Counter>* failures)
    : options_(std::move(options)), client_(client), failures_(failures) {}

void WebhookBot::ask(BotQuestion question, BotCallback done) {
  auto attempt = std::make_shared<Attempt>();
  attempt->request.method = "POST";
  attempt->request.url = options_.url;
  attempt->request.headers = {{"Content-Type", "application/json"},
                              {"Accept", "application/json"}};
  attempt->request.body = bot_request_body(options_.format, question);
  attempt->request.connect_timeout_ms = options_.timeout_ms;
  attempt->request.response_timeout_ms = options_.timeout_ms;
  attempt->done = std::move(done);
  send(std::move(attempt));
}

void WebhookBot::send(std::shared_ptr<Attempt> attempt) {
  ++attempt->number;
  http::ClientRequest request = attempt->request;
  client_.send(std::move(request), [this, attempt](http::ClientOutcome outcome) {
    on_outcome(attempt, std::move(outcome));
  });
}

void WebhookBot::on_outcome(std::shared_ptr<Attempt> attempt, http::ClientOutcome outcome) {
  std::string why;
  bool retry = false;
  if (!outcome.ok()) {
    count(http::client_error_name(outcome.error));
    why = outcome.detail;
    retry = outcome.error != http::ClientError::kStopped;
  } else if (outcome.response.status < 200 || outcome.response.status > 299) {
    const bool server_side = retryable_status(outcome.response.status);
    count(server_side ? "http_5xx" : "http_4xx");
    why = "the bot answered HTTP " + std::to_string(outcome.response.status);
    retry = server_side;
  } else {
    auto replies = parse_bot_reply(options_.format, outcome.response.body, options_.max_text_bytes);
    if (replies) return attempt->done(std::move(replies).value());
    count("bad_reply");
    why = replies.status().message();
  }
  if (retry && attempt->number <= options_.retries) {
    const std::int64_t delay = bot_retry_delay_ms(options_.retry_backoff_ms, attempt->number);
    client_.run_after(delay, [this, attempt] { send(attempt); });
    return;
  }
  attempt->done(Status::unavailable(why + " (after " + std::to_string(attempt->number) +
                                    (attempt->number == 1 ? " attempt)" : " attempts)")));
}

void WebhookBot::count(const char* reason) {
  if (failures_ != nullptr) failures_->with({reason}).inc();
}

}  // namespace handover::connector

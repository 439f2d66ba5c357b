// The connector worker: takes user turns from the feed, asks the channel's bot, posts its
// replies, and tells the user when the bot cannot be reached.
#include "handover/connector/connector.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "handover/connector/faq_bot.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/store/views.hpp"
#include "handover/util/thread_name.hpp"
#include "webhook_bot.hpp"

namespace handover::connector {

namespace {

using nlohmann::json;

constexpr const char* kStateBot = "bot";
constexpr std::int64_t kWarnIntervalMs = 10'000;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reads a stored evaluation only as far as its top-level decision.action, then stops: this
// runs for every user turn, and the rest of the document (signals, evidence) is not needed.
class DecisionReader : public nlohmann::json_sax<json> {
 public:
  std::string action;

  bool null() override { return leaf(); }
  bool boolean(bool) override { return leaf(); }
  bool number_integer(number_integer_t) override { return leaf(); }
  bool number_unsigned(number_unsigned_t) override { return leaf(); }
  bool number_float(number_float_t, const string_t&) override { return leaf(); }
  bool binary(binary_t&) override { return leaf(); }
  bool string(string_t& value) override {
    if (depth_ == 2 && in_decision_ && key_ == "action") {
      action = value;
      return false;  // found: stop reading
    }
    return leaf();
  }
  bool start_object(std::size_t) override { return open(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    key_ = name;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool leaf() {
    key_.clear();
    return true;
  }
  bool open() {
    ++depth_;
    if (depth_ == 2) in_decision_ = key_ == "decision";
    key_.clear();
    return true;
  }
  bool close() {
    if (depth_ == 2 && in_decision_) return false;  // a decision without an action
    --depth_;
    return true;
  }

  int depth_ = 0;
  bool in_decision_ = false;
  std::string key_;
};

// The triggers' decision on the turn: "escalate", "suggest", ... or "" without one.
std::string decision_of(const store::TurnRecord& turn) {
  if (turn.evaluation_json.empty()) return {};
  DecisionReader reader;
  json::sax_parse(turn.evaluation_json, &reader);
  return reader.action;
}

// Whether the triggers decided to hand the turn to a person.
bool escalated(const store::TurnRecord& turn) { return decision_of(turn) == "escalate"; }

// Whether a turn.created event is a user turn for the bot to answer.
bool asks_the_bot(const feed::Event& event) {
  if (event.type != feed::kTurnCreated || event.turn == nullptr) return false;
  if (event.turn->role != "user") return false;
  if (event.data.value("state", std::string()) != kStateBot) return false;
  // A turn the triggers hand to a person is the person's to answer, even while the
  // escalation is still being committed.
  return !escalated(*event.turn);
}

BotQuestion question_of(const std::string& conversation_id, const store::TurnRecord& turn) {
  BotQuestion question;
  question.conversation_id = conversation_id;
  question.seq = turn.seq;
  question.text = turn.text;
  // Without the evaluation: trigger internals are not the bot's business, but what they
  // ask of the bot is.
  question.turn = store::turn_json(turn, store::TurnView::kNoEvaluation);
  question.suggest_handover = decision_of(turn) == "suggest";
  return question;
}

json bot_object(const BotReply& reply) {
  json bot = {{"fallback", reply.fallback}};
  if (reply.confidence) bot["confidence"] = *reply.confidence;
  if (!reply.intent.empty()) bot["intent"] = reply.intent;
  return bot;
}

std::string reply_turn_id(std::int64_t seq, std::size_t index) {
  std::string id = std::string(store::kBotReplyTurnIdPrefix) + std::to_string(seq);
  if (index > 0) id += ":" + std::to_string(index + 1);
  return id;
}

}  // namespace

std::string default_unavailable_text(std::string_view language) {
  if (language.substr(0, language.find('-')) == "de") {
    return "Unser Assistent ist gerade nicht erreichbar. Wir geben Ihr Anliegen an eine "
           "Kollegin oder einen Kollegen weiter.";
  }
  return "Our assistant cannot be reached right now. We are passing your request on to a "
         "colleague.";
}

struct ConnectorService::Impl : std::enable_shared_from_this<Impl> {
  Impl(std::map<std::string, std::shared_ptr<Bot>> bots_in, ConnectorDeps deps_in)
      : bots(std::move(bots_in)),
        deps(std::move(deps_in)),
        replies(deps.metrics.counter("handover_connector_replies_total",
                                     "Bot connector outcomes per user turn: answered, fallback, "
                                     "dropped (a person had the conversation) or unavailable",
                                     {"result"})) {}

  std::map<std::string, std::shared_ptr<Bot>> bots;
  ConnectorDeps deps;
  metrics::Family<metrics::Counter>& replies;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  // Conversations with a question in flight, each with the questions waiting behind it.
  std::map<std::string, std::deque<BotQuestion>> busy;
  // Conversations whose channel no bot serves. A channel never changes, so their later turns
  // are dropped here without reading the conversation again. Bounded: emptied when full.
  static constexpr std::size_t kMaxWithoutBot = 4096;
  std::unordered_set<std::string> without_bot;
  bool stopping = false;
  std::thread worker;
  std::atomic<std::int64_t> last_warn_ms{0};

  void enqueue(std::function<void()> job) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      jobs.push_back(std::move(job));
    }
    cv.notify_all();
  }

  void run() {
    set_thread_name("connector");
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [this] { return stopping || !jobs.empty(); });
      if (stopping) return;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      job();
      lock.lock();
      cv.notify_all();  // drain_for_test may be waiting
    }
  }

  void accept(BotQuestion question) {
    std::string id = question.conversation_id;
    {
      std::lock_guard lock(mu);
      if (stopping || without_bot.contains(id)) return;
      auto [it, is_new] = busy.try_emplace(id);
      if (!is_new) {
        it->second.push_back(std::move(question));
        return;
      }
    }
    start(std::move(question));
  }

  void start(BotQuestion question) {
    enqueue([self = shared_from_this(), question = std::move(question)]() mutable {
      self->begin(std::move(question));
    });
  }

  // On the worker: the conversation's channel decides the bot; a person may have taken over.
  void begin(BotQuestion question) {
    auto conversation = deps.lookup(question.conversation_id);
    if (!conversation || conversation->state != kStateBot) return finish(question);
    const auto bot = bots.find(conversation->channel);
    if (bot == bots.end()) {
      remember_without_bot(question.conversation_id);
      return finish(question);
    }
    question.channel = conversation->channel;
    question.language = conversation->language;
    auto self = shared_from_this();
    bot->second->ask(question, [self, question](Result<std::vector<BotReply>> answer) mutable {
      self->enqueue([self, question = std::move(question), answer = std::move(answer)]() mutable {
        self->on_answer(std::move(question), std::move(answer));
      });
    });
  }

  bool known_without_bot(const std::string& conversation_id) {
    std::lock_guard lock(mu);
    return without_bot.contains(conversation_id);
  }

  void remember_without_bot(const std::string& conversation_id) {
    std::lock_guard lock(mu);
    if (without_bot.size() >= kMaxWithoutBot) without_bot.clear();
    without_bot.insert(conversation_id);
  }

  void on_answer(BotQuestion question, Result<std::vector<BotReply>> answer) {
    if (!answer) return tell_unavailable(std::move(question), answer.status());
    if (answer->empty()) return finish(question);
    const bool fallback = answer->front().fallback;
    post_reply(std::move(question), std::move(answer).value(), 0, fallback);
  }

  // Posts reply `index` and, once it is stored, the next one, so they keep their order.
  void post_reply(BotQuestion question, std::vector<BotReply> answer, std::size_t index,
                  bool fallback) {
    if (index == answer.size()) {
      replies.with({fallback ? "fallback" : "answered"}).inc();
      return finish(question);
    }
    const BotReply& reply = answer[index];
    api::ServerTurn turn;
    turn.conversation_id = question.conversation_id;
    turn.role = "bot";
    turn.text = reply.text;
    turn.bot = bot_object(reply);
    turn.actions = reply.actions;
    turn.client_turn_id = reply_turn_id(question.seq, index);
    auto self = shared_from_this();
    deps.poster.post(std::move(turn), [self, question, answer = std::move(answer), index,
                                       fallback](Result<api::ServerTurnResult> posted) mutable {
      self->enqueue([self, question = std::move(question), answer = std::move(answer), index,
                     fallback, posted = std::move(posted)]() mutable {
        self->on_posted(std::move(question), std::move(answer), index, fallback, posted);
      });
    });
  }

  void on_posted(BotQuestion question, std::vector<BotReply> answer, std::size_t index,
                 bool fallback, const Result<api::ServerTurnResult>& posted) {
    if (posted && posted->state == kStateBot) {
      return post_reply(std::move(question), std::move(answer), index + 1, fallback);
    }
    // The reply itself escalated: it is stored, the rest of the answer is not for a person.
    if (posted) replies.with({fallback ? "fallback" : "answered"}).inc();
    if (!posted && posted.status().code() == StatusCode::kConflict) {
      replies.with({"dropped"}).inc();  // a person took the conversation meanwhile
    } else if (!posted && posted.status().code() != StatusCode::kNotFound) {
      spdlog::warn("bot reply not stored conv={}: {}", question.conversation_id,
                   posted.status().message());
    }
    finish(question);
  }

  void tell_unavailable(BotQuestion question, const Status& why) {
    replies.with({"unavailable"}).inc();
    warn_limited(question, why);
    auto conversation = deps.lookup(question.conversation_id);
    if (!conversation || conversation->state != kStateBot) return finish(question);
    api::ServerTurn turn;
    turn.conversation_id = question.conversation_id;
    turn.role = "system";
    turn.text = deps.unavailable_text ? deps.unavailable_text(question.language)
                                      : default_unavailable_text(question.language);
    turn.bot = {{"unreachable", true}};
    turn.metadata = {{"message", "bot_unavailable"}};
    turn.client_turn_id =
        std::string(store::kBotUnavailableTurnIdPrefix) + std::to_string(question.seq);
    auto self = shared_from_this();
    deps.poster.post(std::move(turn), [self, question](Result<api::ServerTurnResult> posted) {
      if (!posted && posted.status().code() != StatusCode::kNotFound) {
        spdlog::warn("bot-unavailable message not stored conv={}: {}", question.conversation_id,
                     posted.status().message());
      }
      self->enqueue([self, question] { self->finish(question); });
    });
  }

  // A bot that is down fails every conversation at once: one line per interval is enough.
  void warn_limited(const BotQuestion& question, const Status& why) {
    const std::int64_t now = steady_ms();
    std::int64_t last = last_warn_ms.load();
    if (now - last < kWarnIntervalMs || !last_warn_ms.compare_exchange_strong(last, now)) return;
    spdlog::warn("bot unreachable conv={} channel={}: {}", question.conversation_id,
                 question.channel, why.message());
  }

  // The conversation's question is done: start the next one waiting behind it.
  void finish(const BotQuestion& question) {
    std::optional<BotQuestion> next;
    {
      std::lock_guard lock(mu);
      auto it = busy.find(question.conversation_id);
      if (it == busy.end()) return;
      if (it->second.empty()) {
        busy.erase(it);
      } else {
        next = std::move(it->second.front());
        it->second.pop_front();
      }
    }
    cv.notify_all();
    if (next) start(std::move(*next));
  }
};

Result<std::unique_ptr<ConnectorService>> ConnectorService::create(
    const std::vector<config::ConnectorConfig>& connectors, ConnectorDeps deps) {
  std::map<std::string, std::shared_ptr<Bot>> bots;
  auto& failures = deps.metrics.counter("handover_connector_bot_failures_total",
                                        "Failed attempts to reach a webhook bot, by reason",
                                        {"reason"});
  for (const auto& c : connectors) {
    if (c.type == "builtin") {
      auto faq = FaqBot::load(c.file);
      if (!faq) return faq.status();
      bots.emplace(c.channel, std::move(faq).value());
    } else if (c.type == "webhook") {
      auto url = url::parse_http_url(c.url);
      if (!url) return Status::invalid_argument("connector " + c.channel + ": " +
                                                url.status().message());
      if (deps.client == nullptr) {
        return Status::invalid_argument("connector " + c.channel + ": no HTTP client");
      }
      WebhookBotOptions options;
      options.url = std::move(url).value();
      options.format = c.format == "rasa" ? BotFormat::kRasa : BotFormat::kHandover;
      options.timeout_ms = c.timeout_ms;
      options.retries = c.retries;
      options.retry_backoff_ms = c.retry_backoff_ms;
      options.max_text_bytes = deps.max_text_bytes;
      bots.emplace(c.channel, std::make_shared<WebhookBot>(options, *deps.client, &failures));
    }
  }
  return std::make_unique<ConnectorService>(std::move(bots), std::move(deps));
}

ConnectorService::ConnectorService(std::map<std::string, std::shared_ptr<Bot>> bots,
                                   ConnectorDeps deps)
    : impl_(std::make_shared<Impl>(std::move(bots), std::move(deps))) {
  impl_->worker = std::thread([impl = impl_.get()] { impl->run(); });
}

ConnectorService::~ConnectorService() { stop(); }

void ConnectorService::on_event(const feed::Event& event) {
  if (impl_->bots.empty() || event.type != feed::kTurnCreated) return;
  // Before asks_the_bot(), which reads the turn's evaluation: most turns under load belong
  // to conversations no bot serves.
  if (impl_->known_without_bot(event.conversation_id)) return;
  if (!asks_the_bot(event)) return;
  impl_->accept(question_of(event.conversation_id, *event.turn));
}

std::size_t ConnectorService::ask_again(
    const std::vector<store::UnfinishedEscalation>& unanswered) {
  std::size_t asked = 0;
  for (const auto& [conversation, turn] : unanswered) {
    if (conversation.state != kStateBot || turn.role != "user" || escalated(turn)) continue;
    if (!impl_->bots.contains(conversation.channel)) continue;
    impl_->accept(question_of(conversation.id, turn));
    ++asked;
  }
  return asked;
}

void ConnectorService::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->jobs.clear();
    impl_->busy.clear();
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void ConnectorService::drain_for_test() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopping || impl_->busy.empty(); });
}

std::vector<std::string> ConnectorService::channels() const {
  std::vector<std::string> out;
  for (const auto& [channel, bot] : impl_->bots) out.push_back(channel);
  return out;
}

}  // namespace handover::connector

// The customer event stream: GET /v1/conversations/{id}/events as Server-Sent Events.
// A stream first replays the stored public events after the client's cursor (Last-Event-ID
// or ?after=), then follows the feed live; events that arrive while it catches up are held
// and sent after, so none is lost or sent twice. The replay goes out a part at a time, each
// once the client has read the one before, so a long conversation never fills the
// connection's queue. The queue position is not stored: it is sent on every (re)connect and
// whenever it changes.
#include <nlohmann/json.hpp>

#include <deque>
#include <mutex>

#include "context.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/feed/feed.hpp"
#include "handover/util/clock.hpp"
#include "validation.hpp"

namespace handover::api {
namespace {

constexpr std::size_t kReplayPage = 128;
// Live events held while the replay runs, at most; past that they are dropped and the replay
// reads them from the store instead (they are stored before they are published), so a client
// that stops reading mid-replay costs a bounded amount of memory.
constexpr std::size_t kMaxHeldEvents = 64;
// What the replay writes before it waits for the client to read it: well under the
// connection's queue limit (http::ServerOptions::stream_max_queued_bytes).
constexpr std::size_t kReplayBurstBytes = 256 * 1024;

std::string sse_frame(const feed::Event& event, feed::Audience audience) {
  const nlohmann::json payload = {{"type", event.type},
                                  {"conversation_id", event.conversation_id},
                                  {"created_at", format_rfc3339_ms(event.created_at_ms)},
                                  {"data", feed::view(event, audience)}};
  std::string frame;
  if (!event.transient()) frame += "id: " + std::to_string(event.id) + "\n";
  frame += "event: " + event.type + "\ndata: ";
  // One line: json::dump escapes control characters, so the payload holds no newline.
  frame += payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  frame += "\n\n";
  return frame;
}

class EventStream final : public http::StreamSource,
                          public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(feed::Hub& hub, agents::AgentService* agents, std::string conversation_id,
              std::int64_t after, feed::Audience audience, const Clock& clock)
      : hub_(hub),
        agents_(agents),
        conversation_id_(std::move(conversation_id)),
        cursor_(after),
        audience_(audience),
        clock_(clock) {}

  void on_open(std::shared_ptr<http::StreamWriter> writer) override {
    writer_ = std::move(writer);
    writer_->write(std::make_shared<const std::string>("retry: 3000\n\n"));
    std::weak_ptr<EventStream> weak = weak_from_this();
    // An erasure of the conversation ends the stream: nothing of it may reach anyone after.
    // One that committed before this subscription fails the catch-up instead (the store no
    // longer knows the conversation), which closes the stream as well.
    subscription_ = hub_.subscribe(
        conversation_id_,
        [weak](const feed::Event& event) {
          if (auto self = weak.lock()) self->on_live(event);
        },
        [weak] {
          // Nothing more of the conversation may go out, not even what is queued.
          if (auto self = weak.lock()) self->writer_->abort();
        });
    replay();
  }

  void on_close() override { subscription_.reset(); }

  void on_drained() override {
    if (!replay_waits_) return;
    replay_waits_ = false;
    replay();
  }

 private:
  // Sends the stored events after the cursor, page by page, until kReplayBurstBytes are on
  // their way; then on_drained() goes on. Runs on the connection's strand only.
  void replay() {
    std::size_t burst = 0;
    for (;;) {
      if (replay_.empty()) {
        if (replay_read_all_ && finish_replay()) return;
        replay_read_all_ = false;
        std::int64_t after;
        {
          std::lock_guard lock(mu_);
          after = cursor_;
        }
        auto page = hub_.history(conversation_id_, after, kReplayPage);
        if (!page) return writer_->close();
        replay_read_all_ = page->size() < kReplayPage;
        replay_.assign(std::make_move_iterator(page->begin()),
                       std::make_move_iterator(page->end()));
        continue;
      }
      {
        std::lock_guard lock(mu_);
        while (!replay_.empty() && burst < kReplayBurstBytes) {
          burst += send_locked(replay_.front());
          replay_.pop_front();
        }
      }
      if (burst >= kReplayBurstBytes) {
        replay_waits_ = true;
        return;
      }
    }
  }

  // False when live events were dropped while the replay ran: it goes on reading them.
  bool finish_replay() {
    std::lock_guard lock(mu_);
    if (held_dropped_) {
      held_dropped_ = false;
      held_.clear();
      return false;
    }
    catching_up_ = false;
    for (const auto& event : held_) send_locked(event);
    held_.clear();
    send_position_locked();
    return true;
  }

  void on_live(const feed::Event& event) {
    std::lock_guard lock(mu_);
    if (catching_up_) {
      // The position is sent fresh once the replay is done; stored events wait, or are read
      // again from the store when too many arrive.
      if (event.transient()) return;
      if (held_.size() >= kMaxHeldEvents) {
        held_dropped_ = true;
        held_.clear();
      }
      if (!held_dropped_) held_.push_back(event);
      return;
    }
    send_locked(event);
  }

  // The bytes written, 0 for an event sent before.
  std::size_t send_locked(const feed::Event& event) {
    if (!event.transient()) {
      if (event.id <= cursor_) return 0;  // already sent by the replay
      cursor_ = event.id;
    }
    auto frame = std::make_shared<const std::string>(sse_frame(event, audience_));
    const std::size_t size = frame->size();
    writer_->write(std::move(frame));
    return size;
  }

  void send_position_locked() {
    if (agents_ == nullptr) return;
    auto position = agents_->position(conversation_id_);
    if (!position || position->position == 0) return;
    feed::Event event;
    event.type = feed::kQueuePosition;
    event.conversation_id = conversation_id_;
    event.created_at_ms = clock_.now_ms();
    event.data = {{"queue", position->queue},
                  {"position", position->position},
                  {"estimated_wait_s", position->estimated_wait_s < 0
                                           ? json(nullptr)
                                           : json(position->estimated_wait_s)}};
    send_locked(event);
  }

  feed::Hub& hub_;
  agents::AgentService* agents_;
  const std::string conversation_id_;
  std::int64_t cursor_;  // guarded by mu_ once live events may arrive
  const feed::Audience audience_;
  const Clock& clock_;
  std::shared_ptr<http::StreamWriter> writer_;
  feed::Hub::Subscription subscription_;
  std::mutex mu_;
  bool catching_up_ = true;
  std::vector<feed::Event> held_;
  bool held_dropped_ = false;  // held_ overflowed: the replay reads on from the store
  // The replay's state, on the connection's strand only.
  std::deque<feed::Event> replay_;  // read from the store, not sent yet
  bool replay_read_all_ = false;
  bool replay_waits_ = false;  // for on_drained()
};

// The resume cursor: Last-Event-ID (what EventSource sends on reconnect) or ?after=.
std::optional<std::int64_t> read_cursor(const Call& call, Validator& v) {
  std::int64_t after = 0;
  if (const std::string* header = call.request.header("last-event-id")) {
    auto parsed = parse_integer(*header, 0, INT64_MAX);
    if (!parsed) v.fail("/headers/last-event-id", "expected a non-negative integer event id");
    after = parsed.value_or(0);
  }
  if (const std::string* query = call.query_param("after")) {
    auto parsed = parse_integer(*query, 0, INT64_MAX);
    if (!parsed) v.fail("/query/after", "expected a non-negative integer event id");
    after = std::max(after, parsed.value_or(0));
  }
  if (!v.ok()) return std::nullopt;
  return after;
}

}  // namespace

void stream_events(ApiContext& ctx, Call& call, http::Responder respond) {
  Validator v;
  for (std::size_t i = 0; i < call.query.size(); ++i) {
    const std::string& key = call.query[i].first;
    if (key != "after" && key != "access_token") {
      v.fail("/query/" + pointer_token(key), "unknown query parameter '" + key + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (call.query[j].first == key) v.fail("/query/" + pointer_token(key), "given twice");
    }
  }
  std::size_t cursors = 0;
  for (const auto& [name, value] : call.request.headers) cursors += name == "last-event-id";
  if (cursors > 1) v.fail("/headers/last-event-id", "given twice");
  // EventSource cannot send headers, so a browser may present its token in the query
  // (RFC 6750, section 2.3); an Authorization header wins.
  const std::string* token = call.query_param("access_token");
  if (token && call.principal.kind == Principal::Kind::kNone) {
    http::Request bearer;
    bearer.headers.emplace_back("authorization", "Bearer " + *token);
    call.principal = ctx.auth.identify(bearer);
    // Long-lived API keys stay out of URLs, which proxies and browsers write to their logs.
    if (call.principal.kind == Principal::Kind::kApiKey) {
      return respond(unauthenticated(
          "an API key is not accepted in the URL; send it in the Authorization header"));
    }
  }
  auto cursor = read_cursor(call, v);
  if (!v.ok()) return respond(validation_problem(v.errors()));
  Access access;
  auto conv = load_authorized(ctx, call, kScopeRead, respond, &access);
  if (!conv) return;
  if (ctx.feed == nullptr) {
    return respond(http::problem(404, "not-found", "Not found", "this server has no event stream"));
  }
  const auto audience = call.principal.kind == Principal::Kind::kBearer
                            ? feed::Audience::kCustomer
                            : feed::Audience::kIntegration;
  http::Response r;
  r.status = 200;
  r.content_type = "text/event-stream; charset=utf-8";
  r.set_header("X-Accel-Buffering", "no");
  r.stream = std::make_shared<EventStream>(*ctx.feed, ctx.agents, conv->id, *cursor, audience,
                                           ctx.clock);
  // The stream shows turns and choices as they are: opening it is a read like any other.
  respond_audited(ctx, access, "events.read", *conv, std::move(r), std::move(respond));
}

}  // namespace handover::api

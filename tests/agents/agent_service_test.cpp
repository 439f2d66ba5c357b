// AgentService against a real store in a temporary directory, a FakeClock and fake
// WebSocket connections: persistence before delivery, seq and resume, timeouts, restore.
#include "handover/agents/agent_service.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "handover/metrics/registry.hpp"
#include "handover/routing/routing_config.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"

namespace handover::agents {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRoutingYaml = R"(settings:
  decline_cooldown_s: 60
  reconnect_grace_s: 30
  position_update_interval_ms: 0
queues:
  - name: general
    offer_timeout_s: 5
)";

// Records every frame; waits are bounded by a condition variable, never by sleeping.
class FakeConnection final : public http::WebSocketConnection {
 public:
  explicit FakeConnection(std::uint64_t id) : id_(id) {}

  void send(std::shared_ptr<const std::string> text) override {
    std::lock_guard lock(mu_);
    frames_.push_back(json::parse(*text));
    cv_.notify_all();
  }
  void close(std::uint16_t code, std::string) override {
    std::lock_guard lock(mu_);
    close_code_ = code;
  }
  std::uint64_t id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  bool is_open() const override { return close_code_ == 0; }
  void when_drained(std::function<void()> ready) override { ready(); }  // sent frames are kept

  // The next frame of `type` after those already taken, within two seconds.
  std::optional<json> next(const std::string& type) {
    std::unique_lock lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, 2s, [&] {
      for (; taken_ < frames_.size(); ++taken_) {
        if (frames_[taken_].value("type", "") == type) {
          found = frames_[taken_++];
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<json> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  std::uint16_t close_code() {
    std::lock_guard lock(mu_);
    return close_code_;
  }

 private:
  std::uint64_t id_;
  std::string remote_ = "127.0.0.1:1";
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> frames_;
  std::size_t taken_ = 0;
  std::uint16_t close_code_ = 0;
};

template <class T>
Result<T> wait(const std::function<void(store::Callback<T>)>& start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "agents_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    open_store();
    start_service();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void open_store() {
    store::StoreOptions options;
    options.path = dir_ + "/test.db";
    auto opened = store::Store::open(options, clock_);
    ASSERT_TRUE(opened) << opened.status().to_string();
    store_ = std::move(opened).value();
  }
  void start_service() {
    auto config = routing::parse_routing_config(kRoutingYaml, "routing.yaml");
    ASSERT_TRUE(config) << config.status().to_string();
    registry_ = std::make_unique<metrics::Registry>();
    service_ = std::make_unique<AgentService>(*store_, *config, clock_, *registry_);
    ASSERT_TRUE(service_->start().is_ok());
  }
  void restart_service() {
    service_.reset();
    start_service();
  }

  // Stores an agent; returns its token.
  std::string add_agent(const std::string& id, bool disabled = false) {
    store::AgentRecord agent;
    agent.id = id;
    agent.name = id;
    agent.display_name = id;
    agent.capacity = 2;
    agent.disabled = disabled;
    const std::string token = "hat_" + id;
    agent.token_hash = crypto::sha256_hex(token);
    auto created =
        wait<store::AgentRecord>([&](auto done) { store_->create_agent(agent, std::move(done)); });
    EXPECT_TRUE(created) << created.status().to_string();
    return token;
  }

  static http::Request upgrade(const std::string& token) {
    http::Request request;
    request.method = "GET";
    request.target = "/v1/agents/ws";
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    return request;
  }

  // Opens a fake connection for the agent and sends `hello`.
  std::shared_ptr<FakeConnection> connect(const std::string& token, json hello = json::object()) {
    auto connection = std::make_shared<FakeConnection>(++next_connection_);
    std::shared_ptr<http::WebSocketConnection> base = connection;
    service_->on_open(base, upgrade(token));
    hello["type"] = "hello";
    service_->on_message(base, hello.dump());
    return connection;
  }
  void say(const std::shared_ptr<FakeConnection>& connection, const json& frame) {
    std::shared_ptr<http::WebSocketConnection> base = connection;
    service_->on_message(base, frame.dump());
  }

  std::string create_conversation(const std::string& customer = "") {
    store::ConversationRecord record;
    record.id = "c_" + std::to_string(++next_conversation_);
    record.language = "de";
    record.customer_id = customer;
    auto created = wait<store::ConversationRecord>(
        [&](auto done) { store_->create_conversation(record, std::move(done)); });
    EXPECT_TRUE(created);
    return record.id;
  }
  Result<store::ConversationRecord> escalate(const std::string& id) {
    Escalation e;
    e.conversation_id = id;
    e.queue = "general";
    e.snapshot_json = R"({"snapshot_version":1,"note":"x"})";
    return wait<store::ConversationRecord>(
        [&](auto done) { service_->escalate(e, std::move(done)); });
  }
  std::string state_of(const std::string& id) { return store_->get_conversation(id)->state; }
  // The access audit of `conv` once every write submitted so far has committed.
  std::vector<store::AuditRecord> audit_of(const std::string& conv) {
    auto barrier = wait<std::vector<store::EventRecord>>(
        [&](auto done) { store_->append_events({}, std::move(done)); });
    EXPECT_TRUE(barrier);
    store::AuditQuery query;
    query.conversation_id = conv;
    auto records = store_->list_audit(query);
    EXPECT_TRUE(records) << records.status().to_string();
    return records ? *records : std::vector<store::AuditRecord>{};
  }
  // The event frames (those with a seq) a connection got, in order.
  static std::vector<json> events_of(FakeConnection& connection) {
    std::vector<json> events;
    for (const auto& frame : connection.frames()) {
      if (frame.contains("seq")) events.push_back(frame);
    }
    return events;
  }
  // "action/reason/actor" of each record, in order.
  static std::vector<std::string> audit_lines(const std::vector<store::AuditRecord>& records) {
    std::vector<std::string> lines;
    for (const auto& r : records) lines.push_back(r.action + "/" + r.reason + "/" + r.actor_id);
    return lines;
  }

  // Stores a turn of `role` and tells the service, as the API does after the commit.
  store::TurnRecord post(const std::string& conv, const std::string& text,
                         const std::string& role = "user") {
    store::AppendTurnRequest request;
    request.turn.conversation_id = conv;
    request.turn.role = role;
    request.turn.text = text;
    auto stored = wait<store::AppendTurnOutcome>(
        [&](auto done) { store_->append_turn(std::move(request), std::move(done)); });
    EXPECT_TRUE(stored) << stored.status().to_string();
    if (!stored) return {};
    service_->on_turn_committed(*store_->get_conversation(conv), stored->turn);
    return stored->turn;
  }
  // Accepts the next offer on `agent`; the frames from `assigned` on, once acknowledged.
  std::vector<json> accept_next(const std::shared_ptr<FakeConnection>& agent) {
    auto offer = agent->next("offer");
    if (!offer) return {};
    say(agent, {{"type", "accept"},
                {"conversation_id", (*offer)["conversation_id"]},
                {"offer_id", (*offer)["offer_id"]}});
    if (!agent->next("ack")) return {};
    std::vector<json> from_assigned;
    for (const auto& frame : agent->frames()) {
      if (frame["type"] == "assigned" && frame["conversation_id"] == (*offer)["conversation_id"]) {
        from_assigned.clear();
      }
      from_assigned.push_back(frame);
    }
    return from_assigned;
  }
  // The texts of the catch-up turn frames among `frames`.
  static std::vector<std::string> caught_up(const std::vector<json>& frames) {
    std::vector<std::string> texts;
    for (const auto& frame : frames) {
      if (frame["type"] == "turn" && frame.value("catch_up", false)) {
        texts.push_back(frame["turn"]["text"]);
      }
    }
    return texts;
  }

  // Escalates `conv` and has `agent` accept the offer; true once the agent got both the
  // assignment and the acknowledgement of its accept (both are taken from its frames).
  [[nodiscard]] bool hand_to(const std::shared_ptr<FakeConnection>& agent,
                             const std::string& conv) {
    if (!escalate(conv)) return false;
    auto offer = agent->next("offer");
    if (!offer) return false;
    say(agent, {{"type", "accept"}, {"conversation_id", conv}, {"offer_id", (*offer)["offer_id"]}});
    return agent->next("assigned").has_value() && agent->next("ack").has_value();
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<AgentService> service_;
  std::uint64_t next_connection_ = 0;
  int next_conversation_ = 0;
};

TEST_F(AgentServiceTest, UpgradeIsRefusedWithoutAValidTokenOrForADisabledAgent) {
  add_agent("ana");
  add_agent("off", true);

  auto missing = service_->on_upgrade(upgrade(""));
  auto wrong = service_->on_upgrade(upgrade("hat_nobody"));
  auto disabled = service_->on_upgrade(upgrade("hat_off"));
  auto good = service_->on_upgrade(upgrade("hat_ana"));
  http::Request by_query = upgrade("");
  by_query.target += "?access_token=hat_ana";

  ASSERT_TRUE(missing && wrong && disabled);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(disabled->status, 403);
  EXPECT_EQ(missing->content_type, "application/problem+json");
  EXPECT_FALSE(good.has_value());
  EXPECT_FALSE(service_->on_upgrade(by_query).has_value());
}

TEST_F(AgentServiceTest, EscalationIsStoredBeforeTheOfferIsSent) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();

  auto record = escalate(conv);
  auto offer = ana->next("offer");

  ASSERT_TRUE(record) << record.status().to_string();
  EXPECT_EQ(record->state, "queued");
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["snapshot"]["note"], "x");
  store::EventQuery query;
  query.agent_id = "ana";
  auto events = store_->list_events(query);
  ASSERT_TRUE(events);
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().id, (*offer)["seq"]);
  EXPECT_EQ(events->back().type, "agent.offer");
}

TEST_F(AgentServiceTest, EscalationOfAConversationNotWithTheBotIsAConflict) {
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));

  auto again = escalate(conv);

  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), StatusCode::kConflict);
}

TEST_F(AgentServiceTest, DoneMayCallBackIntoTheServiceAfterARefusal) {
  const std::string conv = create_conversation();
  Escalation e;
  e.conversation_id = conv;
  e.queue = "nowhere";

  // As the turn intake does: an unknown queue is retried with the default queue.
  auto retried = wait<store::ConversationRecord>([&](auto done) {
    service_->escalate(e, [this, e, done](Result<store::ConversationRecord> first) mutable {
      EXPECT_FALSE(first);
      e.queue.clear();
      service_->escalate(e, done);
    });
  });

  ASSERT_TRUE(retried) << retried.status().to_string();
  EXPECT_EQ(retried->state, "queued");
}

TEST_F(AgentServiceTest, AcceptMovesTheConversationToAgentAndRelaysUserTurns) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  auto offer = ana->next("offer");
  ASSERT_TRUE(offer.has_value());

  say(ana, {{"type", "accept"},
            {"ref", 1},
            {"conversation_id", conv},
            {"offer_id", (*offer)["offer_id"]}});
  auto assigned = ana->next("assigned");
  auto ack = ana->next("ack");
  store::TurnRecord turn;
  turn.conversation_id = conv;
  turn.seq = 1;
  turn.role = "user";
  turn.text = "Hallo";
  service_->on_turn_committed(*store_->get_conversation(conv), turn);
  auto relayed = ana->next("turn");

  ASSERT_TRUE(assigned && ack && relayed);
  EXPECT_EQ((*ack)["ref"], 1);
  EXPECT_EQ(state_of(conv), "agent");
  EXPECT_TRUE(service_->assigned_to_agent(conv));
  EXPECT_EQ((*relayed)["turn"]["text"], "Hallo");
  EXPECT_GT((*relayed)["seq"], (*assigned)["seq"]);
}

TEST_F(AgentServiceTest, RelaysTheAgentsViewOfATurnAndBuildsItOnlyForAHeldConversation) {
  auto ana = connect(add_agent("ana"));
  const std::string held = create_conversation();
  const std::string with_bot = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));

  int views = 0;
  service_->set_agent_view([&views](const store::TurnRecord& turn) {
    ++views;
    store::TurnRecord shown = turn;
    shown.text = "IBAN [masked]";
    return shown;
  });
  store::TurnRecord turn;
  turn.seq = 1;
  turn.role = "user";
  turn.text = "IBAN DE89370400440532013000";
  turn.conversation_id = with_bot;
  service_->on_turn_committed(*store_->get_conversation(with_bot), turn);
  EXPECT_EQ(views, 0) << "nobody holds that conversation";
  turn.conversation_id = held;
  service_->on_turn_committed(*store_->get_conversation(held), turn);
  auto relayed = ana->next("turn");

  ASSERT_TRUE(relayed.has_value());
  EXPECT_EQ(views, 1);
  EXPECT_EQ((*relayed)["conversation_id"], held);
  EXPECT_EQ((*relayed)["turn"]["text"], "IBAN [masked]");
}

TEST_F(AgentServiceTest, TurnsPostedWhileWaitingFollowTheAssignmentMaskedAndInOrder) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  post(conv, "in the snapshot");
  ASSERT_TRUE(escalate(conv));
  int views = 0;
  service_->set_agent_view([&views](const store::TurnRecord& turn) {
    ++views;
    store::TurnRecord shown = turn;
    if (shown.text.find("DE89") != std::string::npos) shown.text = "IBAN [masked]";
    return shown;
  });
  post(conv, "hello? anyone there?");
  post(conv, "bot answer while waiting", "bot");
  post(conv, "IBAN DE89370400440532013000");
  EXPECT_EQ(views, 0) << "nothing is shown before someone takes the conversation";

  const std::vector<json> frames = accept_next(ana);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front()["type"], "assigned");
  EXPECT_EQ(caught_up(frames), (std::vector<std::string>{"hello? anyone there?",
                                                          "bot answer while waiting",
                                                          "IBAN [masked]"}));
  std::int64_t previous = 0;
  for (const auto& frame : frames) {
    if (frame["type"] != "turn") continue;
    EXPECT_GT(frame["seq"].get<std::int64_t>(), frames.front()["seq"].get<std::int64_t>());
    EXPECT_GT(frame["turn"]["seq"].get<std::int64_t>(), previous);
    previous = frame["turn"]["seq"].get<std::int64_t>();
  }
  // Stored like every agent event: a resume replays them.
  auto resumed = connect("hat_ana", {{"resume_after", 0}});
  ASSERT_TRUE(resumed->next("ack").has_value());
  EXPECT_EQ(caught_up(resumed->frames()).size(), 3u);
}

TEST_F(AgentServiceTest, TurnsCommittedWhileTheEscalationWasOnItsWayAreCaughtUpToo) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  post(conv, "the snapshot ends here");
  // Stored after the snapshot was cut but told to the service before it escalated: the
  // service did not hold the conversation yet.
  for (const char* text : {"one more thing", "and another"}) {
    store::AppendTurnRequest request;
    request.turn.conversation_id = conv;
    request.turn.role = "user";
    request.turn.text = text;
    auto stored = wait<store::AppendTurnOutcome>(
        [&](auto done) { store_->append_turn(std::move(request), std::move(done)); });
    ASSERT_TRUE(stored);
    service_->on_turn_committed(*store_->get_conversation(conv), stored->turn);
  }
  Escalation e;
  e.conversation_id = conv;
  e.queue = "general";
  e.snapshot_json = "{}";
  e.history_through = 1;
  ASSERT_TRUE(wait<store::ConversationRecord>(
      [&](auto done) { service_->escalate(e, std::move(done)); }));
  post(conv, "still here?");

  EXPECT_EQ(caught_up(accept_next(ana)),
            (std::vector<std::string>{"one more thing", "and another", "still here?"}));
}

TEST_F(AgentServiceTest, TheNextAgentAfterATransferGetsEverythingTheUserWroteSinceTheSnapshot) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  post(conv, "waiting");
  ASSERT_EQ(caught_up(accept_next(ana)), std::vector<std::string>{"waiting"});
  post(conv, "told to ana");
  ASSERT_TRUE(ana->next("turn").has_value());
  auto ben = connect(add_agent("ben"));
  say(ana, {{"type", "transfer"}, {"conversation_id", conv}, {"queue", "general"}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  post(conv, "waiting again");

  EXPECT_EQ(caught_up(accept_next(ben)),
            (std::vector<std::string>{"waiting", "told to ana", "waiting again"}));
}

TEST_F(AgentServiceTest, HeldTurnsAreTheNewestFiftyAndEndWhenTheConversationIsBackWithTheBot) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  for (int i = 1; i <= 60; ++i) post(conv, "m" + std::to_string(i));
  const std::vector<std::string> texts = caught_up(accept_next(ana));
  ASSERT_EQ(texts.size(), AgentService::kMaxHeldTurns);
  EXPECT_EQ(texts.front(), "m11");
  EXPECT_EQ(texts.back(), "m60");

  say(ana, {{"type", "return_to_bot"}, {"conversation_id", conv}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  post(conv, "with the bot again");
  ASSERT_TRUE(escalate(conv));
  post(conv, "second wait");
  EXPECT_EQ(caught_up(accept_next(ana)), std::vector<std::string>{"second wait"});
}

TEST_F(AgentServiceTest, TurnsPostedWhileWaitingSurviveARestart) {
  const std::string token = add_agent("ana");
  const std::string conv = create_conversation();
  post(conv, "before");
  Escalation e;
  e.conversation_id = conv;
  e.queue = "general";
  e.snapshot_json = R"({"snapshot_version":2,"conversation":{"id":"x","last_seq":1}})";
  ASSERT_TRUE(wait<store::ConversationRecord>(
      [&](auto done) { service_->escalate(e, std::move(done)); }));
  post(conv, "while waiting");
  post(conv, "still waiting");

  restart_service();
  auto ana = connect(token);
  EXPECT_EQ(caught_up(accept_next(ana)),
            (std::vector<std::string>{"while waiting", "still waiting"}));
}

TEST_F(AgentServiceTest, ErasedConversationsLeaveNoHeldTurns) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  post(conv, "my card is 4111 1111 1111 1111");
  service_->forget_turns({conv});
  EXPECT_TRUE(caught_up(accept_next(ana)).empty());
}

TEST_F(AgentServiceTest, AnAgentsFirstWordsWaitUntilTheUserWasToldWhoJoined) {
  service_->set_join_notices(true);
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));

  say(ana, {{"type", "message"}, {"ref", 1}, {"conversation_id", conv}, {"text", "Hallo!"}});
  say(ana, {{"type", "message"}, {"ref", 2}, {"conversation_id", conv}, {"text", "Ich bin da."}});
  say(ana, {{"type", "ping"}, {"ref", 3}});
  auto pong = ana->next("ack");
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ((*pong)["ref"], 3) << "the messages are held, other frames are not";
  EXPECT_TRUE(store_->list_turns(conv, 0, 10)->empty());

  service_->join_announced(conv);
  auto first = ana->next("ack");
  auto second = ana->next("ack");
  ASSERT_TRUE(first && second);
  EXPECT_EQ((*first)["ref"], 1);
  EXPECT_EQ((*second)["ref"], 2);
  const auto turns = store_->list_turns(conv, 0, 10);
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_EQ((*turns)[0].text, "Hallo!");
  EXPECT_EQ((*turns)[1].text, "Ich bin da.");

  say(ana, {{"type", "message"}, {"ref", 4}, {"conversation_id", conv}, {"text", "Also?"}});
  auto later = ana->next("ack");
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ((*later)["ref"], 4) << "after the notice nothing waits";
}

TEST_F(AgentServiceTest, AnAgentsWordsGoOutWhenTheJoinNoticeIsLate) {
  service_->set_join_notices(true);
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));
  say(ana, {{"type", "message"}, {"ref", 1}, {"conversation_id", conv}, {"text", "Hallo!"}});
  service_->tick_for_test();
  EXPECT_TRUE(store_->list_turns(conv, 0, 10)->empty());

  clock_.advance_ms(AgentService::kJoinNoticeWaitMs);
  service_->tick_for_test();
  auto ack = ana->next("ack");

  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ((*ack)["ref"], 1);
  EXPECT_EQ(store_->list_turns(conv, 0, 10)->size(), 1u);
}

TEST_F(AgentServiceTest, OfferTimesOutWhenTheClockPassesItsDeadline) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  auto offer = ana->next("offer");
  ASSERT_TRUE(offer.has_value());

  clock_.advance_ms(5001);
  service_->tick_for_test();
  auto revoked = ana->next("offer_revoked");
  say(ana, {{"type", "accept"},
            {"ref", "late"},
            {"conversation_id", conv},
            {"offer_id", (*offer)["offer_id"]}});
  auto error = ana->next("error");

  ASSERT_TRUE(revoked && error);
  EXPECT_EQ((*revoked)["reason"], "expired");
  EXPECT_EQ((*error)["code"], "offer_expired");
  EXPECT_EQ((*error)["ref"], "late");
  EXPECT_EQ(state_of(conv), "queued");
}

TEST_F(AgentServiceTest, ResumeReplaysMissedEventsInOrderWithoutDuplicates) {
  const std::string token = add_agent("ana");
  auto first = connect(token);
  const std::string a = create_conversation();
  const std::string b = create_conversation();
  ASSERT_TRUE(escalate(a));
  auto offer_a = first->next("offer");
  ASSERT_TRUE(offer_a.has_value());
  const std::int64_t seen = (*offer_a)["seq"];
  service_->on_close(first);

  ASSERT_TRUE(escalate(b));
  auto second = connect(token, {{"resume_after", seen - 1}});
  auto replayed = second->next("offer");
  auto revoked = second->next("offer_revoked");
  auto live = second->next("offer");
  std::vector<json> events;
  for (const auto& frame : second->frames()) {
    if (frame.contains("seq")) events.push_back(frame);
  }

  ASSERT_TRUE(replayed && revoked && live);
  EXPECT_EQ((*replayed)["seq"], seen);
  EXPECT_EQ((*revoked)["reason"], "agent_disconnected");
  EXPECT_GT((*live)["seq"], (*revoked)["seq"]);
  EXPECT_EQ(second->frames().front()["type"], "welcome");
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i]["seq"], events[i - 1]["seq"]);
}

TEST_F(AgentServiceTest, AReplayFollowsADeclinedOfferWithItsEnd) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  auto offer = ana->next("offer");
  ASSERT_TRUE(offer.has_value());
  say(ana, {{"type", "decline"},
            {"ref", "d"},
            {"conversation_id", conv},
            {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(ana->next("ack").has_value());

  auto reloaded = connect(token, {{"resume_after", 0}});
  auto replayed = reloaded->next("offer");
  auto ended = reloaded->next("offer_revoked");

  ASSERT_TRUE(replayed && ended);
  EXPECT_EQ((*ended)["offer_id"], (*replayed)["offer_id"]);
  EXPECT_EQ((*ended)["reason"], "declined");
  EXPECT_GT((*ended)["seq"], (*replayed)["seq"]);
}

TEST_F(AgentServiceTest, AReplaySendsTextsOnlyOfTheConversationsTheAgentStillHolds) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string resolved = create_conversation("cust-r");
  ASSERT_TRUE(hand_to(ana, resolved));
  post(resolved, "resolved: my IBAN");
  ASSERT_TRUE(ana->next("turn").has_value());
  say(ana,
      {{"type", "resolve"}, {"conversation_id", resolved}, {"feedback", {{"justified", "yes"}}}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  const std::string moved = create_conversation("cust-m");
  ASSERT_TRUE(hand_to(ana, moved));
  post(moved, "moved: my address");
  ASSERT_TRUE(ana->next("turn").has_value());
  const std::string held = create_conversation("cust-h");
  ASSERT_TRUE(hand_to(ana, held));
  post(held, "held: still there?");
  ASSERT_TRUE(ana->next("turn").has_value());
  auto ben = connect(add_agent("ben"));
  say(ana, {{"type", "transfer"}, {"conversation_id", moved}, {"agent", "ben"}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  ASSERT_TRUE(ben->next("offer").has_value());

  // A reloaded console replays its agent's whole stream.
  auto reloaded = connect(token, {{"resume_after", 0}});
  ASSERT_TRUE(reloaded->next("ack").has_value());
  const std::vector<json> replayed = events_of(*reloaded);

  std::vector<std::string> turns;
  std::map<std::string, json> offers;
  for (const auto& frame : replayed) {
    if (frame["type"] == "turn") turns.push_back(frame["turn"]["text"]);
    if (frame["type"] == "offer") offers[frame["conversation_id"].get<std::string>()] = frame;
    EXPECT_EQ(frame.dump().find("moved: "), std::string::npos) << frame;
    EXPECT_EQ(frame.dump().find("resolved: "), std::string::npos) << frame;
  }
  EXPECT_EQ(turns, std::vector<std::string>{"held: still there?"});
  ASSERT_EQ(offers.size(), 3u) << "every offer is replayed, also those that ended";
  EXPECT_TRUE(offers[resolved]["snapshot"].is_null());
  EXPECT_TRUE(offers[moved]["snapshot"].is_null()) << "still routed, but no longer ana's";
  EXPECT_EQ(offers[held]["snapshot"]["note"], "x");
  EXPECT_EQ(audit_lines(audit_of(resolved)),
            (std::vector<std::string>{"offer.sent/offered/ana", "turns.relayed/assigned/ana"}));
  EXPECT_EQ(audit_lines(audit_of(moved)),
            (std::vector<std::string>{"offer.sent/offered/ana", "turns.relayed/assigned/ana",
                                      "offer.sent/offered/ben"}));
  const auto held_audit = audit_of(held);
  ASSERT_EQ(audit_lines(held_audit),
            (std::vector<std::string>{"offer.sent/offered/ana", "turns.relayed/assigned/ana",
                                      "events.replayed/resumed/ana"}));
  EXPECT_EQ(held_audit.back().customer_id, "cust-h");
  EXPECT_EQ(json::parse(held_audit.back().data_json)["seq"], offers[held]["seq"]);
}

TEST_F(AgentServiceTest, AReplayWithoutTextsStillEndsInTheOpenOffersAndAssignments) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string returned = create_conversation();
  ASSERT_TRUE(hand_to(ana, returned));
  post(returned, "returned: bye");
  ASSERT_TRUE(ana->next("turn").has_value());
  say(ana, {{"type", "return_to_bot"}, {"conversation_id", returned}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  const std::string held = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));
  const std::string offered = create_conversation();
  ASSERT_TRUE(escalate(offered));
  ASSERT_TRUE(ana->next("offer").has_value());

  auto reloaded = connect(token, {{"resume_after", 0}});
  ASSERT_TRUE(reloaded->next("ack").has_value());
  auto tab = connect(token, {{"state", true}});
  auto state = tab->next("state");

  // The client's reading of a replay (docs/agent-protocol.md): an offer is open until its
  // end, a conversation held from its `assigned` to its `unassigned`.
  std::map<std::int64_t, json> open;
  std::map<std::string, json> assigned;
  for (const auto& frame : events_of(*reloaded)) {
    const std::string type = frame["type"];
    EXPECT_NE(type, "turn") << "only the returned conversation had turns: " << frame;
    if (type == "offer") open[frame["offer_id"].get<std::int64_t>()] = frame;
    if (type == "offer_revoked") open.erase(frame["offer_id"].get<std::int64_t>());
    if (type == "assigned") {
      std::erase_if(open, [&](const auto& o) {
        return o.second["conversation_id"] == frame["conversation_id"];
      });
      assigned[frame["conversation_id"].get<std::string>()] = frame;
    }
    if (type == "unassigned") assigned.erase(frame["conversation_id"].get<std::string>());
  }
  ASSERT_TRUE(state.has_value());
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(json::array({open.begin()->second}), (*state)["offers"]) << "snapshot included";
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(json::array({assigned.begin()->second}), (*state)["assigned"]);
}

TEST_F(AgentServiceTest, AReplayBlanksTheTransferNoteOfAnOfferThatEnded) {
  auto ana = connect(add_agent("ana"));
  const std::string ben_token = add_agent("ben");
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));
  auto ben = connect(ben_token);
  say(ana, {{"type", "transfer"},
            {"conversation_id", conv},
            {"agent", "ben"},
            {"note", "wants a refund of invoice 4711"}});
  auto offer = ben->next("offer");
  ASSERT_TRUE(offer.has_value());

  auto while_open = connect(ben_token, {{"resume_after", 0}});
  auto open = while_open->next("offer");
  say(ben, {{"type", "decline"}, {"conversation_id", conv}, {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(ben->next("offer_revoked").has_value());
  auto after_decline = connect(ben_token, {{"resume_after", 0}});
  auto ended = after_decline->next("offer");

  ASSERT_TRUE(open && ended);
  EXPECT_EQ(*open, *offer) << "an open offer is replayed as it was sent";
  EXPECT_EQ((*ended)["seq"], (*offer)["seq"]);
  EXPECT_EQ((*ended)["transfer"]["from_agent"], "ana");
  EXPECT_EQ((*ended)["transfer"]["note"], "");
  EXPECT_TRUE((*ended)["snapshot"].is_null());
  EXPECT_TRUE(after_decline->next("offer_revoked").has_value());
}

TEST_F(AgentServiceTest, AStateFrameStandsInForTheReplayOfTheWholeStream) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string declined = create_conversation();
  ASSERT_TRUE(escalate(declined));
  auto first_offer = ana->next("offer");
  ASSERT_TRUE(first_offer.has_value());
  say(ana, {{"type", "decline"},
            {"conversation_id", declined},
            {"offer_id", (*first_offer)["offer_id"]}});
  ASSERT_TRUE(ana->next("ack").has_value());
  const std::string resolved = create_conversation();
  ASSERT_TRUE(hand_to(ana, resolved));
  say(ana,
      {{"type", "resolve"}, {"conversation_id", resolved}, {"feedback", {{"justified", "yes"}}}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  const std::string held = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));
  post(held, "still there?");
  ASSERT_TRUE(ana->next("turn").has_value());
  const std::string offered = create_conversation();
  ASSERT_TRUE(escalate(offered));
  auto open_offer = ana->next("offer");
  ASSERT_TRUE(open_offer.has_value());

  // A second tab opens while the first stays connected, so the offer stays open.
  auto tab = connect(token, {{"ref", "h"}, {"state", true}});
  auto welcome = tab->next("welcome");
  auto state = tab->next("state");
  auto ack = tab->next("ack");

  ASSERT_TRUE(welcome && state && ack);
  EXPECT_EQ((*state)["last_seq"], (*welcome)["last_seq"]);
  EXPECT_EQ((*ack)["last_seq"], (*state)["last_seq"]);
  EXPECT_EQ((*ack)["ref"], "h");
  EXPECT_EQ((*state)["offers"], json::array({*open_offer})) << "as the offer frame, snapshot too";
  ASSERT_EQ((*state)["assigned"].size(), 1u);
  EXPECT_EQ((*state)["assigned"][0]["type"], "assigned");
  EXPECT_EQ((*state)["assigned"][0]["conversation_id"], held);
  for (const auto& frame : tab->frames()) {
    EXPECT_FALSE(frame.contains("seq")) << "nothing replayed: " << frame;
  }
}

TEST_F(AgentServiceTest, AStateIsReadFromTheStoreAfterARestartAndLaterEventsFollowIt) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string held = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));
  const std::string other = create_conversation();
  ASSERT_TRUE(hand_to(ana, other));
  say(ana, {{"type", "return_to_bot"}, {"conversation_id", other}});
  ASSERT_TRUE(ana->next("unassigned").has_value());

  restart_service();
  auto back = connect(token, {{"state", true}});
  auto state = back->next("state");
  post(held, "hello again");
  auto turn = back->next("turn");

  ASSERT_TRUE(state && turn);
  EXPECT_TRUE((*state)["offers"].empty());
  ASSERT_EQ((*state)["assigned"].size(), 1u);
  EXPECT_EQ((*state)["assigned"][0]["conversation_id"], held);
  EXPECT_GT((*turn)["seq"], (*state)["last_seq"]);
  EXPECT_EQ((*turn)["turn"]["text"], "hello again");
}

TEST_F(AgentServiceTest, OnlyAResumeTheStoreCannotServeGetsTheStateInstead) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string held = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));

  // A seq from another database, as after a reset, cannot be resumed from.
  auto reset = connect(token, {{"resume_after", 1'000'000}, {"state", true}});
  auto replay = connect(token, {{"resume_after", 0}, {"state", true}});
  auto old_client = connect(token, {{"resume_after", 1'000'000}});
  auto state = reset->next("state");
  auto replayed = replay->next("assigned");

  ASSERT_TRUE(state && replayed && replay->next("ack") && old_client->next("ack"));
  ASSERT_EQ((*state)["assigned"].size(), 1u);
  EXPECT_EQ((*state)["assigned"][0], *replayed);
  for (const auto& client : {replay, old_client}) {
    const auto frames = client->frames();
    EXPECT_TRUE(std::none_of(frames.begin(), frames.end(),
                             [](const json& f) { return f["type"] == "state"; }));
  }
}

TEST_F(AgentServiceTest, RestoreKeepsAssignmentsAndWaitingConversations) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string held = create_conversation();
  ASSERT_TRUE(hand_to(ana, held));
  say(ana, {{"type", "presence"}, {"status", "away"}});
  ASSERT_TRUE(ana->next("ack").has_value());
  const std::string waiting = create_conversation();
  ASSERT_TRUE(escalate(waiting));

  restart_service();
  const json queues = service_->queues_view();
  const json agents = service_->agents_view();

  EXPECT_TRUE(service_->assigned_to_agent(held));
  EXPECT_FALSE(service_->assigned_to_agent(waiting));
  EXPECT_EQ(queues["queues"][0]["waiting"], 1);
  ASSERT_EQ(agents["agents"].size(), 1u);
  EXPECT_EQ(agents["agents"][0]["load"], 1);
  EXPECT_EQ(agents["agents"][0]["connected"], false);
}

TEST_F(AgentServiceTest, AgentMessageBecomesAnAgentTurnOnlyForTheAssignedAgent) {
  auto ana = connect(add_agent("ana"));
  auto ben = connect(add_agent("ben"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));

  say(ben, {{"type", "message"}, {"ref", "b"}, {"conversation_id", conv}, {"text", "mine"}});
  say(ana, {{"type", "message"}, {"ref", "a"}, {"conversation_id", conv}, {"text", "Hallo"}});
  auto refused = ben->next("error");
  auto ack = ana->next("ack");
  auto turns = store_->list_turns(conv, 0, 10);

  ASSERT_TRUE(refused && ack && turns);
  EXPECT_EQ((*refused)["code"], "not_assigned");
  // As every routing error's message, it starts with its code.
  EXPECT_EQ((*refused)["message"].get<std::string>().rfind("not_assigned: ", 0), 0u);
  EXPECT_EQ((*ack)["turn"]["role"], "agent");
  ASSERT_EQ(turns->size(), 1u);
  EXPECT_EQ((*turns)[0].role, "agent");
  EXPECT_EQ((*turns)[0].text, "Hallo");
}

TEST_F(AgentServiceTest, EventsForASilentConnectionAreReleasedAfterTheHelloWait) {
  const std::string token = add_agent("ana");
  auto connection = std::make_shared<FakeConnection>(99);
  std::shared_ptr<http::WebSocketConnection> base = connection;
  service_->on_open(base, upgrade(token));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  const auto before = connection->frames();
  const bool held = std::none_of(before.begin(), before.end(),
                                 [](const json& f) { return f["type"] == "offer"; });

  clock_.advance_ms(1001);
  service_->tick_for_test();
  auto offer = connection->next("offer");

  EXPECT_TRUE(held);
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ((*offer)["conversation_id"], conv);
}

TEST_F(AgentServiceTest, ResumeAfterTheHelloWaitIsRefused) {
  auto connection = std::make_shared<FakeConnection>(98);
  std::shared_ptr<http::WebSocketConnection> base = connection;
  service_->on_open(base, upgrade(add_agent("ana")));
  clock_.advance_ms(1001);
  service_->tick_for_test();

  say(connection, {{"type", "hello"}, {"ref", "h"}, {"resume_after", 0}});
  say(connection, {{"type", "hello"}, {"ref", "s"}, {"state", true}});
  auto error = connection->next("error");
  auto state_error = connection->next("error");

  ASSERT_TRUE(error && state_error);
  EXPECT_EQ((*error)["code"], "resume_too_late");
  EXPECT_EQ((*error)["ref"], "h");
  EXPECT_EQ((*state_error)["code"], "resume_too_late");
  EXPECT_EQ((*state_error)["ref"], "s");
}

TEST_F(AgentServiceTest, AssignmentsReturnToTheQueueWhenTheGraceExpires) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));

  service_->on_close(ana);
  clock_.advance_ms(29'000);
  service_->tick_for_test();
  const bool kept = service_->assigned_to_agent(conv);
  clock_.advance_ms(2'000);
  service_->tick_for_test();
  auto stored = wait<std::vector<store::EventRecord>>(
      [&](auto done) { store_->append_events({}, std::move(done)); });  // a write barrier

  EXPECT_TRUE(kept);
  EXPECT_FALSE(service_->assigned_to_agent(conv));
  EXPECT_EQ(state_of(conv), "queued");
  EXPECT_TRUE(stored);
}

TEST_F(AgentServiceTest, DisablingAnAgentClosesItsConnectionsAndRequeuesItsConversations) {
  auto ana = connect(add_agent("ana"));
  auto before = store_->get_agent("ana");
  ASSERT_TRUE(before);
  store::AgentRecord after = *before;
  after.disabled = true;

  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));

  service_->on_agent_updated(*before, after);
  const json agents = service_->agents_view()["agents"];

  EXPECT_EQ(ana->close_code(), 1008);
  EXPECT_FALSE(service_->assigned_to_agent(conv));
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_FALSE(agents[0]["connected"]);
  // The connection is closing: the unassigned event is stored, not sent on it.
  for (const auto& frame : ana->frames()) EXPECT_NE(frame["type"], "unassigned") << frame;
}

TEST_F(AgentServiceTest, ARotatedTokensConnectionIsOfflineAtOnceAndIsOfferedNothingMore) {
  auto ana = connect(add_agent("ana"));
  auto before = store_->get_agent("ana");
  ASSERT_TRUE(before);
  store::AgentRecord after = *before;
  after.token_hash = crypto::sha256_hex("hat_ana_rotated");

  service_->on_agent_updated(*before, after);  // the fake peer never answers the close
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  const json agents = service_->agents_view()["agents"];
  const json queues = service_->queues_view()["queues"];

  EXPECT_EQ(ana->close_code(), 1008);
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_FALSE(agents[0]["connected"]);
  EXPECT_EQ(agents[0]["presence"], "offline");
  EXPECT_EQ(queues[0]["agents_available"], 0);
  for (const auto& frame : ana->frames()) EXPECT_NE(frame["type"], "offer") << frame;
}

TEST_F(AgentServiceTest, AConnectedAgentGetsItsChangedProfile) {
  auto ana = connect(add_agent("ana"));
  auto before = store_->get_agent("ana");
  ASSERT_TRUE(before);
  store::AgentRecord after = *before;
  after.capacity = 5;
  after.languages_json = R"(["de","en"])";

  service_->on_agent_updated(*before, after);
  auto profile = ana->next("profile");
  const json agents = service_->agents_view()["agents"];

  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ((*profile)["agent"]["id"], "ana");
  EXPECT_EQ((*profile)["agent"]["capacity"], 5);
  EXPECT_EQ((*profile)["agent"]["languages"], json::array({"de", "en"}));
  EXPECT_FALSE(profile->contains("seq"));
  EXPECT_EQ(agents[0]["capacity"], 5);
}

TEST_F(AgentServiceTest, OnlyTheOfferedOrAssignedAgentGetsTheSnapshotFrame) {
  auto holder = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(escalate(conv));
  auto offer = holder->next("offer");
  ASSERT_TRUE(offer.has_value());
  auto other = connect(add_agent("ben"));  // online after the offer went out: none for ben
  const json request = {{"type", "snapshot"}, {"ref", "s"}, {"conversation_id", conv}};

  say(holder, request);
  auto while_offered = holder->next("snapshot");
  say(other, request);
  auto refused = other->next("error");
  say(holder, {{"type", "accept"}, {"conversation_id", conv}, {"offer_id", (*offer)["offer_id"]}});
  ASSERT_TRUE(holder->next("assigned").has_value());
  say(holder, request);
  auto while_assigned = holder->next("snapshot");

  ASSERT_TRUE(while_offered && refused && while_assigned);
  EXPECT_EQ((*while_offered)["snapshot"]["note"], "x");
  EXPECT_EQ((*while_offered)["ref"], "s");
  EXPECT_EQ((*refused)["code"], "not_assigned");
  EXPECT_EQ((*refused)["message"].get<std::string>().rfind("not_assigned: ", 0), 0u);
  EXPECT_EQ((*while_assigned)["snapshot"], (*while_offered)["snapshot"]);
}

TEST_F(AgentServiceTest, WhatAnAgentIsSentUnaskedIsAuditedOncePerKind) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation("cust-1");
  ASSERT_TRUE(escalate(conv));
  post(conv, "while waiting");

  ASSERT_EQ(caught_up(accept_next(ana)).size(), 1u);
  post(conv, "first");
  post(conv, "second");
  ASSERT_TRUE(ana->next("turn").has_value());
  ASSERT_TRUE(ana->next("turn").has_value());
  auto resumed = connect("hat_ana", {{"resume_after", 0}});
  ASSERT_TRUE(resumed->next("ack").has_value());
  const auto records = audit_of(conv);

  EXPECT_EQ(
      audit_lines(records),
      (std::vector<std::string>{"offer.sent/offered/ana", "turns.caught_up/assigned/ana",
                                "turns.relayed/assigned/ana", "events.replayed/resumed/ana"}));
  for (const auto& r : records) {
    EXPECT_EQ(r.actor_kind, "agent");
    EXPECT_EQ(r.customer_id, "cust-1");
  }
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(json::parse(records[1].data_json)["turns"], 1);
}

TEST_F(AgentServiceTest, AnOfferSentAgainInAStateFrameIsAuditedAsAResume) {
  const std::string token = add_agent("ana");
  auto ana = connect(token);
  const std::string conv = create_conversation("cust-1");
  ASSERT_TRUE(escalate(conv));
  ASSERT_TRUE(ana->next("offer").has_value());

  auto tab = connect(token, {{"state", true}});
  auto state = tab->next("state");
  ASSERT_TRUE(state && tab->next("ack"));
  const auto records = audit_of(conv);

  EXPECT_EQ(audit_lines(records),
            (std::vector<std::string>{"offer.sent/offered/ana", "events.replayed/resumed/ana"}));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].customer_id, "cust-1");
  EXPECT_EQ(json::parse(records[1].data_json)["seq"], (*state)["offers"][0]["seq"]);
}

TEST_F(AgentServiceTest, EachNewAssignmentIsAuditedAgainWhenTurnsAreRelayed) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));
  post(conv, "to ana");
  ASSERT_TRUE(ana->next("turn").has_value());
  auto ben = connect(add_agent("ben"));
  say(ana, {{"type", "transfer"}, {"conversation_id", conv}, {"queue", "general"}});
  ASSERT_TRUE(ana->next("unassigned").has_value());

  ASSERT_EQ(caught_up(accept_next(ben)), std::vector<std::string>{"to ana"});
  post(conv, "to ben");
  post(conv, "to ben again");
  ASSERT_TRUE(ben->next("turn").has_value());
  ASSERT_TRUE(ben->next("turn").has_value());

  std::vector<std::string> relays;
  for (const auto& line : audit_lines(audit_of(conv))) {
    if (line.starts_with("turns.")) relays.push_back(line);
  }
  EXPECT_EQ(relays,
            (std::vector<std::string>{"turns.relayed/assigned/ana", "turns.caught_up/assigned/ben",
                                      "turns.relayed/assigned/ben"}));
}

TEST_F(AgentServiceTest, EscalationSnapshotIsTheOneStoredWithTheLatestEscalation) {
  auto ana = connect(add_agent("ana"));
  const std::string conv = create_conversation();
  const std::string never = create_conversation();
  ASSERT_TRUE(hand_to(ana, conv));
  say(ana, {{"type", "return_to_bot"}, {"conversation_id", conv}});
  ASSERT_TRUE(ana->next("unassigned").has_value());
  Escalation second;
  second.conversation_id = conv;
  second.queue = "general";
  // As the API serialises snapshots: compact, members in order.
  second.snapshot_json = R"({"note":"second","snapshot_version":2})";
  ASSERT_TRUE(wait<store::ConversationRecord>(
      [&](auto done) { service_->escalate(second, std::move(done)); }));

  auto latest = service_->escalation_snapshot(conv);
  auto missing = service_->escalation_snapshot(never);

  ASSERT_TRUE(latest) << latest.status().to_string();
  EXPECT_EQ(*latest, second.snapshot_json);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace handover::agents

// Webhook delivery against a receiver on loopback: signatures, order, retries, giving up,
// event filters and resuming from the stored cursor.
#include "handover/webhooks/webhooks.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <future>
#include <mutex>

#include "handover/http/client.hpp"
#include "handover/http/server.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "support/webhook_signature.hpp"

namespace handover::webhooks {
namespace {

using nlohmann::json;

const std::string kRawKey = "receiver-test-key-of-32-bytes!!!";

// Answers each POST with the next scripted status (200 once the script is used up) and keeps
// every request.
class Receiver final : public http::Handler {
 public:
  void handle(http::Request request, http::Responder respond) override {
    http::Response response;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      if (!script_.empty()) {
        response.status = script_.front();
        script_.pop_front();
      }
    }
    if (response.status == 429) response.set_header("Retry-After", "0");
    response.content_type = "text/plain";
    response.body = "ok";
    respond(std::move(response));
  }

  void script(std::deque<int> statuses) {
    std::lock_guard lock(mu_);
    script_ = std::move(statuses);
  }

  std::vector<http::Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::deque<int> script_;
  std::vector<http::Request> requests_;
};

bool verify(const http::Request& request) {
  return testing::verify_webhook_signature(request, kRawKey);
}

feed::Event event(std::int64_t id, const std::string& type = feed::kHandoverRequested) {
  feed::Event e;
  e.id = id;
  e.type = type;
  e.conversation_id = "c_1";
  e.created_at_ms = 1'700'000'000'000 + id;
  e.data = {{"queue", "general"}, {"n", id}};
  return e;
}

class WebhookServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "webhooks_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    open_store();

    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<http::Server>(options, receiver_, nullptr);
    ASSERT_TRUE(server_->listen().is_ok());
    running_ = std::async(std::launch::async, [this] { server_->run(); });
  }

  void TearDown() override {
    service_.reset();
    client_.stop();
    server_->shutdown(100);
    running_.wait();
    store_->close();
    std::filesystem::remove_all(dir_);
  }

  void open_store() {
    store::StoreOptions options;
    options.path = dir_ + "/handover.db";
    auto opened = store::Store::open(options, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().message();
    store_ = std::move(opened).value();
    if (store_->get_conversation("c_1").is_ok()) return;
    store::ConversationRecord record;
    record.id = "c_1";
    record.channel = "web";
    record.language = "en";
    record.token_hash = "h";
    std::promise<bool> created;
    store_->create_conversation(record, [&](auto r) { created.set_value(r.is_ok()); });
    ASSERT_TRUE(created.get_future().get());
  }

  config::WebhookConfig endpoint(std::vector<std::string> events = {feed::kHandoverRequested,
                                                                    feed::kHandoverAccepted}) {
    config::WebhookConfig w;
    w.name = "crm";
    w.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/hooks/handover";
    w.secret = "whsec_" + crypto::base64_encode(kRawKey);
    w.events = std::move(events);
    w.max_attempts = 3;
    w.initial_backoff_ms = 10;
    w.max_backoff_ms = 40;
    w.timeout_ms = 2000;
    return w;
  }

  void make(const config::WebhookConfig& w) {
    registry_ = std::make_unique<metrics::Registry>();
    WebhookDeps deps{
        client_,
        *store_,
        *registry_,
        clock_,
        [this](std::int64_t after, std::size_t limit) -> Result<std::vector<feed::Event>> {
          std::vector<feed::Event> page;
          for (const auto& e : history_) {
            if (e.id > after && page.size() < limit) page.push_back(e);
          }
          return page;
        },
        [] { return 0.5; }};
    auto created = WebhookService::create({w}, deps);
    ASSERT_TRUE(created.is_ok()) << created.status().message();
    service_ = std::move(created).value();
  }

  std::int64_t counter(const std::string& result) {
    const std::string line =
        "handover_webhook_deliveries_total{endpoint=\"crm\",result=\"" + result + "\"} ";
    const std::string text = registry_->render();
    const auto at = text.find(line);
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + line.size()));
  }

  std::int64_t stored_cursor() {
    auto cursor = store_->get_cursor("webhook:crm");
    return cursor ? *cursor : -1;
  }

  // Waits until the store has applied everything submitted so far.
  void flush_store() {
    std::promise<void> done;
    store_->probe_writable([&](Result<bool>) { done.set_value(); });
    done.get_future().wait();
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  Receiver receiver_;
  std::unique_ptr<http::Server> server_;
  std::future<void> running_;
  http::Client client_;
  std::unique_ptr<metrics::Registry> registry_;
  std::vector<feed::Event> history_;
  std::unique_ptr<WebhookService> service_;
};

TEST_F(WebhookServiceTest, DeliversSignedEventsInOrder) {
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  for (int id = 1; id <= 5; ++id) service_->on_event(event(id));
  service_->drain_for_test();

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 5u);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& r = requests[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hooks/handover");
    EXPECT_EQ(*r.header("content-type"), "application/json");
    EXPECT_EQ(*r.header("webhook-id"), "evt_" + std::to_string(i + 1));
    EXPECT_EQ(*r.header("webhook-timestamp"), "1700000000");
    EXPECT_TRUE(verify(r));
    const json body = json::parse(r.body);
    EXPECT_EQ(body["type"], "handover.requested");
    EXPECT_EQ(body["data"]["n"], static_cast<int>(i + 1));
  }
  flush_store();
  EXPECT_EQ(stored_cursor(), 5);
  EXPECT_EQ(counter("delivered"), 5);
}

TEST_F(WebhookServiceTest, ATamperedBodyFailsVerification) {
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(1));
  service_->drain_for_test();

  auto request = receiver_.requests().at(0);
  ASSERT_TRUE(verify(request));
  request.body.back() = ' ';
  EXPECT_FALSE(verify(request));
}

TEST_F(WebhookServiceTest, RetriesAfterA500WithTheSameId) {
  receiver_.script({500, 503});
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(1));
  service_->on_event(event(2));
  service_->drain_for_test();

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(*requests[0].header("webhook-id"), "evt_1");
  EXPECT_EQ(*requests[1].header("webhook-id"), "evt_1");
  EXPECT_EQ(*requests[2].header("webhook-id"), "evt_1");
  EXPECT_EQ(*requests[3].header("webhook-id"), "evt_2");
  EXPECT_EQ(requests[0].body, requests[2].body);
  for (const auto& r : requests) EXPECT_TRUE(verify(r));
  EXPECT_EQ(counter("retried"), 2);
  EXPECT_EQ(counter("delivered"), 2);
}

TEST_F(WebhookServiceTest, EventsOfAnErasedConversationAreNotSent) {
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());
  feed::Event gone = event(2);
  gone.conversation_id = "c_gone";

  service_->on_event(gone);
  service_->on_event(event(3));
  service_->drain_for_test();

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(*requests[0].header("webhook-id"), "evt_3");
  EXPECT_EQ(counter("erased"), 1);
  EXPECT_EQ(counter("delivered"), 1);
  flush_store();
  EXPECT_EQ(stored_cursor(), 3);
}

TEST_F(WebhookServiceTest, RetriesAfterA429) {
  receiver_.script({429});
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(1));
  service_->drain_for_test();

  EXPECT_EQ(receiver_.requests().size(), 2u);
  EXPECT_EQ(counter("delivered"), 1);
}

TEST_F(WebhookServiceTest, GivesUpAfterMaxAttemptsAndRecordsADeadLetter) {
  receiver_.script({500, 500, 500});
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());
  // The dead-letter event names the conversation, so it must exist.
  std::promise<void> created;
  store::ConversationRecord conversation;
  conversation.id = "c_1";
  conversation.channel = "web";
  conversation.language = "en";
  conversation.token_hash = "x";
  store_->create_conversation(conversation, [&](auto) { created.set_value(); });
  created.get_future().wait();

  service_->on_event(event(1));
  service_->on_event(event(2));
  service_->drain_for_test();
  flush_store();

  ASSERT_EQ(receiver_.requests().size(), 4u);  // three for event 1, then event 2
  EXPECT_EQ(*receiver_.requests()[3].header("webhook-id"), "evt_2");
  EXPECT_EQ(counter("dead_letter"), 1);
  EXPECT_EQ(stored_cursor(), 2);
  auto events = store_->list_events(store::EventQuery{});
  ASSERT_TRUE(events.is_ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "webhook.dead_letter");
  const json data = json::parse((*events)[0].data_json);
  EXPECT_EQ(data["endpoint"], "crm");
  EXPECT_EQ(data["webhook_id"], "evt_1");
  EXPECT_EQ(data["attempts"], 3);
}

TEST_F(WebhookServiceTest, AClientErrorIsNotRetried) {
  receiver_.script({400});
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(1));
  service_->drain_for_test();

  EXPECT_EQ(receiver_.requests().size(), 1u);
  EXPECT_EQ(counter("dead_letter"), 1);
}

TEST_F(WebhookServiceTest, SendsOnlyTheSubscribedTypes) {
  make(endpoint({feed::kHandoverResolved}));
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(1, feed::kHandoverRequested));
  service_->on_event(event(2, feed::kHandoverResolved));
  service_->on_event(event(3, feed::kTurnCreated));
  feed::Event transient = event(0, feed::kHandoverResolved);
  service_->on_event(transient);
  service_->drain_for_test();

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(*requests[0].header("webhook-id"), "evt_2");
}

TEST_F(WebhookServiceTest, CatchesUpFromTheCursorAfterARestart) {
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());
  service_->on_event(event(1));
  service_->on_event(event(2));
  service_->drain_for_test();
  flush_store();
  service_.reset();
  ASSERT_EQ(stored_cursor(), 2);
  // While the server was down, events 3 to 5 were stored; 6 arrives live during catch-up.
  for (int id = 1; id <= 5; ++id) history_.push_back(event(id));

  make(endpoint());
  service_->on_event(event(5));  // live, already in the history: sent once
  service_->on_event(event(6));
  ASSERT_TRUE(service_->start().is_ok());
  service_->drain_for_test();

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 6u);
  for (std::size_t i = 2; i < 6; ++i) {
    EXPECT_EQ(*requests[i].header("webhook-id"), "evt_" + std::to_string(i + 1));
  }
}

TEST_F(WebhookServiceTest, ANewEndpointStoresItsStartingPointAtOnce) {
  receiver_.script({500, 500, 500});
  make(endpoint());
  ASSERT_TRUE(service_->start().is_ok());

  service_->on_event(event(7));
  flush_store();

  EXPECT_GE(stored_cursor(), 6);  // 6 until event 7 is done with, then 7
}

TEST(WebhookServiceCreate, RefusesABadSecretOrUrl) {
  metrics::Registry registry;
  http::Client client;
  FakeClock clock;
  config::WebhookConfig w;
  w.name = "x";
  w.url = "http://127.0.0.1:1/";
  w.secret = "nope";
  w.events = {"turn.created"};
  store::StoreOptions options;
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "wh_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  options.path = pattern + "/db";
  auto store = store::Store::open(options, clock);
  ASSERT_TRUE(store.is_ok());
  metrics::Registry other_registry;

  auto bad_secret = WebhookService::create({w}, {client, **store, registry, clock, {}, {}});
  w.secret = "whsec_" + crypto::base64_encode(kRawKey);
  w.url = "https://example.com/";
  auto bad_url = WebhookService::create({w}, {client, **store, other_registry, clock, {}, {}});

  EXPECT_EQ(bad_secret.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument);
  (*store)->close();
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace handover::webhooks

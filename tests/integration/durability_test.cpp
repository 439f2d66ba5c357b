// Persistence across restarts, kill -9 under load, concurrent posts and graceful shutdown.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

HttpResponse send(HttpClient& client, const std::string& method, const std::string& target,
                  const std::string& body = {}) {
  std::string headers = ServerProcess::bearer(kBotKey);
  if (!body.empty()) headers += "Content-Type: application/json\r\n";
  return client.request(method, target, body, headers);
}

std::string create(std::uint16_t port) {
  HttpClient client(port);
  auto r = send(client, "POST", "/v1/conversations", R"({"language":"en"})");
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json().value("id", "");
}

std::string turn_body(const std::string& text) {
  return json{{"role", "user"}, {"text", text}}.dump();
}

TEST(Durability, EverythingSurvivesARestart) {
  ServerProcess server;
  ASSERT_TRUE(server.start()) << server.log();
  const std::string id = create(server.port());
  {
    HttpClient client(server.port());
    for (int i = 1; i <= 5; ++i) {
      ASSERT_EQ(send(client, "POST", "/v1/conversations/" + id + "/turns",
                     turn_body("turn " + std::to_string(i))).status, 201);
    }
  }

  EXPECT_EQ(server.stop(), 0) << server.log();
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient client(server.port());
  auto turns = send(client, "GET", "/v1/conversations/" + id + "/turns");
  auto next = send(client, "POST", "/v1/conversations/" + id + "/turns", turn_body("after"));

  ASSERT_EQ(turns.status, 200);
  ASSERT_EQ(turns.json()["turns"].size(), 5u);
  EXPECT_EQ(turns.json()["turns"][4]["text"], "turn 5");
  EXPECT_EQ(next.json()["turn"]["seq"], 6);
}

TEST(Durability, ConcurrentPostsToOneConversationGetGapFreeOrderedSeq) {
  ServerProcess server(ServerSettings::yaml("http:\n  threads: 2\n"));
  ASSERT_TRUE(server.start()) << server.log();
  const std::string id = create(server.port());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(server.port());
      for (int i = 0; i < kPerThread; ++i) {
        auto r = send(client, "POST", "/v1/conversations/" + id + "/turns",
                      turn_body(std::to_string(t) + ":" + std::to_string(i)));
        if (r.status == 201) seqs[t].push_back(r.json()["turn"]["seq"].get<std::int64_t>());
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::int64_t> all;
  for (const auto& per : seqs) {
    EXPECT_EQ(per.size(), static_cast<std::size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(per.begin(), per.end()));
    all.insert(per.begin(), per.end());
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  HttpClient client(server.port());
  auto listed = send(client, "GET", "/v1/conversations/" + id + "/turns?limit=500");
  EXPECT_EQ(listed.json()["turns"].size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(Durability, KillNineLosesNoAcknowledgedTurn) {
  ServerProcess server;
  ASSERT_TRUE(server.start()) << server.log();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(create(server.port()));
  std::mutex mu;
  std::map<std::pair<std::string, std::int64_t>, std::string> acked;  // (conv, seq) -> text
  std::atomic<int> ack_count{0};
  std::atomic<bool> stop{false};

  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      HttpClient client(server.port(), 2000);
      // Bounded: stops when told, when the server dies, or after 20,000 posts.
      for (int i = 0; i < 20000 && !stop; ++i) {
        const std::string& id = ids[static_cast<std::size_t>((t + i) % 4)];
        const std::string text = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto r = send(client, "POST", "/v1/conversations/" + id + "/turns", turn_body(text));
        if (r.status != 201) break;
        std::lock_guard lock(mu);
        acked[{id, r.json()["turn"]["seq"].get<std::int64_t>()}] = text;
        ++ack_count;
      }
    });
  }
  for (int waited = 0; ack_count < 400 && waited < 2000; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server.kill9();
  stop = true;
  for (auto& w : writers) w.join();

  ASSERT_GE(ack_count.load(), 100);
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient client(server.port());
  std::size_t found = 0;
  for (const auto& id : ids) {
    std::int64_t expected_seq = 1;
    for (std::int64_t after = 0;;) {
      const json page = send(client, "GET", "/v1/conversations/" + id +
                                                "/turns?limit=500&after=" + std::to_string(after))
                            .json();
      ASSERT_TRUE(page.contains("turns"));
      if (page["turns"].empty()) break;
      for (const auto& turn : page["turns"]) {
        const auto seq = turn["seq"].get<std::int64_t>();
        EXPECT_EQ(seq, expected_seq++);
        auto it = acked.find({id, seq});
        if (it != acked.end()) {
          EXPECT_EQ(turn["text"], it->second);
          ++found;
        }
      }
      after = page["next_after"].get<std::int64_t>();
    }
  }
  EXPECT_EQ(found, acked.size());
}

// Writes what a server killed right after committing an escalating turn leaves behind when
// the escalation was to follow as its own write (an earlier turn of the conversation was still
// uncommitted as the turn was decided): the turn with its stored decision, and no handover.
void append_cut_off_escalation(const std::string& db_path, const std::string& id) {
  store::StoreOptions options;
  options.path = db_path;
  auto opened = store::Store::open(options, SystemClock::instance());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  store::AppendTurnRequest request;
  request.turn.conversation_id = id;
  request.turn.role = "user";
  request.turn.text = "I want to talk to a human";
  request.turn.content_hash = "cut-off";
  request.turn.evaluation_json =
      R"({"decision":{"action":"escalate","priority":100,"queue":"general",)"
      R"("rule":"explicit-request","skills":[]},"fired":[]})";
  std::promise<Result<store::AppendTurnOutcome>> appended;
  (*opened)->append_turn(std::move(request), [&appended](Result<store::AppendTurnOutcome> r) {
    appended.set_value(std::move(r));
  });
  const Result<store::AppendTurnOutcome> result = appended.get_future().get();
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  (*opened)->close();
}

TEST(Durability, AnEscalationCutOffAfterItsTurnCommittedIsDoneOnRestart) {
  ServerProcess server;
  ASSERT_TRUE(server.start()) << server.log();
  const std::string id = create(server.port());
  ASSERT_EQ(server.stop(), 0) << server.log();
  append_cut_off_escalation(server.db_path(), id);

  ASSERT_TRUE(server.start()) << server.log();
  HttpClient client(server.port());
  auto conversation = send(client, "GET", "/v1/conversations/" + id);
  auto snapshot = client.request("GET", "/v1/conversations/" + id + "/snapshot", "",
                                 ServerProcess::bearer(kReadKey));

  EXPECT_EQ(conversation.json().value("state", ""), "queued") << server.log();
  ASSERT_EQ(snapshot.status, 200) << snapshot.body;
  EXPECT_EQ(snapshot.json()["trigger"]["rule"], "explicit-request");
  EXPECT_EQ(snapshot.json()["trigger"]["turn_seq"], 1);
}

TEST(Durability, ShutdownFinishesTheRequestInFlightAndExitsZero) {
  ServerProcess server;
  ASSERT_TRUE(server.start()) << server.log();
  const std::string id = create(server.port());
  HttpClient client(server.port());
  const std::string body = turn_body("sent during shutdown");

  // "100 Continue" proves the server has read the header, so the request is in flight.
  auto interim = client.raw_interim(
      "POST /v1/conversations/" + id + "/turns HTTP/1.1\r\nHost: t\r\n" +
      ServerProcess::bearer(kBotKey) +
      "Content-Type: application/json\r\nExpect: 100-continue\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  ASSERT_EQ(interim.status, 100);
  server.terminate();
  // Once new connections are refused the server is draining.
  for (int i = 0; i < 500 && HttpClient(server.port(), 200).connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto final_response = client.raw(body);

  EXPECT_EQ(final_response.status, 201) << server.log();
  EXPECT_TRUE(final_response.closed);
  EXPECT_EQ(server.wait(), 0);
}

// Holds the database's write lock from outside the server, as a backup or a shell might.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return;
    held_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() {
    if (held_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  bool held() const { return held_; }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

// The value of an unlabelled metric in /metrics, or -1.
double metric(std::uint16_t port, const std::string& name) {
  HttpClient client(port);
  const auto r = send(client, "GET", "/metrics");
  const std::size_t at = r.body.find("\n" + name + " ");
  if (r.status != 200 || at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

// With the database locked by another process the store can neither write the conversation
// rows it holds back nor run its final checkpoint, each of which would wait out SQLite's busy
// timeout. The stop still ends within shutdown_grace_ms and the stop allowance (3 s), not
// reported as clean, and the database opens as before.
TEST(Durability, ShutdownEndsInBoundedTimeWhileAnotherProcessHoldsTheDatabaseLock) {
  ServerProcess server(ServerSettings::with({"HANDOVER_HTTP_SHUTDOWN_GRACE_MS=100"}, {}));
  ASSERT_TRUE(server.start()) << server.log();
  const std::string id = create(server.port());
  HttpClient client(server.port());
  // Rows are written at most once a second: a turn soon after the last one leaves its row
  // behind, for the stop to write.
  for (int i = 0; i < 20 && metric(server.port(), "handover_store_conversation_rows_behind") < 1;
       ++i) {
    ASSERT_EQ(send(client, "POST", "/v1/conversations/" + id + "/turns", turn_body("hi")).status,
              201);
  }
  ASSERT_GE(metric(server.port(), "handover_store_conversation_rows_behind"), 1);
  auto lock = std::make_unique<WriteLock>(server.db_path());
  ASSERT_TRUE(lock->held());

  const auto signalled = std::chrono::steady_clock::now();
  server.terminate();
  const int code = server.wait();
  const auto took = std::chrono::steady_clock::now() - signalled;
  lock.reset();

  EXPECT_LT(took, std::chrono::seconds(7)) << server.log();
  EXPECT_EQ(code, 1) << server.log();
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient after(server.port());
  EXPECT_EQ(send(after, "GET", "/v1/conversations/" + id).status, 200);
  EXPECT_EQ(send(after, "POST", "/v1/conversations/" + id + "/turns", turn_body("again")).status,
            201);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace handover::testing

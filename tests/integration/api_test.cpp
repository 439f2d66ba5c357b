// The REST API end to end against the real server binary.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "api_fixture.hpp"
#include "handover/util/crypto.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

TEST_F(ApiTest, CreateConversationReturnsIdTokenAndBotState) {
  auto r = call("POST", "/v1/conversations",
                R"({"channel":"web","language":"de","customer":{"id":"cust-1","name":"Ana",)"
                R"("tier":"gold","lifetime_value":1200.5},"metadata":{"page":"/checkout"}})");

  ASSERT_EQ(r.status, 201) << r.body;
  const json body = r.json();
  EXPECT_EQ(body["state"], "bot");
  EXPECT_TRUE(body["id"].get<std::string>().starts_with("c_"));
  EXPECT_GE(body["token"].get<std::string>().size(), 40u);
  EXPECT_EQ(body["customer"]["tier"], "gold");
  EXPECT_EQ(body["metadata"]["page"], "/checkout");
  EXPECT_FALSE(body["created_at"].get<std::string>().empty());
  EXPECT_EQ(r.header("location"), "/v1/conversations/" + body["id"].get<std::string>());
}

TEST_F(ApiTest, PostTurnsAssignsGapFreeSeqAndReturnsState) {
  const auto conv = create_conversation();
  const std::string id = conv["id"];

  auto first = call("POST", turns_path(id), R"({"role":"user","text":"Hallo"})");
  auto second = call("POST", turns_path(id),
                     R"({"role":"bot","text":"Wie kann ich helfen?","bot":{"confidence":0.42,)"
                     R"("intent":"greeting","fallback":false},"actions":[{"name":"lookup_order",)"
                     R"("status":"ok","data":{"order":"A-1"}}]})");

  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(first.json()["turn"]["seq"], 1);
  EXPECT_EQ(second.json()["turn"]["seq"], 2);
  EXPECT_EQ(second.json()["state"], "bot");
  EXPECT_DOUBLE_EQ(second.json()["turn"]["bot"]["confidence"].get<double>(), 0.42);
  EXPECT_EQ(second.json()["turn"]["actions"][0]["data"]["order"], "A-1");
}

TEST_F(ApiTest, ANegativeZeroConfidenceIsStoredAsZero) {
  const std::string id = create_conversation()["id"];

  auto r = call("POST", turns_path(id), R"({"role":"bot","text":"x","bot":{"confidence":-0.0}})");

  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find(R"("confidence":0.0)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(":-0"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", turns_path(id)).body.find(":-0"), std::string::npos);
}

TEST_F(ApiTest, AnEmptyQueryStringNamesNoParameter) {
  const std::string id = create_conversation()["id"];
  ASSERT_EQ(call("POST", turns_path(id), R"({"role":"user","text":"one"})").status, 201);
  ASSERT_EQ(call("POST", turns_path(id), R"({"role":"user","text":"two"})").status, 201);

  auto bare = call("GET", turns_path(id) + "?");
  auto gaps = call("GET", turns_path(id) + "?&&limit=1&");

  ASSERT_EQ(bare.status, 200) << bare.body;
  EXPECT_EQ(bare.json()["turns"].size(), 2u);
  ASSERT_EQ(gaps.status, 200) << gaps.body;
  EXPECT_EQ(gaps.json()["turns"].size(), 1u);
}

TEST_F(ApiTest, TextsKeepTabsAndLineBreaksButNotOtherControlCharacters) {
  const std::string id = create_conversation()["id"];

  auto kept = call("POST", turns_path(id), R"({"role":"user","text":"line one\n\tline two\r\n"})");
  auto refused = call("POST", turns_path(id), R"({"role":"user","text":"bell\u0007"})");

  ASSERT_EQ(kept.status, 201) << kept.body;
  EXPECT_EQ(kept.json()["turn"]["text"], "line one\n\tline two\r\n");
  ASSERT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("control character U+0007 at byte 4"), std::string::npos)
      << refused.body;
}

TEST_F(ApiTest, ChunkedBodiesWithShortExtensionsAreRead) {
  const std::string id = create_conversation()["id"];
  const std::string body = R"({"role":"user","text":"hi"})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  HttpClient client(port());

  const HttpResponse r = client.raw(
      "POST " + turns_path(id) + " HTTP/1.1\r\nHost: t\r\n" + ServerProcess::bearer(kBotKey) +
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + size +
      ";part=1\r\n" + body + "\r\n0\r\n\r\n");

  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(ApiTest, GetConversationAndPageThroughTurns) {
  const std::string id = create_conversation()["id"];
  for (int i = 1; i <= 5; ++i) {
    const std::string body = R"({"role":"user","text":"msg )" + std::to_string(i) + "\"}";
    auto r = call("POST", turns_path(id), body);
    ASSERT_EQ(r.status, 201);
  }

  auto conv = call("GET", "/v1/conversations/" + id);
  auto page = call("GET", turns_path(id) + "?after=2&limit=2");
  auto rest = call("GET", turns_path(id) + "?after=" + page.json()["next_after"].dump());

  ASSERT_EQ(conv.status, 200);
  EXPECT_EQ(conv.json()["last_seq"], 5);
  EXPECT_FALSE(conv.json().contains("token"));
  ASSERT_EQ(page.status, 200) << page.body;
  ASSERT_EQ(page.json()["turns"].size(), 2u);
  EXPECT_EQ(page.json()["turns"][0]["seq"], 3);
  EXPECT_EQ(page.json()["turns"][1]["text"], "msg 4");
  ASSERT_EQ(rest.json()["turns"].size(), 1u);
  EXPECT_EQ(rest.json()["turns"][0]["seq"], 5);
  // A cursor past the end finds no turns and does not move the conversation's last seq.
  auto beyond = call("GET", turns_path(id) + "?after=9223372036854775807");
  ASSERT_EQ(beyond.status, 200) << beyond.body;
  EXPECT_TRUE(beyond.json()["turns"].empty());
  EXPECT_EQ(beyond.json()["last_seq"], 5);
  EXPECT_EQ(beyond.json()["next_after"], 9223372036854775807LL);
}

TEST_F(ApiTest, RetryWithSameTurnIdReturnsStoredTurnAndStoresNothing) {
  const std::string id = create_conversation()["id"];
  const std::string body = R"({"id":"t-1","role":"user","text":"Wo ist mein Paket?"})";

  auto first = call("POST", turns_path(id), body);
  auto retry = call("POST", turns_path(id), body);
  auto changed = call("POST", turns_path(id), R"({"id":"t-1","role":"user","text":"anders"})");
  auto list = call("GET", turns_path(id));

  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.json()["turn"]["seq"], first.json()["turn"]["seq"]);
  EXPECT_EQ(changed.status, 409);
  EXPECT_EQ(changed.json()["type"], "/problems/turn-id-conflict");
  EXPECT_EQ(changed.json()["detail"], "client turn t-1 of conversation " + id +
                                          " was stored with a different body: text differs "
                                          "from the stored turn");
  EXPECT_EQ(list.json()["turns"].size(), 1u);
}

TEST_F(ApiTest, ATurnIdConflictNamesTheMembersThatDifferFromTheStoredTurn) {
  const std::string id = create_conversation()["id"];
  ASSERT_EQ(call("POST", turns_path(id),
                 R"({"id":"b-1","role":"bot","text":"Ich sehe nach.","bot":{"confidence":0.5},)"
                 R"("metadata":{"order":"A-1"}})")
                .status,
            201);
  struct Case {
    const char* body;
    const char* members;
  };
  const Case cases[] = {
      {R"({"id":"b-1","role":"user","text":"Ich sehe nach.","metadata":{"order":"A-1"}})",
       "role, bot differ"},
      {R"({"id":"b-1","role":"bot","text":"Ich sehe nach.","bot":{"confidence":0.6},)"
       R"("metadata":{"order":"A-1"}})",
       "bot differs"},
      {R"({"id":"b-1","role":"bot","text":"Ich sehe nach.","bot":{"confidence":0.5},)"
       R"("actions":[{"name":"x"}],"metadata":{"order":"A-2"}})",
       "actions, metadata differ"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);

    auto r = call("POST", turns_path(id), c.body);

    ASSERT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(r.json()["type"], "/problems/turn-id-conflict");
    EXPECT_EQ(r.json()["detail"], "client turn b-1 of conversation " + id +
                                      " was stored with a different body: " + c.members +
                                      " from the stored turn");
  }
}

// Explicit default values mean what their absence means, so spelling them out (or leaving
// them out) on a retry is still the same body; the stored turn keeps neither.
TEST_F(ApiTest, ExplicitDefaultsInARetryAreTheSameBody) {
  const std::string id = create_conversation()["id"];
  const std::string bare = R"({"id":"b-2","role":"bot","text":"Moment.","bot":{"confidence":0.5}})";
  const std::string spelled =
      R"({"id":"b-2","role":"bot","text":"Moment.","bot":{"confidence":0.5,"fallback":false,)"
      R"("unreachable":false},"actions":[],"metadata":{}})";
  const std::string only_defaults = R"({"id":"b-3","role":"bot","text":"Ja.","bot":{},)"
                                    R"("actions":[],"metadata":{}})";

  auto first = call("POST", turns_path(id), bare);
  auto spelled_retry = call("POST", turns_path(id), spelled);
  auto defaults_first = call("POST", turns_path(id), only_defaults);
  auto bare_retry = call("POST", turns_path(id), R"({"id":"b-3","role":"bot","text":"Ja."})");

  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(spelled_retry.status, 200) << spelled_retry.body;
  EXPECT_EQ(spelled_retry.json(), first.json());
  ASSERT_EQ(defaults_first.status, 201) << defaults_first.body;
  EXPECT_FALSE(defaults_first.json()["turn"].contains("bot")) << defaults_first.body;
  EXPECT_FALSE(defaults_first.json()["turn"].contains("actions")) << defaults_first.body;
  EXPECT_FALSE(defaults_first.json()["turn"].contains("metadata")) << defaults_first.body;
  ASSERT_EQ(bare_retry.status, 200) << bare_retry.body;
  EXPECT_EQ(bare_retry.json(), defaults_first.json());
  EXPECT_EQ(call("GET", turns_path(id)).json()["turns"].size(), 2u);
}

TEST_F(ApiTest, AnUnknownConversationIsNamedInTheProblemWithoutInternals) {
  auto r = call("GET", "/v1/conversations/c_doesnotexist");

  ASSERT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["detail"], "no conversation c_doesnotexist");
}

// A retry is recognised by the hash of its content, and hashes stored by earlier versions must
// keep matching: the hashed text is the dump() of the content with the JSON parts as strings.
TEST_F(ApiTest, TheStoredContentHashKeepsItsForm) {
  const std::string id = create_conversation()["id"];
  auto posted = call("POST", turns_path(id),
                     R"({"id":"t-h","role":"bot","text":"Gr\u00fc\u00dfe \"A\"\n",)"
                     R"("bot":{"confidence":0.5},"actions":[{"name":"x","status":"ok"}],)"
                     R"("metadata":{"k":"v"}})");
  ASSERT_EQ(posted.status, 201) << posted.body;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(server_->db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT content_hash FROM turns WHERE client_turn_id = 't-h'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const std::string stored = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  const json canonical = {{"role", "bot"},
                          {"text", "Grüße \"A\"\n"},
                          {"bot", R"({"confidence":0.5})"},
                          {"actions", R"([{"name":"x","status":"ok"}])"},
                          {"metadata", R"({"k":"v"})"}};
  EXPECT_EQ(stored, crypto::sha256_hex(canonical.dump()));
}

// Earlier versions stored explicit defaults as sent and hashed them so: an exact retry of
// such a turn must still be a replay.
TEST_F(ApiTest, ATurnStoredWithExplicitDefaultsByAnEarlierVersionStillReplays) {
  const std::string id = create_conversation()["id"];
  const std::string spelled = R"({"id":"t-old","role":"bot","text":"Moment.",)"
                              R"("bot":{"confidence":0.5,"fallback":false},"metadata":{}})";
  ASSERT_EQ(call("POST", turns_path(id), spelled).status, 201);
  const json earlier = {{"role", "bot"},
                        {"text", "Moment."},
                        {"bot", R"({"confidence":0.5,"fallback":false})"},
                        {"actions", ""},
                        {"metadata", "{}"}};
  ASSERT_EQ(server_->stop(), 0) << server_->log();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(server_->db_path().c_str(), &db), SQLITE_OK);
  const std::string rewrite =
      "UPDATE turns SET bot_json = '{\"confidence\":0.5,\"fallback\":false}', "
      "metadata_json = '{}', content_hash = '" + crypto::sha256_hex(earlier.dump()) +
      "' WHERE client_turn_id = 't-old'";
  const int rc = sqlite3_exec(db, rewrite.c_str(), nullptr, nullptr, nullptr);
  const int changed = sqlite3_changes(db);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK);
  ASSERT_EQ(changed, 1);
  ASSERT_TRUE(server_->start()) << server_->log();

  auto retry = call("POST", turns_path(id), spelled);

  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.json()["turn"]["bot"], json({{"confidence", 0.5}, {"fallback", false}}));
  EXPECT_EQ(retry.json()["turn"]["metadata"], json::object());
}

TEST_F(ApiTest, WidgetKeyOnlyCreatesAndTokenIsBoundToItsConversation) {
  auto created = call("POST", "/v1/conversations", R"({"language":"en"})", kWidgetKey);
  ASSERT_EQ(created.status, 201);
  const std::string id = created.json()["id"];
  const std::string token = created.json()["token"];
  const std::string other = create_conversation()["id"];

  auto widget_reads = call("GET", "/v1/conversations/" + id, {}, kWidgetKey);
  auto user_turn = call("POST", turns_path(id), R"({"role":"user","text":"hi"})", token);
  auto bot_turn = call("POST", turns_path(id), R"({"role":"bot","text":"hi"})", token);
  auto token_reads = call("GET", turns_path(id), {}, token);
  auto other_conv = call("GET", "/v1/conversations/" + other, {}, token);
  auto forged = call("GET", "/v1/conversations/" + id, {}, id + ".forged-secret");

  EXPECT_EQ(widget_reads.status, 403);
  EXPECT_EQ(user_turn.status, 201) << user_turn.body;
  EXPECT_EQ(bot_turn.status, 403);
  EXPECT_EQ(token_reads.status, 200);
  EXPECT_EQ(token_reads.json()["turns"].size(), 1u);
  EXPECT_EQ(other_conv.status, 403);
  EXPECT_EQ(forged.status, 401);
}

// Order and cart values in metadata raise a conversation's value, its priority and its
// queue: the customer's browser, holding only the token, may not send them.
TEST_F(ApiTest, AConversationTokenMayNotPostMetadata) {
  auto created = call("POST", "/v1/conversations", R"({"language":"en"})", kWidgetKey);
  ASSERT_EQ(created.status, 201);
  const std::string id = created.json()["id"];
  const std::string token = created.json()["token"];
  const std::string priced =
      R"({"role":"user","text":"this is bad","metadata":{"order_value":1e8}})";

  auto from_token = call("POST", turns_path(id), priced, token);
  auto from_bot = call("POST", turns_path(id), priced);

  EXPECT_EQ(from_token.status, 403) << from_token.body;
  EXPECT_EQ(from_token.json().value("type", ""), "/problems/forbidden");
  EXPECT_NE(from_token.json().value("detail", "").find("metadata"), std::string::npos);
  EXPECT_EQ(from_bot.status, 201) << from_bot.body;
  // Nothing of the refused turn was stored: the bot's turn is the first.
  EXPECT_EQ(from_bot.json()["turn"]["seq"], 1);
}

// The narrator's messages and the built-in bot's replies are stored under ids of their own;
// a client that took one first would make the server's turn a replay, never stored.
TEST_F(ApiTest, TheServersOwnTurnIdsAreRefused) {
  const std::string id = create_conversation()["id"];
  for (const char* taken : {"narrator:3", "bot-reply:1", "bot-unavailable:2", "NARRATOR:3",
                            "Bot-Reply:1:2"}) {
    SCOPED_TRACE(taken);
    const json body = {{"id", taken}, {"role", "user"}, {"text", "hello"}};
    auto refused = call("POST", turns_path(id), body.dump());
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_NE(refused.body.find("/id"), std::string::npos) << refused.body;
  }
  // Ids that only look alike stay the client's.
  for (const char* own : {"narrator", "my-narrator:3", "bot-reply"}) {
    SCOPED_TRACE(own);
    const json body = {{"id", own}, {"role", "user"}, {"text", "hello"}};
    EXPECT_EQ(call("POST", turns_path(id), body.dump()).status, 201);
  }
}

TEST_F(ApiTest, CredentialsAndScopesAreEnforced) {
  const std::string id = create_conversation()["id"];

  auto none = call("POST", turns_path(id), R"({"role":"user","text":"x"})", "");
  auto wrong = call("POST", "/v1/conversations", "{}", "not-a-key");
  auto read_posts = call("POST", turns_path(id), R"({"role":"user","text":"x"})", kReadKey);
  auto read_reads = call("GET", turns_path(id), {}, kReadKey);
  auto read_creates = call("POST", "/v1/conversations", "{}", kReadKey);

  EXPECT_EQ(none.status, 401);
  EXPECT_FALSE(none.header("www-authenticate").empty());
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(read_posts.status, 403);
  EXPECT_EQ(read_reads.status, 200);
  EXPECT_EQ(read_creates.status, 403);
}

TEST_F(ApiTest, CorsPreflightAndHeaders) {
  const std::string allowed = "Origin: http://widget.example\r\n";
  const std::string preflight = "Access-Control-Request-Method: POST\r\n"
                                "Access-Control-Request-Headers: authorization, content-type\r\n";

  auto ok = call("OPTIONS", "/v1/conversations", {}, "", allowed + preflight);
  auto refused = call("OPTIONS", "/v1/conversations", {}, "",
                      "Origin: http://evil.example\r\n" + preflight);
  auto simple = call("POST", "/v1/conversations", "{}", kWidgetKey, allowed);

  EXPECT_EQ(ok.status, 204);
  EXPECT_EQ(ok.header("access-control-allow-origin"), "http://widget.example");
  EXPECT_NE(ok.header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(ok.header("access-control-allow-headers"),
            "Authorization, Content-Type, Last-Event-ID, X-Request-Id");  // fetch-based SSE resumes
  EXPECT_EQ(refused.status, 403);
  EXPECT_TRUE(refused.header("access-control-allow-origin").empty());
  EXPECT_EQ(simple.status, 201);
  EXPECT_EQ(simple.header("access-control-allow-origin"), "http://widget.example");
}

TEST_F(ApiTest, TurnMetadataIsStoredAndListed) {
  const std::string id = create_conversation()["id"];

  auto posted = call("POST", turns_path(id),
                     R"({"role":"user","text":"Warenkorb","metadata":{"cart_value":249.9}})");
  auto listed = call("GET", turns_path(id));

  ASSERT_EQ(posted.status, 201);
  ASSERT_EQ(listed.json()["turns"].size(), 1u);
  EXPECT_DOUBLE_EQ(listed.json()["turns"][0]["metadata"]["cart_value"].get<double>(), 249.9);
}

TEST_F(ApiTest, HealthEndpoints) {
  EXPECT_EQ(call("GET", "/livez", {}, "", "Authorization: Basic Zm9vOmJhcg==\r\n").status, 200);
  EXPECT_EQ(call("GET", "/livez", {}, "").status, 200);
  EXPECT_EQ(call("GET", "/healthz", {}, "").status, 200);
  auto ready = call("GET", "/readyz", {}, "");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json()["status"], "ready");
}

TEST_F(ApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpClient client(port());

  auto a = client.request("GET", "/livez");
  auto b = client.request("GET", "/healthz");
  auto c = client.request("GET", "/v1/conversations", {}, ServerProcess::bearer(kBotKey));

  EXPECT_EQ(a.status, 200);
  EXPECT_FALSE(a.closed);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(c.status, 405);
  EXPECT_EQ(c.header("allow"), "POST, OPTIONS");
}

TEST_F(ApiTest, MetricsPassPromtool) {
  call("GET", "/livez", {}, "");
  auto r = call("GET", "/metrics", {}, "");
  ASSERT_EQ(r.status, 200);
  const std::string livez_line =
      "handover_http_requests_total{method=\"GET\",route=\"/livez\",code=\"200\"}";
  EXPECT_NE(r.body.find(livez_line),
            std::string::npos);
  EXPECT_NE(r.body.find("handover_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("handover_store_commit_batch_size_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("handover_http_connections_open"), std::string::npos);
  EXPECT_NE(r.body.find("\nhandover_store_checkpoints_total "), std::string::npos);
  EXPECT_NE(r.body.find("\nhandover_store_writer_checkpoints_total "), std::string::npos);

  const std::string path = server_->dir() + "/metrics.txt";
  std::ofstream(path) << r.body;
  const std::string cmd = "promtool check metrics < " + path + " > " + path + ".out 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << std::ifstream(path + ".out").rdbuf();
}

// The server is linked with jemalloc (src/server/CMakeLists.txt); build_info says which malloc
// the running process answers to, so a build that silently fell back to glibc shows here.
TEST_F(ApiTest, BuildInfoNamesTheAllocatorInUse) {
  auto r = call("GET", "/metrics", {}, "");

  ASSERT_EQ(r.status, 200);
  const std::size_t info = r.body.find("handover_build_info{");
  ASSERT_NE(info, std::string::npos);
  const std::string line = r.body.substr(info, r.body.find('\n', info) - info);
  EXPECT_NE(line.find("allocator=\"jemalloc "), std::string::npos) << line;
}

TEST_F(ApiTest, MessageTextNeverReachesTheLog) {
  const std::string id = create_conversation()["id"];
  const std::string marker = "SECRET-MARKER-4711";

  auto r = call("POST", turns_path(id), R"({"role":"user","text":"my iban )" + marker + "\"}");

  ASSERT_EQ(r.status, 201);
  // The access line is written once the response is on the wire, so wait for it.
  const std::string access = "route=/v1/conversations/{id}/turns status=201";
  const std::string log = server_->wait_for_log(access);
  EXPECT_NE(log.find(access), std::string::npos);
  EXPECT_EQ(log.find(marker), std::string::npos);
}

}  // namespace
}  // namespace handover::testing

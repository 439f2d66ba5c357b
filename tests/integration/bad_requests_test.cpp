// A table of malformed or refused requests: each gets the right status and a problem
// body, and the server keeps serving afterwards.
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace handover::testing {
namespace {

struct BadCase {
  const char* name;
  std::string bytes;        // the whole request; "{TURNS}" is replaced by a turns path
  int status;
  const char* type;         // expected problem type
  const char* pointer = ""; // expected JSON pointer of the first error, if any
  bool closes = false;      // the server must close the connection
};

std::string post(const std::string& target, const std::string& body,
                 const std::string& content_type = "application/json",
                 const std::string& key = kBotKey) {
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: t\r\n";
  if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
  if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  return req + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get(const std::string& target, const std::string& key = kBotKey) {
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\n";
  if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
  return req + "\r\n";
}

std::vector<BadCase> cases() {
  const std::string turns = "{TURNS}";
  const std::string auth = "Authorization: Bearer " + std::string(kBotKey) + "\r\n";
  const std::string json_ct = "Content-Type: application/json\r\n";
  return {
      {"malformed json", post(turns, R"({"role":)"), 400, "/problems/malformed-json"},
      {"invalid utf8", post(turns, "{\"role\":\"user\",\"text\":\"\xff\xfe\"}"), 400,
       "/problems/invalid-utf8"},
      {"lone surrogate", post(turns, R"({"role":"user","text":"\ud800"})"), 400,
       "/problems/invalid-unicode"},
      {"array body", post(turns, R"([1,2])"), 400, "/problems/malformed-json"},
      {"duplicate member", post(turns, R"({"role":"user","role":"bot","text":"x"})"), 400,
       "/problems/duplicate-member"},
      {"number overflow", post(turns, R"({"role":"user","text":"x","n":1e400})"), 400,
       "/problems/malformed-json"},
      {"role wrong type", post(turns, R"({"role":7,"text":"x"})"), 422,
       "/problems/validation-error", "/role"},
      {"unknown role", post(turns, R"({"role":"wizard","text":"x"})"), 422,
       "/problems/validation-error", "/role"},
      {"missing role", post(turns, R"({"text":"x"})"), 422, "/problems/validation-error",
       "/role"},
      {"empty text", post(turns, R"({"role":"user","text":"  "})"), 422,
       "/problems/validation-error", "/text"},
      {"text over limit",
       post(turns, R"({"role":"user","text":")" + std::string(8193, 'a') + "\"}"),
       422, "/problems/validation-error", "/text"},
      {"confidence above 1", post(turns, R"({"role":"bot","text":"x","bot":{"confidence":1.5}})"),
       422, "/problems/validation-error", "/bot/confidence"},
      {"confidence string",
       post(turns, R"({"role":"bot","text":"x","bot":{"confidence":"high"}})"), 422,
       "/problems/validation-error", "/bot/confidence"},
      {"bot on user turn", post(turns, R"({"role":"user","text":"x","bot":{"confidence":0.5}})"),
       422, "/problems/validation-error", "/bot"},
      {"unknown field", post(turns, R"({"role":"user","text":"x","colour":"red"})"), 422,
       "/problems/validation-error", "/colour"},
      {"actions not array", post(turns, R"({"role":"bot","text":"x","actions":{}})"), 422,
       "/problems/validation-error", "/actions"},
      {"action without name", post(turns, R"({"role":"bot","text":"x","actions":[{}]})"), 422,
       "/problems/validation-error", "/actions/0/name"},
      {"huge lifetime value",
       post("/v1/conversations", R"({"customer":{"lifetime_value":1e300}})"), 422,
       "/problems/validation-error", "/customer/lifetime_value"},
      {"negative lifetime value",
       post("/v1/conversations", R"({"customer":{"lifetime_value":-5}})"), 422,
       "/problems/validation-error", "/customer/lifetime_value"},
      {"unknown query parameter", get(turns + "?afterr=3"), 422, "/problems/validation-error",
       "/query/afterr"},
      {"query parameter without a name", get(turns + "?=3"), 422, "/problems/validation-error",
       "/query/"},
      {"text of invisible spaces",
       post(turns, R"({"role":"user","text":"\u00a0\u200b\u3000"})"), 422,
       "/problems/validation-error", "/text"},
      {"escape sequence in text", post(turns, R"({"role":"user","text":"a\u001b[31mred"})"), 422,
       "/problems/validation-error", "/text"},
      {"NUL in text", post(turns, R"({"role":"user","text":"a\u0000b"})"), 422,
       "/problems/validation-error", "/text"},
      {"repeated query parameter", get(turns + "?after=1&after=2"), 422,
       "/problems/validation-error", "/query/after"},
      {"actions on user turn",
       post(turns, R"({"role":"user","text":"x","actions":[{"name":"a"}]})"), 422,
       "/problems/validation-error", "/actions"},
      {"limit zero", get(turns + "?limit=0"), 422, "/problems/validation-error", "/query/limit"},
      {"limit not a number", get(turns + "?limit=ten"), 422, "/problems/validation-error",
       "/query/limit"},
      {"after negative", get(turns + "?after=-1"), 422, "/problems/validation-error",
       "/query/after"},
      {"after overflow", get(turns + "?after=99999999999999999999999"), 422,
       "/problems/validation-error", "/query/after"},
      {"text/plain body", post(turns, R"({"role":"user","text":"x"})", "text/plain"), 415,
       "/problems/unsupported-media-type"},
      {"no content type", post(turns, R"({"role":"user","text":"x"})", ""), 415,
       "/problems/unsupported-media-type"},
      {"body over limit", "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
                              "Content-Length: 70000\r\n\r\n",
       413, "/problems/body-too-large", "", true},
      {"chunked body over limit",
       "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
           "Transfer-Encoding: chunked\r\n\r\n11170\r\n" + std::string(70000, 'a') +
           "\r\n0\r\n\r\n",
       413, "/problems/body-too-large", "", true},
      {"chunk extensions over the header limit",
       "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
           "Transfer-Encoding: chunked\r\n\r\n1;x=" + std::string(9000, 'e') + "\r\n{\r\n0\r\n\r\n",
       400, "/problems/bad-request", "", true},
      {"header over limit", "GET /livez HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'b') +
                                "\r\n\r\n",
       431, "/problems/header-too-large", "", true},
      {"content-length and transfer-encoding",
       "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400, "", "", true},
      {"duplicate content-length",
       "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
           "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
       400, "", "", true},
      {"chunked on http/1.0",
       "POST " + turns + " HTTP/1.0\r\nHost: t\r\n" + auth + json_ct +
           "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
       400, "", "", true},
      {"unknown transfer-encoding",
       "POST " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + json_ct +
           "Transfer-Encoding: gzip\r\n\r\n",
       400, "", "", true},
      {"garbage request line", "HELLO\r\n\r\n", 400, "/problems/bad-request", "", true},
      {"http/1.1 without host", "GET /livez HTTP/1.1\r\n\r\n", 400, "/problems/bad-request", "",
       true},
      {"two host headers", "GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
       "/problems/bad-request", "", true},
      {"two authorization headers",
       "GET " + turns + " HTTP/1.1\r\nHost: t\r\n" + auth + "Authorization: Bearer other\r\n\r\n",
       400, "/problems/bad-request", "", true},
      {"bad percent-encoding", get("/v1/conversations/%zz"), 400, "/problems/bad-target"},
      {"path decoding to invalid utf-8",
       "DELETE /v1/customers/%FF HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
           std::string(kAdminKey) + "\r\n\r\n",
       400, "/problems/bad-target"},
      {"query decoding to invalid utf-8", get("/v1/analytics/handovers?queue=%C3", kReadKey), 400,
       "/problems/bad-target"},
      {"unknown conversation", get("/v1/conversations/c_doesnotexist"), 404,
       "/problems/not-found"},
      {"unknown path", get("/v2/nothing"), 404, "/problems/not-found"},
      {"method not allowed", "DELETE /v1/conversations HTTP/1.1\r\nHost: t\r\n\r\n", 405,
       "/problems/method-not-allowed"},
      {"no credentials", post(turns, R"({"role":"user","text":"x"})", "application/json", ""),
       401, "/problems/unauthenticated"},
      {"basic auth scheme",
       "GET " + turns + " HTTP/1.1\r\nHost: t\r\nAuthorization: Basic dXNlcjpwdw==\r\n\r\n", 401,
       "/problems/unauthenticated"},
      {"read key posting", post(turns, R"({"role":"user","text":"x"})", "application/json",
                                kReadKey),
       403, "/problems/forbidden"},
  };
}

class BadRequestTest : public ApiTest {};

TEST_F(BadRequestTest, EachIsRefusedWithAProblemAndTheServerKeepsServing) {
  const std::string id = create_conversation()["id"];
  const std::string turns = turns_path(id);
  const auto table = cases();
  ASSERT_GE(table.size(), 25u);

  for (auto c : table) {
    SCOPED_TRACE(c.name);
    for (auto pos = c.bytes.find("{TURNS}"); pos != std::string::npos;
         pos = c.bytes.find("{TURNS}")) {
      c.bytes.replace(pos, 7, turns);
    }
    HttpClient client(port());

    const HttpResponse r = client.raw(c.bytes);

    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    const auto body = r.json();
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body.value("status", 0), c.status);
    EXPECT_FALSE(body.value("title", "").empty());
    EXPECT_FALSE(body.value("detail", "").empty());
    if (*c.type) {
      EXPECT_EQ(body.value("type", ""), c.type);
    }
    if (*c.pointer) {
      EXPECT_EQ(body.value("pointer", ""), c.pointer);
    }
    if (c.closes) {
      EXPECT_TRUE(r.closed || client.wait_closed());
    }

    EXPECT_EQ(call("GET", "/livez", {}, "").status, 200);
  }
  EXPECT_EQ(call("GET", turns).json()["turns"].size(), 0u);
}

TEST_F(BadRequestTest, OversizedBodyIsRefusedBeforeItIsSent) {
  const std::string turns = turns_path(create_conversation()["id"]);
  HttpClient client(port());

  // Only the header is sent: the 413 must come without waiting for 70,000 body bytes.
  const auto r = client.raw("POST " + turns + " HTTP/1.1\r\nHost: t\r\nContent-Type: "
                            "application/json\r\nContent-Length: 70000\r\n\r\n");

  EXPECT_EQ(r.status, 413);
}

TEST_F(BadRequestTest, ConnectionsOverTheLimitGet503AndOthersKeepWorking) {
  ServerProcess limited(ServerSettings::yaml("http:\n  max_connections: 2\n"));
  ASSERT_TRUE(limited.start()) << limited.log();
  HttpClient first(limited.port());
  HttpClient second(limited.port());
  ASSERT_EQ(first.request("GET", "/livez").status, 200);
  ASSERT_EQ(second.request("GET", "/livez").status, 200);

  const auto refused = HttpClient(limited.port()).request("GET", "/v1/conversations/c_1");
  const auto live = HttpClient(limited.port()).request("GET", "/livez");
  const auto ready = HttpClient(limited.port()).request("GET", "/readyz");
  const auto still_served = first.request("GET", "/livez");

  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.json().value("type", ""), "/problems/too-many-connections");
  EXPECT_EQ(live.status, 200) << "a liveness probe must not fail under a connection flood";
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(still_served.status, 200);
}

TEST_F(BadRequestTest, IdleKeepAliveConnectionIsClosed) {
  ServerProcess idle(ServerSettings::yaml("http:\n  idle_timeout_ms: 300\n"));
  ASSERT_TRUE(idle.start()) << idle.log();
  HttpClient client(idle.port());
  ASSERT_EQ(client.request("GET", "/livez").status, 200);

  EXPECT_TRUE(client.wait_closed(5000));
}

TEST_F(BadRequestTest, SlowClientIsAnsweredWith408) {
  ServerProcess slow(ServerSettings::yaml("http:\n  read_timeout_ms: 300\n"));
  ASSERT_TRUE(slow.start()) << slow.log();
  HttpClient client(slow.port());

  const auto r = client.raw("POST /v1/conversations HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                            "Content-Type: application/json\r\n\r\n{");

  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(r.closed || client.wait_closed());
}

}  // namespace
}  // namespace handover::testing

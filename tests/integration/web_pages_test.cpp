// The browser pages against the real server: files from web.root with their types,
// revalidation, security headers, and everything that must not be served.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handover::testing {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class WebPagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("handover_web_test_" + std::to_string(::getpid())));
    const fs::path& root = *root_;
    fs::remove_all(root);
    write_file(root / "web/console/index.html", "<!doctype html><title>console</title>");
    write_file(root / "web/console/app.js", "export const a = 1;\n");
    write_file(root / "web/console/.hidden.js", "secret");
    write_file(root / "web/console/notes.bak", "backup");
    write_file(root / "web/widget/index.html", "<!doctype html><title>widget</title>");
    write_file(root / "web/widget/widget.css", ".hc {}\n");
    write_file(root / "web/widget/sub/inner.js", "export {};\n");
    write_file(root / "outside.js", "outside the root");
    fs::create_symlink(root / "outside.js", root / "web/widget/escape.js");
    fs::create_symlink(root / "web/widget/widget.css", root / "web/widget/alias.css");

    server_ = new ServerProcess(ServerSettings::yaml(
        "web:\n  root: " + (root / "web").string() +
        "\n  frame_ancestors: [\"https://shop.example\"]\n"));
    ASSERT_TRUE(server_->start()) << server_->log();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    fs::remove_all(*root_);
    delete root_;
  }

  static HttpResponse get(const std::string& target, const std::string& headers = {},
                          const std::string& method = "GET") {
    HttpClient client(server_->port());
    return client.request(method, target, {}, headers);
  }

  // GET with `host` as the only Host header.
  static HttpResponse get_with_host(const std::string& target, const std::string& host) {
    HttpClient client(server_->port());
    return client.raw("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  }

  inline static ServerProcess* server_ = nullptr;
  inline static fs::path* root_ = nullptr;
};

TEST_F(WebPagesTest, ServesFilesWithTheirContentTypes) {
  struct Case {
    std::string target;
    std::string type;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"/console/", "text/html; charset=utf-8", "<!doctype html><title>console</title>"},
      {"/console/app.js", "text/javascript; charset=utf-8", "export const a = 1;\n"},
      {"/widget/widget.css", "text/css; charset=utf-8", ".hc {}\n"},
      {"/widget/sub/inner.js", "text/javascript; charset=utf-8", "export {};\n"},
      {"/widget/alias.css", "text/css; charset=utf-8", ".hc {}\n"},
      {"/widget/index.html?lang=de", "text/html; charset=utf-8",
       "<!doctype html><title>widget</title>"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    HttpResponse r = get(c.target);

    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), c.type);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    EXPECT_FALSE(r.header("etag").empty());
  }
}

TEST_F(WebPagesTest, HeadSendsTheHeadersWithoutTheBody) {
  HttpResponse r = get("/console/app.js", {}, "HEAD");

  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "20");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(WebPagesTest, AnswersNotModifiedForAMatchingEtag) {
  const std::string etag = get("/console/app.js").header("etag");
  ASSERT_FALSE(etag.empty());

  HttpResponse same = get("/console/app.js", "If-None-Match: W/\"x\", " + etag + "\r\n");
  HttpResponse other = get("/console/app.js", "If-None-Match: \"0123\"\r\n");

  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(same.header("etag"), etag);
  EXPECT_EQ(other.status, 200);
}

TEST_F(WebPagesTest, RedirectsTheBarePagePathsToTheirDirectory) {
  HttpResponse console = get("/console?token=x");
  HttpResponse home = get("/");

  EXPECT_EQ(console.status, 301);
  EXPECT_EQ(console.header("location"), "/console/?token=x");
  EXPECT_EQ(home.status, 302);
  EXPECT_EQ(home.header("location"), "/widget/");
}

TEST_F(WebPagesTest, RefusesTraversalHiddenFilesUnknownTypesAndEscapingSymlinks) {
  const std::vector<std::string> targets = {
      "/console/../widget/widget.css", "/console/%2e%2e/widget/widget.css",
      "/widget/sub%2finner.js",        "/widget/sub%5cinner.js",
      "/console/.hidden.js",           "/console/notes.bak",
      "/widget/escape.js",             "/widget/missing.js",
      "/widget/sub",                   "/widget/sub/",
      "/console/app.js%00.html",       "/widget/%2e%2e%2f%2e%2e%2foutside.js",
  };

  for (const std::string& target : targets) {
    SCOPED_TRACE(target);
    HttpResponse r = get(target);

    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    EXPECT_EQ(r.json().value("type", ""), "/problems/not-found");
  }
}

TEST_F(WebPagesTest, SendsSecurityHeadersPerPage) {
  HttpResponse console = get_with_host("/console/", "127.0.0.1:9");
  HttpResponse widget = get("/widget/");

  const std::string csp = console.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self' ws://127.0.0.1:9 wss://127.0.0.1:9"), std::string::npos)
      << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(console.header("x-frame-options"), "DENY");
  EXPECT_EQ(console.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(console.header("referrer-policy"), "no-referrer");
  const std::string widget_csp = widget.header("content-security-policy");
  EXPECT_NE(widget_csp.find("frame-ancestors 'self' https://shop.example"), std::string::npos)
      << widget_csp;
  EXPECT_EQ(widget.header("x-frame-options"), "");
}

TEST_F(WebPagesTest, LeavesAHostHeaderWithPolicySyntaxOutOfThePolicy) {
  HttpResponse r = get_with_host("/console/", "evil; script-src *");

  const std::string csp = r.header("content-security-policy");
  EXPECT_EQ(csp.find("evil"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
}

TEST_F(WebPagesTest, RefusesOtherMethods) {
  HttpResponse r = get("/console/app.js", {}, "POST");

  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD, OPTIONS");
}

TEST_F(WebPagesTest, ListsTheQueuesForAnAgentToken) {
  HttpClient client(server_->port());
  HttpResponse created = client.request(
      "POST", "/v1/admin/agents", R"({"name":"queue-reader"})",
      ServerProcess::bearer(kAdminKey) + "Content-Type: application/json\r\n");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = created.json().value("token", "");

  HttpResponse agent = client.request("GET", "/v1/queues", {}, ServerProcess::bearer(token));
  HttpResponse unknown =
      client.request("GET", "/v1/queues", {}, ServerProcess::bearer("hat_not-a-real-token"));
  HttpResponse widget = client.request("GET", "/v1/queues", {}, ServerProcess::bearer(kWidgetKey));

  EXPECT_EQ(agent.status, 200) << agent.body;
  EXPECT_TRUE(agent.json().contains("queues"));
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(widget.status, 403);
}

TEST(WebPagesDisabled, AnswersNotFoundWhenTurnedOff) {
  ServerProcess server(ServerSettings::with({"HANDOVER_WEB_ENABLED=false"}, {}));
  ASSERT_TRUE(server.start()) << server.log();
  HttpClient client(server.port());

  HttpResponse page = client.request("GET", "/widget/");
  HttpResponse home = client.request("GET", "/");

  EXPECT_EQ(page.status, 404);
  EXPECT_EQ(home.status, 404);
}

}  // namespace
}  // namespace handover::testing

// The network side of `handover-replay --server`: a blocking HTTP/1.1 keep-alive client and
// simulated agents on WebSockets. Beast lives only in server_client.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::replay {

struct Endpoint {
  std::string host;
  std::string port;
};

// "http://127.0.0.1:8080" (a trailing slash is fine). kInvalidArgument for anything else.
Result<Endpoint> parse_http_url(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

// One keep-alive connection, reconnected when the server closed it. One thread at a time.
class HttpConnection {
 public:
  explicit HttpConnection(Endpoint endpoint);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // kUnavailable when the server cannot be reached or the exchange broke off.
  Result<HttpReply> request(const std::string& method, const std::string& target,
                            const std::string& body, const std::string& bearer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Agents connected over /v1/agents/ws, all served by one background thread. `on_frame` is
// called on that thread for every frame an agent receives and returns the frames that agent
// sends in answer (e.g. accept for an offer).
class AgentPool {
 public:
  using FrameHandler =
      std::function<std::vector<nlohmann::json>(std::size_t agent, const nlohmann::json& frame)>;

  AgentPool(Endpoint endpoint, FrameHandler on_frame);
  ~AgentPool();  // stop()
  AgentPool(const AgentPool&) = delete;
  AgentPool& operator=(const AgentPool&) = delete;

  // Connects one agent with its token and sends hello; blocks until the upgrade is done.
  Status connect(const std::string& token);
  // Starts the background thread that reads frames. Call after every connect().
  void start();
  // Closes every connection and joins the thread. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handover::replay

// An HTTP server inside the test process on 127.0.0.1 and a free port, standing in for a bot
// or a webhook receiver: it answers each request with a scripted reply and keeps them all.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "handover/http/message.hpp"
#include "handover/http/server.hpp"

namespace handover::testing {

class LoopbackServer final : public http::Handler {
 public:
  // What to answer one request with; `hang` keeps the request unanswered until the server
  // stops (a bot that never replies).
  struct Reply {
    int status = 200;
    std::string body = "{}";
    bool hang = false;
  };
  // Builds the reply for a request once the script is used up.
  using Responder = std::function<Reply(const http::Request&)>;

  explicit LoopbackServer(Responder fallback = {});
  ~LoopbackServer() override;  // stops: hanging requests are cut off

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const;

  // Replies used, in order, for the next requests.
  void script(std::deque<Reply> replies);

  std::vector<http::Request> requests();
  // Waits (bounded) until `n` requests have arrived; returns how many did.
  std::size_t wait_for_requests(std::size_t n, int timeout_ms = 10000);

  void handle(http::Request request, http::Responder respond) override;

 private:
  Responder fallback_;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::deque<Reply> script_;
  std::vector<http::Request> requests_;
  std::vector<http::Responder> hanging_;
  std::unique_ptr<http::Server> server_;
  std::future<void> running_;
  std::uint16_t port_ = 0;
};

// A loopback port that nothing listens on (bound, then released).
std::uint16_t closed_port();

}  // namespace handover::testing

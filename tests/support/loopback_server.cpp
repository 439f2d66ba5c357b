// The in-process loopback server for bot and webhook tests.
#include "support/loopback_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace handover::testing {

LoopbackServer::LoopbackServer(Responder fallback) : fallback_(std::move(fallback)) {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.read_timeout_ms = 5000;
  server_ = std::make_unique<http::Server>(options, *this, nullptr);
  if (!server_->listen().is_ok()) return;
  port_ = server_->port();
  running_ = std::async(std::launch::async, [this] { server_->run(); });
}

LoopbackServer::~LoopbackServer() {
  if (running_.valid()) {
    server_->shutdown(100);
    running_.wait();
  }
}

std::string LoopbackServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void LoopbackServer::script(std::deque<Reply> replies) {
  std::lock_guard lock(mu_);
  script_ = std::move(replies);
}

std::vector<http::Request> LoopbackServer::requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t LoopbackServer::wait_for_requests(std::size_t n, int timeout_ms) {
  std::unique_lock lock(mu_);
  arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return requests_.size() >= n; });
  return requests_.size();
}

void LoopbackServer::handle(http::Request request, http::Responder respond) {
  Reply reply;
  {
    std::lock_guard lock(mu_);
    if (!script_.empty()) {
      reply = script_.front();
      script_.pop_front();
    } else if (fallback_) {
      reply = fallback_(request);
    }
    requests_.push_back(std::move(request));
    if (reply.hang) hanging_.push_back(respond);
  }
  arrived_.notify_all();
  if (reply.hang) return;
  http::Response response;
  response.status = reply.status;
  response.content_type = "application/json";
  response.body = reply.body;
  respond(std::move(response));
}

std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace handover::testing

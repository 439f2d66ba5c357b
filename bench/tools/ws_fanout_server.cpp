// The server side of the fan-out benchmark on the product's own network layer: the same
// http::Server, WebSocket sessions and bounded send queues that carry the agent protocol,
// with a handler that broadcasts instead of routing. Each event is serialised once and the
// shared buffer is queued on every open connection, which is how the agent service sends
// one event to many connections.
//
// A text message {"broadcast":N,"bytes":B} from any client sends N events of about B bytes
// to every connection open at that moment. Listens on 127.0.0.1 only.
//
// Usage: ws_fanout_server PORT_FILE   (runs until SIGINT or SIGTERM)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>

#include "handover/http/server.hpp"

namespace {

namespace http = handover::http;

class NotFound final : public http::Handler {
 public:
  void handle(http::Request, http::Responder respond) override {
    respond(http::problem(404, "not-found", "Not found", "only /ws is served here"));
  }
};

class Broadcaster final : public http::WebSocketHandler {
 public:
  std::optional<http::Response> on_upgrade(const http::Request&) override { return std::nullopt; }

  void on_open(const std::shared_ptr<http::WebSocketConnection>& connection,
               const http::Request&) override {
    std::lock_guard lock(mutex_);
    open_[connection->id()] = connection;
  }

  void on_message(const std::shared_ptr<http::WebSocketConnection>&, std::string text) override {
    const auto command = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!command.is_object()) return;
    const int count = command.value("broadcast", 0);
    const std::size_t bytes = command.value("bytes", std::size_t{1024});
    for (int i = 0; i < count; ++i) broadcast(event(i, bytes));
  }

  void on_close(const std::shared_ptr<http::WebSocketConnection>& connection) override {
    std::lock_guard lock(mutex_);
    open_.erase(connection->id());
  }

 private:
  static std::shared_ptr<const std::string> event(int seq, std::size_t bytes) {
    std::string frame = R"({"type":"notice","seq":)" + std::to_string(seq) + R"(,"text":")";
    const std::size_t tail = 2;  // the closing quote and brace
    if (frame.size() + tail < bytes) frame.append(bytes - frame.size() - tail, 'x');
    frame += "\"}";
    return std::make_shared<const std::string>(std::move(frame));
  }

  void broadcast(const std::shared_ptr<const std::string>& frame) {
    std::lock_guard lock(mutex_);
    for (const auto& [id, connection] : open_) connection->send(frame);
  }

  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<http::WebSocketConnection>> open_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ws_fanout_server PORT_FILE\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  NotFound not_found;
  Broadcaster broadcaster;
  http::Server server(options, not_found, nullptr);
  server.add_websocket("/ws", broadcaster, http::WebSocketOptions{});
  if (const auto status = server.listen(); !status.is_ok()) {
    std::fprintf(stderr, "ws_fanout_server: %s\n", status.message().c_str());
    return 1;
  }
  {
    std::ofstream out(std::string(argv[1]) + ".tmp");
    out << server.port() << "\n";
  }
  std::rename((std::string(argv[1]) + ".tmp").c_str(), argv[1]);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    server.shutdown(1000);
  });
  server.run();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

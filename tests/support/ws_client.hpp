// A small WebSocket client for integration tests (Beast over loopback TCP). It reads all the
// time in the background of each call, so frames queue up in order; every wait is bounded.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace handover::testing {

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Opens ws://127.0.0.1:<port><target>, sending "Authorization: Bearer <bearer>" when
  // `bearer` is not empty. False when the connection or the upgrade failed; a refused
  // upgrade leaves its HTTP status and body in refused_status() and refused_body().
  bool connect(std::uint16_t port, const std::string& target, const std::string& bearer = {});
  int refused_status() const { return refused_status_; }
  const std::string& refused_body() const { return refused_body_; }

  // Sends a text frame; false when the connection is gone.
  bool send(const std::string& text);
  bool send_json(const nlohmann::json& frame) { return send(frame.dump()); }
  // Sends a binary frame; false when the connection is gone.
  bool send_binary(const std::string& data);

  // The next text frame, parsed (a non-JSON frame comes back as a JSON string). nullopt when
  // none arrived within `timeout_ms` or the connection closed.
  std::optional<nlohmann::json> read(int timeout_ms = 5000);
  // Reads until a frame whose "type" is `type`; frames before it are dropped.
  std::optional<nlohmann::json> read_type(const std::string& type, int timeout_ms = 5000);
  // As read() and read_type(), but the frame's text exactly as received.
  std::optional<std::string> read_text(int timeout_ms = 5000);
  std::optional<std::string> read_type_text(const std::string& type, int timeout_ms = 5000);
  // Frames received so far and not yet read, after waiting up to `wait_ms` for more.
  std::deque<nlohmann::json> drain(int wait_ms = 0);

  // Closing handshake (1000), bounded.
  void close();
  // Drops the TCP connection without a closing handshake.
  void drop();
  bool closed() const;

 private:
  bool write(const std::string& text, bool binary);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  int refused_status_ = 0;
  std::string refused_body_;
};

}  // namespace handover::testing

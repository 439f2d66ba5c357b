// A blocking Server-Sent Events client over loopback, for integration tests: it opens a
// stream, decodes the chunked body and hands out one event at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace handover::testing {

struct SseEvent {
  std::string id;     // empty for events without an id
  std::string event;  // the event type
  nlohmann::json data;
};

class SseClient {
 public:
  explicit SseClient(std::uint16_t port);
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // Sends GET `target` with `headers` ("Name: value\r\n" lines) and reads the response head.
  // Returns the status (0 when none arrived). For a non-200 answer, body() holds its body.
  int open(const std::string& target, const std::string& headers = {});
  const std::string& header(const std::string& lower_name) const;
  const std::string& body() const { return body_; }

  // The next event within `timeout_ms`; comments and retry lines are skipped. nullopt on
  // timeout or when the server closed the stream.
  std::optional<SseEvent> next(int timeout_ms = 5000);
  // The next event of type `type`, skipping others.
  std::optional<SseEvent> next_of(const std::string& type, int timeout_ms = 5000);
  bool closed() const { return closed_; }
  void close();

 private:
  bool read_more(int timeout_ms);
  bool decode_chunks();

  std::uint16_t port_;
  int fd_ = -1;
  std::string raw_;   // bytes read, not yet decoded
  std::string text_;  // decoded body, not yet parsed into events
  std::string body_;
  std::map<std::string, std::string> headers_;
  bool chunked_ = false;
  bool closed_ = false;
};

}  // namespace handover::testing

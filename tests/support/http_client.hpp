// A small blocking HTTP/1.1 client over a loopback TCP socket, for integration tests.
// It sends exactly the bytes it is given, so tests can also send malformed requests.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace handover::testing {

struct HttpResponse {
  int status = 0;                             // 0 when no response arrived
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool closed = false;                        // the server closed the connection after it

  std::string header(const std::string& lower_name) const;
  nlohmann::json json() const;
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, int timeout_ms = 10000);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a well-formed request (for HEAD, reads no body). `headers` is "Name: value\r\n" lines
  // (may be empty).
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::string& headers = {});
  // Sends `bytes` as they are and reads one response.
  HttpResponse raw(const std::string& bytes);
  // Reads one response without sending (e.g. after raw() sent two requests). Interim
  // 1xx responses are skipped unless `keep_interim`.
  HttpResponse read_response(bool keep_interim = false);
  // Sends `bytes` and reads one response, 1xx included.
  HttpResponse raw_interim(const std::string& bytes);
  // True when the server has closed the connection (read returns 0 within timeout).
  bool wait_closed(int timeout_ms = 3000);
  bool connected() const { return fd_ >= 0; }

 private:
  bool connect_socket();
  bool send_all(const std::string& bytes);
  // Reads until `buffer_` holds n bytes or the peer closes; false on close.
  bool fill(std::size_t n);

  std::uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;
  bool head_request_ = false;
};

}  // namespace handover::testing

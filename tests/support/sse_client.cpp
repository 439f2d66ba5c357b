// Server-Sent Events test client: plain sockets, chunked decoding, line-based parsing.
#include "support/sse_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace handover::testing {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const std::string kEmpty;

}  // namespace

SseClient::SseClient(std::uint16_t port) : port_(port) {}

SseClient::~SseClient() { close(); }

void SseClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int SseClient::open(const std::string& target, const std::string& headers) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                              "Accept: text/event-stream\r\n\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return 0;
  }
  std::size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(5000)) return 0;
  }
  const std::string head = raw_.substr(0, end);
  raw_.erase(0, end + 4);
  const int status = std::stoi(head.substr(9, 3));
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const std::size_t next = head.find("\r\n", line + 2);
    const std::string field = head.substr(line + 2, next - line - 2);
    if (const auto colon = field.find(':'); colon != std::string::npos) {
      std::string value = field.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers_[lower(field.substr(0, colon))] = value;
    }
    line = next;
  }
  chunked_ = lower(header("transfer-encoding")) == "chunked";
  if (status != 200) {
    const std::size_t length = header("content-length").empty()
                                   ? 0
                                   : std::stoul(header("content-length"));
    while (raw_.size() < length && read_more(5000)) {
    }
    body_ = raw_.substr(0, length);
  }
  return status;
}

const std::string& SseClient::header(const std::string& lower_name) const {
  auto it = headers_.find(lower_name);
  return it == headers_.end() ? kEmpty : it->second;
}

bool SseClient::read_more(int timeout_ms) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char buffer[8192];
  const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
  if (got <= 0) {
    closed_ = true;
    return false;
  }
  raw_.append(buffer, static_cast<std::size_t>(got));
  return true;
}

// Moves whole chunks from raw_ to text_; false after the last chunk.
bool SseClient::decode_chunks() {
  if (!chunked_) {
    text_ += raw_;
    raw_.clear();
    return true;
  }
  for (;;) {
    const std::size_t line = raw_.find("\r\n");
    if (line == std::string::npos) return true;
    const std::size_t size = std::stoul(raw_.substr(0, line), nullptr, 16);
    if (size == 0) {
      closed_ = true;
      return false;
    }
    if (raw_.size() < line + 2 + size + 2) return true;
    text_ += raw_.substr(line + 2, size);
    raw_.erase(0, line + 2 + size + 2);
  }
}

std::optional<SseEvent> SseClient::next(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    decode_chunks();
    std::size_t end;
    while ((end = text_.find("\n\n")) != std::string::npos) {
      const std::string block = text_.substr(0, end);
      text_.erase(0, end + 2);
      SseEvent event;
      bool has_data = false;
      std::size_t start = 0;
      while (start <= block.size()) {
        std::size_t stop = block.find('\n', start);
        if (stop == std::string::npos) stop = block.size();
        const std::string line = block.substr(start, stop - start);
        start = stop + 1;
        if (line.starts_with("id: ")) event.id = line.substr(4);
        if (line.starts_with("event: ")) event.event = line.substr(7);
        if (line.starts_with("data: ")) {
          event.data = nlohmann::json::parse(line.substr(6), nullptr, false);
          has_data = true;
        }
      }
      if (has_data) return event;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return std::nullopt;
    if (!read_more(static_cast<int>(left.count()))) {
      if (closed_) decode_chunks();
      if (closed_ && text_.find("\n\n") == std::string::npos) return std::nullopt;
    }
  }
}

std::optional<SseEvent> SseClient::next_of(const std::string& type, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto event = next(static_cast<int>(left.count()));
    if (!event) return std::nullopt;
    if (event->event == type) return event;
  }
}

}  // namespace handover::testing

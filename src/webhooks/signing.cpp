// Standard Webhooks signatures, payloads and the retry schedule.
#include <algorithm>
#include <cmath>
#include <ctime>

#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "handover/webhooks/webhooks.hpp"

namespace handover::webhooks {

namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

// Parses an IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT" to epoch milliseconds.
std::int64_t parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return -1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

Result<std::string> secret_key(std::string_view secret) {
  if (!secret.starts_with(kSecretPrefix)) {
    return Status::invalid_argument("a webhook secret starts with 'whsec_'");
  }
  std::optional<std::string> key = crypto::base64_decode(secret.substr(kSecretPrefix.size()));
  if (!key || key->empty()) {
    return Status::invalid_argument("a webhook secret is 'whsec_' and base64");
  }
  return std::move(*key);
}

std::string signature(std::string_view key, std::string_view id, std::int64_t timestamp_s,
                      std::string_view body) {
  std::string signed_content;
  signed_content.reserve(id.size() + body.size() + 24);
  signed_content.append(id).append(".").append(std::to_string(timestamp_s)).append(".");
  signed_content.append(body);
  return "v1," + crypto::base64_encode(crypto::hmac_sha256(key, signed_content));
}

std::string message_id(std::int64_t event_id) { return "evt_" + std::to_string(event_id); }

std::string payload(const feed::Event& event) {
  // The integration view: everything, agents' notes and trigger reasons too.
  nlohmann::json data = feed::view(event, feed::Audience::kIntegration);
  if (!data.is_object()) data = nlohmann::json::object();
  data["conversation_id"] = event.conversation_id;
  return nlohmann::json{{"type", event.type},
                        {"timestamp", format_rfc3339_ms(event.created_at_ms)},
                        {"data", std::move(data)}}
      .dump();
}

std::int64_t backoff_ms(int failures, std::int64_t initial_ms, std::int64_t max_ms,
                        double unit_random, std::int64_t retry_after) {
  std::int64_t base = std::max<std::int64_t>(1, initial_ms);
  for (int i = 1; i < failures && base < max_ms; ++i) base *= 2;
  base = std::min(base, max_ms);
  const double jitter = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
  const auto delay = static_cast<std::int64_t>(std::llround(static_cast<double>(base) * jitter));
  return std::min(std::max(delay, retry_after), max_ms);
}

std::int64_t retry_after_ms(const std::string* header, std::int64_t now_ms) {
  if (header == nullptr || header->empty()) return -1;
  if (std::all_of(header->begin(), header->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (header->size() > 9) return -1;  // beyond ten years: not a real answer
    return std::stoll(*header) * 1000;
  }
  const std::int64_t at = parse_http_date(*header);
  return at < 0 ? -1 : std::max<std::int64_t>(0, at - now_ms);
}

}  // namespace handover::webhooks

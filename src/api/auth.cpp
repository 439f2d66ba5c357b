// API key and conversation token checks.
#include "auth.hpp"

#include "handover/util/crypto.hpp"

namespace handover::api {
namespace {

unsigned scope_bits(const std::vector<std::string>& scopes) {
  unsigned bits = 0;
  for (const auto& s : scopes) {
    if (s == "widget") bits |= kScopeWidget;
    else if (s == "bot") bits |= kScopeBot | kScopeWidget | kScopeRead;
    else if (s == "read") bits |= kScopeRead;
    else if (s == "admin") bits |= kScopeAdmin | kScopeRead;
  }
  return bits;
}

}  // namespace

Authenticator::Authenticator(const config::AuthConfig& config) {
  for (const auto& key : config.api_keys) {
    by_hash_.emplace(key.sha256, Key{key.name, key.sha256, scope_bits(key.scopes)});
  }
}

Principal Authenticator::identify(const http::Request& request) const {
  Principal p;
  const std::string* header = request.header("authorization");
  if (!header) return p;
  constexpr std::string_view kPrefix = "bearer ";
  std::string_view value(*header);
  if (value.size() <= kPrefix.size()) {
    p.malformed = true;
    return p;
  }
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kPrefix[i]) {
      p.malformed = true;
      return p;
    }
  }
  std::string_view secret = value.substr(kPrefix.size());
  while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
  while (!secret.empty() && secret.back() == ' ') secret.remove_suffix(1);
  if (secret.empty()) {
    p.malformed = true;
    return p;
  }
  const std::string hash = crypto::sha256_hex(secret);
  const auto it = by_hash_.find(hash);
  if (it != by_hash_.end() && crypto::constant_time_equal(it->second.sha256, hash)) {
    p.kind = Principal::Kind::kApiKey;
    p.key_name = it->second.name;
    p.scopes = it->second.scopes;
    return p;
  }
  p.kind = Principal::Kind::kBearer;
  p.bearer = std::string(secret);
  return p;
}

bool Authenticator::token_matches(std::string_view secret, std::string_view token_hash) {
  return crypto::constant_time_equal(crypto::sha256_hex(secret), token_hash);
}

http::Response unauthenticated(std::string_view detail) {
  auto r = http::problem(401, "unauthenticated", "Authentication required", detail);
  r.set_header("WWW-Authenticate", "Bearer realm=\"handover\"");
  return r;
}

http::Response forbidden(std::string_view detail) {
  return http::problem(403, "forbidden", "Not allowed", detail);
}

}  // namespace handover::api

// Who is calling: API keys from the config (by SHA-256 hash, with scopes) or the
// per-conversation token a browser widget holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "handover/config/server_config.hpp"
#include "handover/http/message.hpp"

namespace handover::api {

enum Scope : unsigned {
  kScopeWidget = 1u << 0,  // create conversations only
  kScopeBot = 1u << 1,     // create conversations, post user and bot turns, read
  kScopeRead = 1u << 2,    // read conversations and turns
  kScopeAdmin = 1u << 3,   // admin endpoints
};

struct Principal {
  enum class Kind { kNone, kApiKey, kBearer } kind = Kind::kNone;
  std::string key_name;      // for kApiKey
  unsigned scopes = 0;       // for kApiKey
  std::string bearer;        // for kBearer: a presented secret that is no API key
  bool malformed = false;    // an Authorization header we could not read

  bool has(unsigned scope) const { return kind == Kind::kApiKey && (scopes & scope) != 0; }
};

class Authenticator {
 public:
  explicit Authenticator(const config::AuthConfig& config);

  // Reads "Authorization: Bearer <secret>". A secret that matches no API key comes back
  // as kBearer, to be checked against a conversation token by the caller.
  Principal identify(const http::Request& request) const;

  // True when `secret` hashes to `token_hash` (constant-time comparison).
  static bool token_matches(std::string_view secret, std::string_view token_hash);

 private:
  struct Key {
    std::string name;
    std::string sha256;
    unsigned scopes;
  };
  std::unordered_map<std::string, Key> by_hash_;
};

// 401 with WWW-Authenticate, or 403, as problem+json.
http::Response unauthenticated(std::string_view detail);
http::Response forbidden(std::string_view detail);

}  // namespace handover::api

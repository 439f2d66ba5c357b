// What a webhook receiver checks, computed independently of the server's signing code:
// "v1," + base64(HMAC-SHA256(raw key, "<webhook-id>.<webhook-timestamp>.<body>")).
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>

#include "handover/http/message.hpp"
#include "handover/util/crypto.hpp"

namespace handover::testing {

inline bool verify_webhook_signature(const http::Request& request, std::string_view raw_key) {
  const std::string* id = request.header("webhook-id");
  const std::string* timestamp = request.header("webhook-timestamp");
  const std::string* sig = request.header("webhook-signature");
  if (id == nullptr || timestamp == nullptr || sig == nullptr) return false;
  const std::string content = *id + "." + *timestamp + "." + request.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), raw_key.data(), static_cast<int>(raw_key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &length);
  const std::string expected =
      "v1," + crypto::base64_encode(std::string(reinterpret_cast<const char*>(mac), length));
  return crypto::constant_time_equal(*sig, expected);
}

}  // namespace handover::testing

// Standard Webhooks signatures, the payload and the retry schedule.
#include <openssl/hmac.h>

#include <gtest/gtest.h>

#include "handover/util/crypto.hpp"
#include "handover/webhooks/webhooks.hpp"

namespace handover::webhooks {
namespace {

// HMAC-SHA256 computed here with OpenSSL's one-shot call, base64 by OpenSSL's encoder: an
// implementation independent of the one under test.
std::string reference_signature(const std::string& key, const std::string& content) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &length);
  unsigned char encoded[4 * EVP_MAX_MD_SIZE];
  const int n = EVP_EncodeBlock(encoded, mac, static_cast<int>(length));
  return "v1," + std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

TEST(Signature, MatchesTheStandardWebhooksSpecificationExample) {
  auto key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.is_ok());

  const std::string sig =
      signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})");

  EXPECT_EQ(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Signature, MatchesAnIndependentHmac) {
  const std::string raw_key = "0123456789abcdef0123456789abcdef";
  const std::string secret = "whsec_" + crypto::base64_encode(raw_key);
  auto key = secret_key(secret);
  ASSERT_TRUE(key.is_ok());
  EXPECT_EQ(*key, raw_key);
  const std::string body = R"({"type":"handover.requested","data":{"queue":"général"}})";

  const std::string sig = signature(*key, "evt_42", 1700000000, body);

  EXPECT_EQ(sig, reference_signature(raw_key, "evt_42.1700000000." + body));
  EXPECT_NE(sig, signature(*key, "evt_43", 1700000000, body));
  EXPECT_NE(sig, signature(*key, "evt_42", 1700000001, body));
}

TEST(SecretKey, RefusesOtherShapes) {
  EXPECT_FALSE(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
  EXPECT_FALSE(secret_key("whsec_not*base64").is_ok());
  EXPECT_FALSE(secret_key("whsec_").is_ok());
}

TEST(MessageId, IsStablePerEvent) {
  EXPECT_EQ(message_id(17), "evt_17");
  EXPECT_EQ(message_id(17), message_id(17));
}

TEST(Payload, HasTypeTimestampAndDataWithTheConversation) {
  feed::Event event;
  event.id = 9;
  event.type = feed::kHandoverAccepted;
  event.conversation_id = "c_7";
  event.created_at_ms = 1'700'000'000'123;
  event.data = {{"state", "agent"}, {"agent", {{"id", "a_1"}}}};

  const auto body = nlohmann::json::parse(payload(event));

  EXPECT_EQ(body["type"], "handover.accepted");
  EXPECT_EQ(body["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(body["data"]["conversation_id"], "c_7");
  EXPECT_EQ(body["data"]["state"], "agent");
  EXPECT_EQ(body["data"]["agent"]["id"], "a_1");
}

struct BackoffCase {
  int failures;
  double random;
  std::int64_t retry_after;
  std::int64_t expected;
};

TEST(Backoff, DoublesWithJitterAndHonoursRetryAfter) {
  const BackoffCase cases[] = {
      {1, 0.0, -1, 500},       {1, 0.999999, -1, 1000},  {2, 0.0, -1, 1000},
      {3, 0.5, -1, 3000},      {10, 0.0, -1, 30'000},    {30, 0.999999, -1, 60'000},
      {1, 0.0, 5000, 5000},    {1, 0.0, 100, 500},       {1, 0.0, 3'600'000, 60'000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "failures=" << c.failures << " random=" << c.random
                                      << " retry_after=" << c.retry_after);

    EXPECT_EQ(backoff_ms(c.failures, 1000, 60'000, c.random, c.retry_after), c.expected);
  }
}

TEST(RetryAfter, ReadsSecondsAndDates) {
  const std::string seconds = "7";
  const std::string date = "Tue, 14 Nov 2023 22:13:30 GMT";
  const std::string junk = "soon";

  EXPECT_EQ(retry_after_ms(&seconds, 0), 7000);
  EXPECT_EQ(retry_after_ms(&date, 1'700'000'000'000), 10'000);
  EXPECT_EQ(retry_after_ms(&junk, 0), -1);
  EXPECT_EQ(retry_after_ms(nullptr, 0), -1);
}

TEST(Base64, RoundTripsEveryLength) {
  const std::string bytes = std::string("\x00\xff\x10 binary\x80", 11);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    SCOPED_TRACE(n);
    const std::string part = bytes.substr(0, n);

    const auto decoded = crypto::base64_decode(crypto::base64_encode(part));

    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, part);
  }
  EXPECT_EQ(crypto::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(crypto::base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(crypto::base64_decode("Zm8").has_value());
  EXPECT_FALSE(crypto::base64_decode("Zm=8").has_value());
  EXPECT_FALSE(crypto::base64_decode("Z!8=").has_value());
}

}  // namespace
}  // namespace handover::webhooks

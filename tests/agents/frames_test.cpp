// Client frame validation and server frame shapes of agent protocol v1.
#include "frames.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handover::agents {
namespace {

using nlohmann::json;

struct BadCase {
  const char* name;
  std::string text;
  std::string code;
  json ref = nullptr;
};

TEST(ClientFrames, RejectsMalformedFramesWithACodeAndTheRef) {
  const std::vector<BadCase> cases = {
      {"not json", "hello there", "bad_json"},
      {"array", "[1,2]", "bad_json"},
      {"duplicate member", R"({"type":"ping","type":"hello"})", "bad_json"},
      {"no type", R"({"ref":"r1"})", "invalid_field", "r1"},
      {"type not a string", R"({"type":5,"ref":2})", "invalid_field", 2},
      {"unknown type", R"({"type":"teleport","ref":"x"})", "unknown_type", "x"},
      {"bad ref", R"({"type":"ping","ref":{"a":1}})", "invalid_field"},
      {"accept without offer", R"({"type":"accept","conversation_id":"c1","ref":3})",
       "invalid_field", 3},
      {"offer id as string", R"({"type":"accept","conversation_id":"c1","offer_id":"7"})",
       "invalid_field"},
      {"negative offer id", R"({"type":"accept","conversation_id":"c1","offer_id":-1})",
       "invalid_field"},
      {"fractional offer id", R"({"type":"accept","conversation_id":"c1","offer_id":1.5})",
       "invalid_field"},
      {"huge offer id",
       R"({"type":"accept","conversation_id":"c1","offer_id":18446744073709551615})",
       "invalid_field"},
      {"unknown member", R"({"type":"ping","extra":true})", "invalid_field"},
      {"presence offline", R"({"type":"presence","status":"offline"})", "invalid_field"},
      {"empty message", R"({"type":"message","conversation_id":"c1","text":""})", "invalid_field"},
      {"blank message", R"({"type":"message","conversation_id":"c1","text":" \n\t "})",
       "invalid_field"},
      {"bad client id", R"({"type":"message","conversation_id":"c1","text":"a","id":"a b"})",
       "invalid_field"},
      // The narrator's messages and the built-in bot's replies are stored under such ids.
      {"the narrator's id",
       R"({"type":"message","conversation_id":"c1","text":"a","id":"narrator:4"})",
       "invalid_field"},
      {"a bot reply's id",
       R"({"type":"message","conversation_id":"c1","text":"a","id":"BOT-REPLY:2"})",
       "invalid_field"},
      {"transfer to both", R"({"type":"transfer","conversation_id":"c1","queue":"q","agent":"a"})",
       "invalid_field"},
      {"transfer to none", R"({"type":"transfer","conversation_id":"c1"})", "invalid_field"},
      {"resolve without feedback", R"({"type":"resolve","conversation_id":"c1"})", "invalid_field"},
      {"resolve bad justified",
       R"({"type":"resolve","conversation_id":"c1","feedback":{"justified":"maybe"}})",
       "invalid_field"},
      {"negative resume", R"({"type":"hello","resume_after":-5})", "invalid_field"},
      {"state not a boolean", R"({"type":"hello","state":1})", "invalid_field"},
      {"escaped NUL in a message",
       R"({"type":"message","conversation_id":"c1","text":"a\u0000b"})", "invalid_field"},
      {"escape character in a note",
       R"({"type":"return_to_bot","conversation_id":"c1","note":"\u001b[31m"})",
       "invalid_field"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);

    const ParsedFrame parsed = parse_client_frame(c.text);

    ASSERT_TRUE(parsed.error.has_value());
    EXPECT_EQ(parsed.error->code, c.code) << parsed.error->message;
    EXPECT_EQ(parsed.frame.ref, c.ref);
  }
}

TEST(ClientFrames, ParsesEveryFrameType) {
  const std::vector<std::pair<std::string, FrameType>> cases = {
      {R"({"type":"hello","resume_after":12})", FrameType::kHello},
      {R"({"type":"presence","status":"away"})", FrameType::kPresence},
      {R"({"type":"accept","conversation_id":"c1","offer_id":4})", FrameType::kAccept},
      {R"({"type":"decline","conversation_id":"c1","offer_id":4,"reason":"busy"})",
       FrameType::kDecline},
      {R"({"type":"claim","conversation_id":"c1"})", FrameType::kClaim},
      {R"({"type":"message","conversation_id":"c1","text":"Hallo","id":"m-1"})",
       FrameType::kMessage},
      {R"({"type":"transfer","conversation_id":"c1","queue":"billing","note":"n"})",
       FrameType::kTransfer},
      {R"({"type":"return_to_bot","conversation_id":"c1","note":"n"})", FrameType::kReturnToBot},
      {R"({"type":"resolve","conversation_id":"c1","feedback":{"justified":"too_late",)"
       R"("reason":"refund","note":"late"}})",
       FrameType::kResolve},
      {R"({"type":"snapshot","conversation_id":"c1"})", FrameType::kSnapshot},
      {R"({"type":"ping","ref":9})", FrameType::kPing},
  };
  for (const auto& [text, type] : cases) {
    SCOPED_TRACE(text);

    const ParsedFrame parsed = parse_client_frame(text);

    ASSERT_FALSE(parsed.error.has_value()) << parsed.error->message;
    EXPECT_EQ(parsed.frame.type, type);
  }
}

TEST(ClientFrames, AcceptsTabsAndLineBreaksInTexts) {
  const ParsedFrame parsed = parse_client_frame(
      R"({"type":"message","conversation_id":"c1","text":"Hallo,\r\n\tich sehe nach."})");

  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->message;
  EXPECT_EQ(parsed.frame.text, "Hallo,\r\n\tich sehe nach.");
}

TEST(ClientFrames, KeepsTheFieldsOfTheFrame) {
  const ParsedFrame resolve =
      parse_client_frame(R"({"type":"resolve","ref":"r","conversation_id":"c1",)"
                         R"("feedback":{"justified":"no","reason":"faq","note":"bot knew it"}})");
  const ParsedFrame hello = parse_client_frame(R"({"type":"hello","resume_after":42})");
  const ParsedFrame state = parse_client_frame(R"({"type":"hello","state":true})");
  const ParsedFrame transfer =
      parse_client_frame(R"({"type":"transfer","conversation_id":"c1","agent":"ben"})");

  ASSERT_FALSE(resolve.error || hello.error || state.error || transfer.error);
  EXPECT_EQ(resolve.frame.ref, "r");
  EXPECT_EQ(resolve.frame.feedback.justified, routing::Justified::kNo);
  EXPECT_EQ(resolve.frame.feedback.reason_code, "faq");
  EXPECT_EQ(resolve.frame.feedback.note, "bot knew it");
  EXPECT_EQ(hello.frame.resume_after, 42);
  EXPECT_FALSE(hello.frame.want_state);
  EXPECT_TRUE(state.frame.want_state);
  EXPECT_FALSE(state.frame.resume_after.has_value());
  EXPECT_EQ(transfer.frame.target.agent, "ben");
  EXPECT_TRUE(transfer.frame.target.queue.empty());
}

TEST(ServerFrames, OfferSplicesTheSnapshotVerbatim) {
  store::EventRecord event;
  event.id = 17;
  event.type = kEventOffer;
  event.agent_id = "ana";
  event.conversation_id = "c1";
  event.data_json = R"({"conversation_id":"c1","offer_id":3,"queue":"general"})";
  auto snapshot = std::make_shared<const std::string>(R"({"snapshot_version":1})");

  const json with = json::parse(*event_frame(event, snapshot));
  const json without = json::parse(*event_frame(event, nullptr));

  EXPECT_EQ(with["type"], "offer");
  EXPECT_EQ(with["seq"], 17);
  EXPECT_EQ(with["offer_id"], 3);
  EXPECT_EQ(with["snapshot"]["snapshot_version"], 1);
  EXPECT_TRUE(without["snapshot"].is_null());
}

TEST(ServerFrames, StateHoldsTheOpenEventsAsTheirFrames) {
  const std::string offer = R"({"type":"offer","seq":3,"snapshot":{"snapshot_version":2}})";
  const std::string assigned = R"({"type":"assigned","seq":5,"conversation_id":"c1"})";

  const json state = json::parse(*state_frame(9, {offer}, {assigned}));
  const json empty = json::parse(*state_frame(0, {}, {}));

  EXPECT_EQ(state["type"], "state");
  EXPECT_EQ(state["last_seq"], 9);
  EXPECT_EQ(state["offers"], json::array({json::parse(offer)}));
  EXPECT_EQ(state["assigned"], json::array({json::parse(assigned)}));
  EXPECT_EQ(empty["offers"], json::array());
  EXPECT_EQ(empty["assigned"], json::array());
}

TEST(ServerFrames, ErrorAndAckEchoTheRef) {
  const json error = json::parse(*error_frame("r1", "offer_expired", "too late"));
  const json ack = json::parse(*ack_frame(5, FrameType::kAccept, {{"conversation_id", "c1"}}));
  const json bare = json::parse(*ack_frame(nullptr, FrameType::kPing));

  EXPECT_EQ(error["type"], "error");
  EXPECT_EQ(error["ref"], "r1");
  EXPECT_EQ(error["code"], "offer_expired");
  EXPECT_EQ(ack["ref"], 5);
  EXPECT_EQ(ack["for"], "accept");
  EXPECT_EQ(ack["conversation_id"], "c1");
  EXPECT_FALSE(bare.contains("ref"));
}

}  // namespace
}  // namespace handover::agents

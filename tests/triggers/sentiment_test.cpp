// Sentiment scores per turn, English and German, through the product lexicons.
#include "handover/triggers/engine.hpp"

#include <string>

#include <gtest/gtest.h>

#include "trigger_test_support.hpp"

namespace handover::triggers {
namespace {

using testing::Conversation;

double score(std::string_view text, std::string_view language = "") {
  Conversation conversation;
  conversation.info.language = language;
  return conversation.user(text).signals.sentiment.score;
}

struct Range {
  std::string_view text;
  std::string_view language;
  double low;
  double high;
};

TEST(Sentiment, ScoresEnglishAndGermanTurnsInTheRightDirection) {
  const Range cases[] = {
      {"The service is good", "en", 0.2, 1.0},
      {"The service is not good", "en", -1.0, -0.1},
      {"I don't like this at all", "en", -1.0, -0.05},
      {"The food was great but the delivery was awful", "en", -1.0, -0.1},
      {"It is bad, but the staff were lovely", "en", 0.1, 1.0},
      {"thanks :)", "en", 0.2, 1.0},
      {"😡😡", "en", -1.0, -0.3},
      {"👍", "de", 0.2, 1.0},
      {"Der Service ist gut", "de", 0.2, 1.0},
      {"Der Service ist nicht gut", "de", -1.0, -0.1},
      {"Das ist nicht schlecht", "de", 0.1, 1.0},
      {"Das gefällt mir nicht", "de", -1.0, -0.1},
      {"Der Service ist super, aber die Lieferung war katastrophal", "de", -1.0, -0.2},
      {"Die Lieferung war katastrophal, aber der Service ist super", "de", 0.1, 1.0},
      {"So ein Scheißladen", "de", -1.0, -0.3},
      {"Die Strasse ist lang", "de", -0.05, 0.05},
      {"Das ist great", "", 0.2, 1.0},  // mixed language: the English word still counts
      {"", "en", 0.0, 0.0},
      {"That was freaking awful, okay?", "en", -1.0, -0.1},  // no boost across the comma
      {"freaking", "en", -0.05, 0.05},  // a booster alone carries no valence
      {"I'm NOT the latter LOL", "en", 0.1, 1.0},              // laughter is not negated
      {"Nope :-)", "en", 0.1, 1.0},                            // nor are emoticons
  };
  for (const Range& c : cases) {
    SCOPED_TRACE(c.text);

    const double s = score(c.text, c.language);

    EXPECT_GE(s, c.low);
    EXPECT_LE(s, c.high);
  }
}

TEST(Sentiment, ReadsEmoticonCaseHelpThatFailedLikingAndNobody) {
  const Range cases[] = {
      {"I forgot it D: D:", "en", -1.0, -0.3},  // dismay, not the tongue "d:"
      {"yum d:", "en", 0.1, 1.0},
      {"XD", "en", 0.2, 1.0},        // an emoticon listed in lower case matches any case
      {"so funny :P", "en", 0.2, 1.0},
      {"That didn't help", "en", -1.0, -0.1},  // help that did not come is a complaint
      {"It does not help at all", "en", -1.0, -0.1},
      {"Help?", "en", -0.05, 0.05},              // a bare request stays neutral
      {"I like it", "en", 0.2, 1.0},             // liking, not a comparison
      {"looks like rain", "en", -0.05, 0.2},     // a comparison stays weak
      {"Ok nobody panic", "en", 0.1, 1.0},       // "nobody" negates like "nothing"
      {"Nobody was friendly", "en", -1.0, -0.1},
  };
  for (const Range& c : cases) {
    SCOPED_TRACE(c.text);

    const double s = score(c.text, c.language);

    EXPECT_GE(s, c.low);
    EXPECT_LE(s, c.high);
  }
}

struct Stronger {
  std::string_view strong;
  std::string_view weak;
};

TEST(Sentiment, BoostersCapsAndExclamationsStrengthenDampenersWeaken) {
  const Stronger cases[] = {
      {"The service is very good", "The service is good"},
      {"The service is GOOD", "The service is good"},
      {"The service is good!!!", "The service is good"},
      {"Der Service ist sehr gut", "Der Service ist gut"},
      {"Der Service ist extrem gut", "Der Service ist gut"},
      {"Ich bin zufrieden", "Ich bin kaum zufrieden"},
      {"Das ist SCHLECHT", "Das ist schlecht"},  // compared by magnitude
      {"Is this good????", "Is this good???"},   // more than three "?" add the most
      {"Is this good???", "Is this good??"},
  };
  for (const Stronger& c : cases) {
    SCOPED_TRACE(c.strong);

    const double strong = std::abs(score(c.strong));
    const double weak = std::abs(score(c.weak));

    EXPECT_GT(strong, weak);
  }
}

TEST(Sentiment, LongTextStaysInRange) {
  std::string text;
  while (text.size() < 8192) text += "This is terrible and I hate it. ";

  const double s = score(text, "en");

  EXPECT_GE(s, -1.0);
  EXPECT_LT(s, -0.9);
}

TEST(Sentiment, ConversationMeanAndDropFollowTheUserTurns) {
  Conversation conversation;
  conversation.info.language = "en";

  conversation.user("Hi, thanks, this is great");
  conversation.bot("Glad to help");
  conversation.user("This is bad");
  conversation.user("This is awful, I hate it");
  const Evaluation last = conversation.user("This is awful, I hate it");

  EXPECT_LT(last.signals.sentiment.mean, last.signals.sentiment.start);
  EXPECT_GT(last.signals.sentiment.drop, 0.4);
  EXPECT_LT(last.signals.sentiment.min, -0.5);
  EXPECT_EQ(last.signals.turns_user, 4);
}

}  // namespace
}  // namespace handover::triggers

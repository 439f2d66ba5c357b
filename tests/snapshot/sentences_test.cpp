// Text helpers of the summary: sentences, folded words, questions, clipping.
#include "sentences.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "handover/util/utf8.hpp"

namespace handover::snapshot {
namespace {

TEST(Sentences, SplitAtEndPunctuationFollowedBySpaceAndAtLineBreaks) {
  struct Case {
    std::string text;
    std::vector<std::string_view> sentences;
  };
  const Case cases[] = {
      {"Hello. How are you? Fine!", {"Hello.", "How are you?", "Fine!"}},
      {"Version 1.5 is out", {"Version 1.5 is out"}},
      {"Wait... what?!  Really", {"Wait...", "what?!", "Really"}},
      {"Zeile eins\nZeile zwei", {"Zeile eins", "Zeile zwei"}},
      {"Moment\xE2\x80\xA6 ja", {"Moment\xE2\x80\xA6", "ja"}},
      {"   ", {}},
      {"", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);

    const auto sentences = split_sentences(c.text);

    EXPECT_EQ(sentences, c.sentences);
  }
}

TEST(Sentences, WordsAreFoldedAsTheTriggerEngineSpellsEvidence) {
  EXPECT_EQ(folded_words("Grüße, Straße! ÄRGER über 3 Öfen"),
            (std::vector<std::string>{"gruesse", "strasse", "aerger", "ueber", "3", "oefen"}));
  EXPECT_EQ(folded_words("„Paket“ 📦 kaputt—sofort"),
            (std::vector<std::string>{"paket", "kaputt", "sofort"}));
  EXPECT_EQ(folded_text("  Nicht   ANGEKOMMEN! "), "nicht angekommen");
}

TEST(Sentences, StopWordsCoverBothLanguages) {
  for (const char* word : {"the", "und", "hallo", "thanks", "fuer", "ueber"}) {
    EXPECT_TRUE(is_stop_word(word)) << word;
  }
  for (const char* word : {"paket", "refund", "rechnung", "order"}) {
    EXPECT_FALSE(is_stop_word(word)) << word;
  }
}

TEST(Sentences, QuestionsEndWithAQuestionMarkOrOpenWithAQuestionWord) {
  EXPECT_TRUE(is_question("Is it shipped?"));
  EXPECT_TRUE(is_question("warum dauert das so lange"));
  EXPECT_TRUE(is_question("How do I reset my password"));
  EXPECT_FALSE(is_question("I want a refund."));
  EXPECT_FALSE(is_question("Wasser ist nass"));
}

TEST(Sentences, ClipNeverSplitsACodePoint) {
  const std::string text = "Grüße 📦📦📦 und noch mehr Text dahinter";
  for (std::size_t max = 3; max < text.size(); ++max) {
    SCOPED_TRACE(max);

    const std::string cut = clip(text, max);

    EXPECT_LE(cut.size(), max);
    EXPECT_TRUE(utf8::is_valid(cut));
    EXPECT_TRUE(cut.ends_with("\xE2\x80\xA6"));
  }
  EXPECT_EQ(clip(text, text.size()), text);
}

}  // namespace
}  // namespace handover::snapshot

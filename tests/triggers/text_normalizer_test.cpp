// Folding and tokenisation of turn text.
#include "text_normalizer.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace handover::triggers {
namespace {

std::vector<std::string> words(std::string_view text, const EmoticonSet* emoticons = nullptr) {
  TextNormalizer normalizer(emoticons);
  NormalizedText out;
  normalizer.normalize(text, out);
  std::vector<std::string> result;
  for (const Token& token : out.tokens) result.emplace_back(out.text(token));
  return result;
}

TEST(TextNormalizer, FoldsGermanSpellingsToOneForm) {
  struct Case {
    std::string_view input;
    std::string_view folded;
  };
  const Case cases[] = {
      {"Straße", "strasse"},
      {"STRASSE", "strasse"},
      {"Strasse", "strasse"},
      {"GROẞ", "gross"},  // capital sharp s
      {"Kündigung", "kuendigung"},
      {"KUENDIGUNG", "kuendigung"},
      {"Ku\xCC\x88ndigung", "kuendigung"},  // u + combining diaeresis
      {"Öffnungszeiten", "oeffnungszeiten"},
      {"ärgerlich", "aergerlich"},
      {"ﬁle", "file"},     // ligature
      {"don’t", "don't"},  // typographic apostrophe
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);

    const std::string folded = TextNormalizer::fold(c.input);

    EXPECT_EQ(folded, c.folded);
  }
}

TEST(TextNormalizer, SplitsWordsEmoticonsEmojiAndPunctuation) {
  const EmoticonSet emoticons = {":)", ":-(", "<3", "d:", "D:", "x("};
  struct Case {
    std::string_view input;
    std::vector<std::string> tokens;
  };
  const std::vector<Case> cases = {
      {"Hello, world!", {"hello", ",", "world", "!"}},
      {"great :) thanks", {"great", ":)", "thanks"}},
      {"bad:-(", {"bad", ":-("}},
      {"I <3 it", {"i", "<3", "it"}},
      {"oh no D:", {"oh", "no", "D:"}},  // listed with its capital: kept apart from "d:"
      {"yum d:", {"yum", "d:"}},
      {"X(", {"x("}},  // listed only in lower case: folded
      {"👍🏽 ok", {"👍", "ok"}},  // skin tone dropped
      {"😡😡😡", {"😡", "😡", "😡"}},
      {"E-Mail-Adresse", {"e-mail-adresse"}},  // hyphenated words stay whole
      // Zero-width characters inside a word are dropped; a ZWJ emoji sequence keeps its own.
      {"hu\u200Cman please", {"human", "please"}},
      {"hu\u200B\u200Dman", {"human"}},
      {"Men\u2060sch\uFEFF", {"mensch"}},
      {"\uFEFFagent", {"agent"}},
      {"\U0001F468\u200D\U0001F4BB ok", {"\U0001F468\u200D\U0001F4BB", "ok"}},
      {"-- ok -", {"ok"}},
      {"@united see https://example.com/x now", {"<ref>", "see", "<ref>", "now"}},
      {"", {}},
      {"   \n\t ", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);

    const auto tokens = words(c.input, &emoticons);

    EXPECT_EQ(tokens, c.tokens);
  }
}

// The lexicon keeps as emoticons only entries of this shape, and the normalizer looks up only
// chunks of it: a plain word never costs a lookup in the emoticon set.
TEST(TextNormalizer, KnowsTheShapeOfAnEmoticon) {
  for (std::string_view yes : {":)", "<3", "D:", ":'(", "x(", ":-/", "^_^"}) {
    EXPECT_TRUE(looks_like_emoticon(yes)) << yes;
  }
  for (std::string_view no : {"xd", "XD", "don't", "e-mail", "42", "", "\xC3\xBC:)"}) {
    EXPECT_FALSE(looks_like_emoticon(no)) << no;
  }
  const EmoticonSet emoticons = {":)", "<3"};
  TextNormalizer normalizer(&emoticons);
  NormalizedText out;
  normalizer.normalize("nice:) <3 thanks", out);
  ASSERT_EQ(out.tokens.size(), 4u);
  EXPECT_EQ(out.tokens[0].kind, TokenKind::kWord);
  EXPECT_EQ(out.tokens[1].kind, TokenKind::kEmoticon);
  EXPECT_EQ(out.text(out.tokens[1]), ":)");
  EXPECT_EQ(out.tokens[2].kind, TokenKind::kEmoticon);
  EXPECT_EQ(out.tokens[3].kind, TokenKind::kWord);
}

TEST(TextNormalizer, MarksCapsCountsQuestionsAndSentences) {
  TextNormalizer normalizer(nullptr);
  NormalizedText out;

  normalizer.normalize("This is VERY bad!!! Why?? And how? I", out);

  ASSERT_GE(out.tokens.size(), 4U);
  EXPECT_TRUE(out.tokens[2].caps);       // VERY
  EXPECT_FALSE(out.tokens[0].caps);      // This
  EXPECT_FALSE(out.tokens.back().caps);  // a single capital letter is no shouting
  EXPECT_EQ(out.exclamations, 3);
  EXPECT_EQ(out.questions, 2);
  EXPECT_EQ(out.caps_words, 1);
  EXPECT_GT(out.tokens.back().sentence, out.tokens[0].sentence);
}

TEST(TextNormalizer, RepairsInvalidUtf8) {
  TextNormalizer normalizer(nullptr);
  NormalizedText out;

  normalizer.normalize("ok \xFF\xFE bad \xC3", out);

  ASSERT_GE(out.tokens.size(), 2U);
  EXPECT_EQ(out.text(out.tokens[0]), "ok");
  EXPECT_EQ(out.text(out.tokens[1]), "bad");
}

TEST(TextNormalizer, HandlesLongInputsAndEmojiFloodsLinearly) {
  TextNormalizer normalizer(nullptr);
  NormalizedText out;
  std::string long_text;
  while (long_text.size() < 8192) long_text += "Die Lieferung ist leider nicht angekommen. ";
  std::string flood;
  for (int i = 0; i < 2000; ++i) flood += "😡";

  normalizer.normalize(long_text, out);
  const std::size_t long_tokens = out.tokens.size();
  normalizer.normalize(flood, out);

  EXPECT_GT(long_tokens, 1000U);
  EXPECT_EQ(out.tokens.size(), 2000U);
}

}  // namespace
}  // namespace handover::triggers

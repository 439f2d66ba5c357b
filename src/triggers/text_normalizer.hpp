// Turns raw turn text into case-folded tokens, once per turn, in linear time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "string_hash.hpp"

namespace handover::triggers {

// kReference stands for an @mention or a link: it carries no meaning of its own but keeps
// its place, so "NOT :) @bob I heart it" does not read as "not ... heart".
enum class TokenKind : std::uint8_t { kWord, kNumber, kEmoticon, kEmoji, kPunct, kReference };

struct Token {
  std::uint32_t begin = 0;  // byte range in NormalizedText::folded
  std::uint32_t end = 0;
  TokenKind kind = TokenKind::kWord;
  bool caps = false;  // a word of two or more letters, all upper case in the original
  char punct = 0;     // for kPunct: the ASCII character
  std::uint16_t sentence = 0;
  std::uint16_t clause = 0;  // also advances at commas
  std::uint32_t word = 0;    // vocabulary id, filled by Lexicon::assign_ids
  std::uint32_t affix = 0;   // id of a matching prefix/suffix entry, when `word` has no category
};

struct NormalizedText {
  std::string folded;  // folded tokens separated by single spaces
  std::vector<Token> tokens;
  int words = 0;  // kWord tokens
  int caps_words = 0;
  int exclamations = 0;    // '!' characters
  int questions = 0;       // runs of '?'
  int question_marks = 0;  // '?' characters

  std::string_view text(const Token& token) const {
    return std::string_view(folded).substr(token.begin, token.end - token.begin);
  }
  void clear();
};

// Emoticon entries in lower case, plus those the lexicon spells with capitals ("D:"). Every
// entry looks_like_emoticon(): the normalizer looks up only chunks that do.
using EmoticonSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

// ASCII with punctuation other than ' and - (spaces aside): ":)", "<3", "D:", not "xd".
bool looks_like_emoticon(std::string_view text);

// How a chunk matches the emoticon set: not at all, in lower case, or with its own capitals.
enum class EmoticonMatch { kNone, kFolded, kExact };

// Folding: Unicode NFKC with full case folding (ICU), so "Straße", "STRASSE" and "strasse"
// agree, then ä, ö, ü spelled ae, oe, ue, so "kündigen" and "kuendigen" agree; the typographic
// apostrophe becomes "'". Thread-safe; holds no state besides the emoticon set.
class TextNormalizer {
 public:
  explicit TextNormalizer(const EmoticonSet* emoticons) : emoticons_(emoticons) {}

  // Splits `text` into words, numbers, emoticons, emoji and punctuation. Invalid UTF-8 is
  // repaired first. `out` is cleared and reused, so callers can keep its buffers.
  void normalize(std::string_view text, NormalizedText& out) const;

  // The folded form of one lexicon entry or word, as normalize() would produce it.
  static std::string fold(std::string_view text);

 private:
  void split_chunk(std::string_view chunk, NormalizedText& out, std::uint16_t& sentence,
                   std::uint16_t& clause) const;
  EmoticonMatch match_emoticon(std::string_view chunk) const;

  const EmoticonSet* emoticons_;
};

}  // namespace handover::triggers

// Tokenisation and Unicode folding of turn text (ICU for normalisation and properties).
#include "text_normalizer.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "handover/util/utf8.hpp"

namespace handover::triggers {
namespace {

constexpr std::size_t kMaxEmoticonBytes = 8;

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 1;
};

// Decodes one code point of valid UTF-8 at `pos`.
CodePoint decode(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t value = b0 & (0x7F >> length);
  for (std::size_t i = 1; i < length && pos + i < s.size(); ++i) {
    value = (value << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  }
  return {value, length};
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool is_apostrophe(char32_t c) { return c == U'\'' || c == U'\u2019'; }

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  const auto cp = static_cast<UChar32>(c);
  return u_isalnum(cp) || (U_GET_GC_MASK(cp) & U_GC_M_MASK) != 0;
}

// ICU's u_isalpha, u_isupper and u_isdigit, answered without a call for ASCII.
bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return u_isalpha(static_cast<UChar32>(c));
}

bool is_upper_letter(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  return u_isalpha(static_cast<UChar32>(c)) && u_isupper(static_cast<UChar32>(c));
}

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return u_isdigit(static_cast<UChar32>(c));
}

bool is_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}

// Zero-width characters (space, non-joiner, joiner, word joiner, BOM) that may sit inside a
// word unseen, by accident of copy and paste or to slip past filters: "hu\u200Cman".
bool is_invisible(char32_t c) { return (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF; }

// The position after any zero-width characters at `pos`.
std::size_t skip_invisible(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    const CodePoint c = decode(s, pos);
    if (!is_invisible(c.value)) break;
    pos += c.length;
  }
  return pos;
}

// `word` without its zero-width characters.
std::string without_invisible(std::string_view word) {
  std::string visible;
  for (std::size_t pos = 0; pos < word.size();) {
    const CodePoint c = decode(word, pos);
    if (!is_invisible(c.value)) visible.append(word.substr(pos, c.length));
    pos += c.length;
  }
  return visible;
}

bool is_emoji_base(char32_t c) {
  if (c < 0x80) return false;
  if (c >= 0x1F1E6 && c <= 0x1F1FF) return true;  // regional indicators (flags)
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_EXTENDED_PICTOGRAPHIC);
}

// Parts of an emoji sequence that do not change its meaning for scoring.
bool is_emoji_modifier(char32_t c) {
  return c == 0xFE0F || c == 0xFE0E || c == 0x20E3 || (c >= 0x1F3FB && c <= 0x1F3FF) ||
         (c >= 0xE0020 && c <= 0xE007F);
}

std::string nfkc(std::string_view text) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFKCInstance(error);
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
  if (U_SUCCESS(error)) {
    normalizer->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())),
                              sink, nullptr, error);
  }
  return U_SUCCESS(error) ? out : std::string(text);
}

// Appends the case-folded `word` with umlauts spelled out.
void append_folded(std::string_view word, std::string& out) {
  if (is_ascii(word)) {
    for (char c : word) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return;
  }
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* folder = icu::Normalizer2::getNFKCCasefoldInstance(error);
  std::string folded;
  icu::StringByteSink<std::string> sink(&folded, static_cast<int32_t>(word.size()));
  if (U_SUCCESS(error)) {
    folder->normalizeUTF8(0, icu::StringPiece(word.data(), static_cast<int32_t>(word.size())), sink,
                          nullptr, error);
  }
  if (U_FAILURE(error)) folded.assign(word);
  for (std::size_t i = 0; i < folded.size(); ++i) {
    const auto c = static_cast<unsigned char>(folded[i]);
    const auto next = i + 1 < folded.size() ? static_cast<unsigned char>(folded[i + 1]) : 0;
    if (c == 0xC3 && (next == 0xA4 || next == 0xB6 || next == 0xBC)) {
      out.push_back(next == 0xA4 ? 'a' : next == 0xB6 ? 'o' : 'u');
      out.push_back('e');
      ++i;
    } else if (c == 0xE2 && next == 0x80 && i + 2 < folded.size() &&
               static_cast<unsigned char>(folded[i + 2]) == 0x99) {
      out.push_back('\'');
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

// Chat widgets and feeds sometimes deliver HTML-escaped text ("&gt;:[").
std::string decode_entities(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
      {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool replaced = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out.push_back(c);
        i += entity.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(text[i]);
  }
  return out;
}

void ascii_lower(std::string_view s, std::string& out) {
  for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
}

Token start_token(NormalizedText& out, TokenKind kind, std::uint16_t sentence,
                  std::uint16_t clause) {
  if (!out.folded.empty()) out.folded.push_back(' ');
  Token token;
  token.begin = static_cast<std::uint32_t>(out.folded.size());
  token.kind = kind;
  token.sentence = sentence;
  token.clause = clause;
  return token;
}

void finish_token(NormalizedText& out, Token token) {
  token.end = static_cast<std::uint32_t>(out.folded.size());
  out.tokens.push_back(token);
}

// @mentions and links name things; their words ("@united") say nothing about the writer.
bool is_mention_or_link(std::string_view chunk) {
  const auto starts = [chunk](std::string_view prefix) {
    return chunk.substr(0, prefix.size()) == prefix;
  };
  return (chunk.size() > 1 && chunk[0] == '@') || starts("http://") || starts("https://") ||
         starts("www.");
}

// An emoticon keeps its capitals when the lexicon lists it so ("D:"), else is lower-cased.
void add_emoticon(std::string_view text, bool keep_case, NormalizedText& out,
                  std::uint16_t sentence, std::uint16_t clause) {
  Token token = start_token(out, TokenKind::kEmoticon, sentence, clause);
  if (keep_case) {
    out.folded.append(text);
  } else {
    ascii_lower(text, out.folded);
  }
  finish_token(out, token);
}

// Consumes a word (letters, digits, marks, inner apostrophes and hyphens) at `pos`; returns
// its end. Hyphenated words stay whole ("tax-the-rich", "Kunden-Service-Mitarbeiter"), and
// zero-width characters inside a word are dropped.
std::size_t scan_word(std::string_view chunk, std::size_t pos, NormalizedText& out,
                      std::uint16_t sentence, std::uint16_t clause) {
  std::size_t end = pos;
  int letters = 0;
  int upper = 0;
  bool digits_only = true;
  bool hidden = false;
  while (end < chunk.size()) {
    const CodePoint c = decode(chunk, end);
    const std::size_t next = skip_invisible(chunk, end + c.length);
    const bool inner = end > pos && next < chunk.size() && is_word_char(decode(chunk, next).value);
    if (is_invisible(c.value) && inner) {
      hidden = true;
      end += c.length;
      continue;
    }
    const bool inner_joiner = (is_apostrophe(c.value) || c.value == U'-') && inner;
    if (!inner_joiner && !is_word_char(c.value)) break;
    if (is_letter(c.value)) ++letters;
    if (is_upper_letter(c.value)) ++upper;
    if (!inner_joiner && !is_digit(c.value)) digits_only = false;
    end += c.length;
  }
  Token token =
      start_token(out, digits_only ? TokenKind::kNumber : TokenKind::kWord, sentence, clause);
  token.caps = letters >= 2 && upper == letters;
  const std::string_view word = chunk.substr(pos, end - pos);
  if (hidden) {
    append_folded(without_invisible(word), out.folded);
  } else {
    append_folded(word, out.folded);
  }
  finish_token(out, token);
  if (!digits_only) {
    ++out.words;
    if (token.caps) ++out.caps_words;
  }
  return end;
}

// Consumes an emoji with its modifiers and ZWJ-joined parts; returns its end.
std::size_t scan_emoji(std::string_view chunk, std::size_t pos, NormalizedText& out,
                       std::uint16_t sentence, std::uint16_t clause) {
  Token token = start_token(out, TokenKind::kEmoji, sentence, clause);
  const CodePoint base = decode(chunk, pos);
  out.folded.append(chunk.substr(pos, base.length));
  pos += base.length;
  while (pos < chunk.size()) {
    const CodePoint c = decode(chunk, pos);
    if (is_emoji_modifier(c.value)) {
      pos += c.length;
    } else if (c.value == 0x200D && pos + c.length < chunk.size()) {
      const CodePoint joined = decode(chunk, pos + c.length);
      out.folded.append(chunk.substr(pos, c.length + joined.length));
      pos += c.length + joined.length;
    } else {
      break;
    }
  }
  finish_token(out, token);
  return pos;
}

// Records sentence and clause ends, "!" and "?" counts, and keeps the punctuation that
// matters to the signals as tokens.
void add_punct(char c, NormalizedText& out, std::uint16_t& sentence, std::uint16_t& clause) {
  const bool ends_sentence = c == '.' || c == '!' || c == '?' || c == ';' || c == ':';
  const bool continues_question =
      !out.tokens.empty() && out.tokens.back().kind == TokenKind::kPunct &&
      out.tokens.back().punct == '?' && out.tokens.back().end == out.folded.size();
  if (c == '!') ++out.exclamations;
  if (c == '?') ++out.question_marks;
  if (c == '?' && !continues_question) ++out.questions;
  if (ends_sentence || c == ',' || c == '"' || c == '(' || c == ')') {
    Token token = start_token(out, TokenKind::kPunct, sentence, clause);
    token.punct = c;
    out.folded.push_back(c);
    finish_token(out, token);
  }
  if (ends_sentence) ++sentence;
  if (ends_sentence || c == ',') ++clause;
}

}  // namespace

void NormalizedText::clear() {
  folded.clear();
  tokens.clear();
  words = caps_words = exclamations = questions = question_marks = 0;
}

bool looks_like_emoticon(std::string_view text) {
  bool punct = false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return false;
    if (c == ' ') continue;
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '\'' && c != '-') punct = true;
  }
  return punct;
}

EmoticonMatch TextNormalizer::match_emoticon(std::string_view chunk) const {
  // Most chunks are plain words, which no emoticon is: they cost no hash lookup.
  if (emoticons_ == nullptr || chunk.size() > kMaxEmoticonBytes || !looks_like_emoticon(chunk))
    return EmoticonMatch::kNone;
  char lowered[kMaxEmoticonBytes];
  bool capitals = false;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    const char c = chunk[i];
    capitals = capitals || (c >= 'A' && c <= 'Z');
    lowered[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  }
  if (emoticons_->find(std::string_view(lowered, chunk.size())) == emoticons_->end())
    return EmoticonMatch::kNone;
  return capitals && emoticons_->find(chunk) != emoticons_->end() ? EmoticonMatch::kExact
                                                                   : EmoticonMatch::kFolded;
}

void TextNormalizer::normalize(std::string_view text, NormalizedText& out) const {
  out.clear();
  std::string repaired;
  if (!utf8::is_valid(text)) {
    icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())))
        .toUTF8String(repaired);
    text = repaired;
  }
  std::string unescaped;
  if (text.find('&') != std::string_view::npos) {
    unescaped = decode_entities(text);
    text = unescaped;
  }
  std::string normalized;
  if (!is_ascii(text)) {
    normalized = nfkc(text);
    text = normalized;
  }

  std::uint16_t sentence = 0;
  std::uint16_t clause = 0;
  std::size_t chunk_start = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    const CodePoint cp = pos < text.size() ? decode(text, pos) : CodePoint{U' ', 1};
    if (!is_space(cp.value)) {
      pos += cp.length;
      continue;
    }
    if (pos > chunk_start)
      split_chunk(text.substr(chunk_start, pos - chunk_start), out, sentence, clause);
    if (cp.value == U'\n') {
      ++sentence;
      ++clause;
    }
    pos += cp.length;
    chunk_start = pos;
  }
}

void TextNormalizer::split_chunk(std::string_view chunk, NormalizedText& out,
                                 std::uint16_t& sentence, std::uint16_t& clause) const {
  if (is_mention_or_link(chunk)) {
    Token token = start_token(out, TokenKind::kReference, sentence, clause);
    out.folded.append("<ref>");
    finish_token(out, token);
    return;
  }
  if (const EmoticonMatch match = match_emoticon(chunk); match != EmoticonMatch::kNone) {
    add_emoticon(chunk, match == EmoticonMatch::kExact, out, sentence, clause);
    return;
  }
  for (std::size_t pos = 0; pos < chunk.size();) {
    const CodePoint cp = decode(chunk, pos);
    if (is_word_char(cp.value)) {
      pos = scan_word(chunk, pos, out, sentence, clause);
    } else if (is_emoji_base(cp.value)) {
      pos = scan_emoji(chunk, pos, out, sentence, clause);
    } else if (const EmoticonMatch match =
                   cp.value < 0x80 ? match_emoticon(chunk.substr(pos)) : EmoticonMatch::kNone;
               match != EmoticonMatch::kNone) {
      // An emoticon glued to a word: "great:)".
      add_emoticon(chunk.substr(pos), match == EmoticonMatch::kExact, out, sentence, clause);
      return;
    } else {
      if (cp.value < 0x80) add_punct(static_cast<char>(cp.value), out, sentence, clause);
      pos += cp.length;
    }
  }
}

std::string TextNormalizer::fold(std::string_view text) {
  TextNormalizer normalizer(nullptr);
  NormalizedText out;
  normalizer.normalize(text, out);
  return out.folded;
}

}  // namespace handover::triggers

// Sentence splitting, word folding and stop words for the extractive summary.
#include "sentences.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "handover/util/utf8.hpp"

namespace handover::snapshot {
namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026

// Folded (see folded_words).
constexpr std::string_view kStopWords[] = {
    "a",      "abend",   "aber",    "about",  "again", "all",    "also",   "am",     "an",
    "and",    "any",     "are",     "as",     "at",    "auch",   "auf",    "be",     "been",
    "bei",    "bin",     "bist",    "bitte",  "but",   "by",     "can",    "cant",   "could",
    "da",     "danke",   "dann",    "das",    "dear",  "dem",    "den",    "denn",   "der",
    "des",    "dich",    "did",     "die",    "dies",  "diese",  "diesem", "diesen", "dieser",
    "dieses", "dir",     "do",      "doch",   "does",  "dont",   "dort",   "du",     "ein",
    "eine",   "einem",   "einen",   "einer",  "eines", "er",     "es",     "etwas",  "euch",
    "for",    "from",    "fuer",    "get",    "got",   "guten",  "hab",    "habe",   "haben",
    "had",    "hallo",   "has",     "hast",   "hat",   "hatte",  "have",   "he",     "hello",
    "her",    "here",    "hey",     "hi",     "hier",  "his",    "how",    "i",      "ich",
    "if",     "ihm",     "ihn",     "ihr",    "ihre",  "im",     "in",     "into",   "is",
    "ist",    "it",      "its",     "ive",    "ja",    "jetzt",  "just",   "kann",   "kein",
    "keine",  "koennen", "koennte", "mal",    "man",   "may",    "me",     "mein",   "meine",
    "meinem", "meinen",  "meiner",  "mich",   "mir",   "mit",    "moin",   "more",   "morgen",
    "much",   "muss",    "my",      "nein",   "nicht", "no",     "noch",   "not",    "now",
    "nur",    "oder",    "of",      "oh",     "ok",    "okay",   "on",     "or",     "our",
    "out",    "please",  "schon",   "sehr",   "sein",  "servus", "she",    "should", "sich",
    "sie",    "sind",    "so",      "soll",   "some",  "still",  "tag",    "thank",  "thanks",
    "that",   "the",     "their",   "them",   "then",  "there",  "these",  "they",   "this",
    "those",  "to",      "too",     "ueber",  "und",   "uns",    "unser",  "up",     "us",
    "very",   "von",     "war",     "was",    "we",    "well",   "wenn",   "were",   "what",
    "when",   "where",   "which",   "who",    "why",   "wie",    "will",   "wir",    "wird",
    "with",   "wo",      "would",   "wuerde", "yes",   "you",    "your",   "zu",     "zum",
    "zur",
};

// Folded question words that open a question without a question mark.
constexpr std::string_view kQuestionWords[] = {
    "how",   "what",    "why",  "when", "where", "who",   "which", "wie",    "was",     "warum",
    "wieso", "weshalb", "wann", "wo",   "wohin", "woher", "wer",   "welche", "welcher", "welches",
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The code point at s[i] and its length in bytes (1 for a malformed byte).
std::pair<std::uint32_t, std::size_t> decode(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = b(i);
  std::size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (b0 < 0xC0 || i + n > s.size()) return {b0, 1};
  std::uint32_t cp = b0 & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3F);
  return {cp, n};
}

// Letters and digits of the scripts customers write in; punctuation, symbols and emoji are
// not. Good enough for splitting words, not a Unicode property table.
bool is_word_char(std::uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xFE00 && cp <= 0xFE0F) return false;  // variation selectors
  return cp < 0x1F000;                             // emoji and pictographs are not
}

void append_folded(std::uint32_t cp, std::string_view raw, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp);
    return;
  }
  switch (cp) {
    case 0xE4:
    case 0xC4:
      out += "ae";
      return;
    case 0xF6:
    case 0xD6:
      out += "oe";
      return;
    case 0xFC:
    case 0xDC:
      out += "ue";
      return;
    case 0xDF:
    case 0x1E9E:
      out += "ss";
      return;
    default:
      out += raw;
  }
}

}  // namespace

std::vector<std::string_view> split_sentences(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  const auto emit = [&](std::size_t end) {
    const std::string_view sentence = trim(text.substr(start, end - start));
    if (!sentence.empty()) out.push_back(sentence);
    start = end;
  };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') {
      emit(++i);
      continue;
    }
    std::size_t end = 0;
    if (c == '.' || c == '!' || c == '?') end = i + 1;
    if (text.substr(i).starts_with(kEllipsis)) end = i + kEllipsis.size();
    if (end == 0) {
      ++i;
      continue;
    }
    while (end < text.size() && (text[end] == '.' || text[end] == '!' || text[end] == '?')) ++end;
    if (end == text.size() || is_space(text[end])) emit(end);
    i = end;
  }
  emit(text.size());
  return out;
}

std::vector<std::string> folded_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (std::size_t i = 0; i < text.size();) {
    const auto [cp, n] = decode(text, i);
    if (is_word_char(cp)) {
      append_folded(cp, text.substr(i, n), word);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
    i += n;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string folded_text(std::string_view text) {
  std::string out;
  for (const auto& word : folded_words(text)) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

bool is_stop_word(std::string_view folded_word) {
  return std::find(std::begin(kStopWords), std::end(kStopWords), folded_word) !=
         std::end(kStopWords);
}

bool is_question(std::string_view sentence) {
  sentence = trim(sentence);
  if (sentence.ends_with('?')) return true;
  const auto words = folded_words(sentence.substr(0, 32));
  return !words.empty() && std::find(std::begin(kQuestionWords), std::end(kQuestionWords),
                                     words.front()) != std::end(kQuestionWords);
}

std::string clip(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const std::size_t keep = utf8::safe_prefix_length(text, max_bytes - kEllipsis.size());
  std::string out(trim(text.substr(0, keep)));
  out += kEllipsis;
  return out;
}

}  // namespace handover::snapshot

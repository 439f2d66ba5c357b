// Loading of the lexicon data files and token/phrase lookup over them.
#include "lexicon.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <sstream>

#include "handover/util/file.hpp"
#include "handover/util/utf8.hpp"

namespace handover::triggers {
namespace {

constexpr std::size_t kMinFuzzyLength = 5;
constexpr std::size_t kLongFuzzyLength = 9;

// The largest lexicon file read; the shipped ones are well under 1 MiB.
constexpr std::size_t kMaxLexiconFileBytes = 16 * 1024 * 1024;

// Reads a lexicon file, or adds "file: <what>: <why>" to `errors`.
bool read_file(const std::filesystem::path& file, std::string_view what, std::string& content,
               std::vector<std::string>& errors) {
  auto read = files::read_regular_file(file, kMaxLexiconFileBytes);
  if (!read) {
    errors.push_back(file.string() + ": cannot read " + std::string(what) + ": " +
                     read.status().message());
    return false;
  }
  content = std::move(read).value();
  return true;
}

std::string where(const std::filesystem::path& file, std::size_t line) {
  return file.string() + ":" + std::to_string(line) + ": ";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool parse_float(std::string_view s, float& value) {
  s = trim(s);
  // from_chars for float is in GCC 11+; it does not accept a leading '+'.
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Letters (any script), digits, apostrophes and hyphens only: what a prefix/suffix entry holds.
bool is_plain_word(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && u < 0x80 && c != '\'' && c != '-') return false;
  }
  return true;
}

// Optimal string alignment distance, giving up (returning limit + 1) once it exceeds `limit`.
std::size_t bounded_distance(std::string_view a, std::string_view b, std::size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  constexpr std::size_t kMax = 40;
  if (a.size() >= kMax || b.size() >= kMax) return limit + 1;
  // Rows i - 2, i - 1 and i of the table; an entry is always written before it is read, so
  // nothing is cleared (this runs for every fuzzy target an unknown word is tried against).
  std::array<std::array<std::size_t, kMax>, 3> rows;
  std::size_t* before = rows[0].data();
  std::size_t* prev = rows[1].data();
  std::size_t* cur = rows[2].data();
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    std::size_t row_min = limit + 1;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      std::size_t v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        v = std::min(v, before[j - 2] + 1);
      cur[j] = v;
      row_min = std::min(row_min, v);
    }
    if (row_min > limit) return limit + 1;
    std::size_t* const oldest = before;
    before = prev;
    prev = cur;
    cur = oldest;
  }
  return prev[b.size()];
}

// Where the first or last bytes of an affix go in Lexicon's 4,096-bit filters.
std::size_t affix_end_bit(std::string_view end) {
  std::uint32_t h = 2166136261U;
  for (const char c : end) h = (h ^ static_cast<unsigned char>(c)) * 16777619U;
  return (h ^ (h >> 12)) & 4095U;
}

// One bit per class of byte values (the value modulo 64) that occurs in `text`.
std::uint64_t byte_classes(std::string_view text) {
  std::uint64_t classes = 0;
  for (const char c : text) classes |= std::uint64_t{1} << (static_cast<unsigned char>(c) & 63U);
  return classes;
}

// True when the byte classes alone show more than `limit` edits between two strings: every
// class that occurs in one and not in the other needs an edit of its own on that side (an
// edit removes or adds at most one byte there; a transposition changes no class).
bool classes_exceed(std::uint64_t a, std::uint64_t b, std::size_t limit) {
  // More than `limit` bits set, without a popcount (a library call on baseline x86-64).
  const auto more_bits = [limit](std::uint64_t bits) {
    for (std::size_t i = 0; i < limit && bits != 0; ++i) bits &= bits - 1;
    return bits != 0;
  };
  return more_bits(a & ~b) || more_bits(b & ~a);
}

}  // namespace

Lexicon::Lexicon() : normalizer_(&emoticons_) {}

int Lexicon::language_index(std::string_view code) const {
  // A tag such as "de-CH", "DE" or "de_AT" names its primary language: compare that.
  const std::string_view primary = code.substr(0, code.find_first_of("-_"));
  const auto same = [primary](const std::string& known) {
    return known.size() == primary.size() &&
           std::equal(known.begin(), known.end(), primary.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  };
  for (std::size_t i = 0; i < languages_.size(); ++i) {
    if (same(languages_[i])) return static_cast<int>(i);
  }
  return -1;
}

int Lexicon::category(std::string_view name) const {
  for (std::size_t i = 0; i < categories_.size(); ++i) {
    if (categories_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

WordInfo& Lexicon::mutable_info(std::uint32_t node, std::size_t language) {
  return infos_[node * languages_.size() + language];
}

const WordInfo& Lexicon::resolve(std::uint32_t node, std::size_t language) const {
  const WordInfo& own = info(node, language);
  if (own.known()) return own;
  for (std::size_t i = 0; i < languages_.size(); ++i) {
    if (info(node, i).known()) return info(node, i);
  }
  return own;
}

const WordInfo& Lexicon::resolve_common(std::uint32_t node, std::size_t language) const {
  const WordInfo& own = info(node, language);
  if (own.known()) return own;
  for (std::size_t i = 0; i < languages_.size(); ++i) {
    if (info(node, i).categories != 0) return info(node, i);
  }
  return own;
}

bool Lexicon::has_category(std::uint32_t node) const {
  for (std::size_t i = 0; i < languages_.size(); ++i) {
    if (info(node, i).categories != 0) return true;
  }
  return false;
}

bool Lexicon::known_anywhere(std::uint32_t node) const {
  for (std::size_t i = 0; i < languages_.size(); ++i) {
    if (info(node, i).known()) return true;
  }
  return false;
}

std::uint32_t Lexicon::intern(std::string_view key) {
  const auto it = vocabulary_.find(key);
  if (it != vocabulary_.end()) return it->second;
  const std::uint32_t id = node_count_++;
  vocabulary_.emplace(std::string(key), id);
  infos_.resize(static_cast<std::size_t>(node_count_) * languages_.size());
  has_children_.resize(node_count_, 0);
  return id;
}

std::uint32_t Lexicon::child(std::uint32_t node, std::uint32_t word) const {
  if (!has_children_[node]) return 0;
  const auto it = children_.find((static_cast<std::uint64_t>(node) << 32) | word);
  return it == children_.end() ? 0 : it->second;
}

// Returns the node for `raw` (a word, emoticon, affix entry or phrase), 0 with `error` set.
std::uint32_t Lexicon::add_entry(std::string_view raw, std::string& error) {
  raw = trim(raw);
  if (raw.empty()) return 0;
  const bool prefix =
      raw.size() > 1 && raw.back() == '*' && is_plain_word(raw.substr(0, raw.size() - 1));
  const bool suffix = raw.size() > 1 && raw.front() == '*' && is_plain_word(raw.substr(1));
  if (!prefix && !suffix && raw.find(' ') == std::string_view::npos && looks_like_emoticon(raw)) {
    std::string key;
    for (char c : raw) key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    emoticons_.insert(key);
    return intern(key);
  }
  if (prefix || suffix) {
    const std::string folded = TextNormalizer::fold(raw.substr(suffix ? 1 : 0, raw.size() - 1));
    if (folded.empty() || folded.find(' ') != std::string::npos) {
      error = "a prefix or suffix entry must be one word: '" + std::string(raw) + "'";
      return 0;
    }
    const std::uint32_t id = intern(std::string(prefix ? "" : "*") + folded + (prefix ? "*" : ""));
    (prefix ? prefixes_ : suffixes_)[folded] = id;
    min_affix_ = std::min(min_affix_, folded.size());
    max_affix_ = std::max(max_affix_, folded.size());
    if (folded.size() < kAffixEnd) {
      (prefix ? short_prefix_ : short_suffix_) = true;
    } else {
      const std::string_view end = prefix
                                       ? std::string_view(folded).substr(0, kAffixEnd)
                                       : std::string_view(folded).substr(folded.size() - kAffixEnd);
      const std::size_t bit = affix_end_bit(end);
      (prefix ? prefix_ends_ : suffix_ends_)[bit >> 6] |= std::uint64_t{1} << (bit & 63U);
    }
    return id;
  }
  NormalizedText tokens;
  normalizer_.normalize(raw, tokens);
  std::uint32_t node = 0;
  std::size_t depth = 0;
  for (const Token& token : tokens.tokens) {
    if (token.kind == TokenKind::kPunct) continue;
    const std::uint32_t word = intern(tokens.text(token));
    if (++depth == 1) {
      node = word;
      continue;
    }
    const std::uint64_t key = (static_cast<std::uint64_t>(node) << 32) | word;
    auto it = children_.find(key);
    if (it == children_.end()) {
      const std::uint32_t next = node_count_++;
      infos_.resize(static_cast<std::size_t>(node_count_) * languages_.size());
      has_children_.resize(node_count_, 0);
      it = children_.emplace(key, next).first;
    }
    has_children_[node] = 1;
    node = it->second;
  }
  if (depth > kMaxPhraseTokens) {
    error = "a phrase may have at most 8 words: '" + std::string(raw) + "'";
    return 0;
  }
  // Emoticons with spaces can never match a token; they are skipped, not errors.
  if (node == 0 && !looks_like_emoticon(raw))
    error = "entry has no words: '" + std::string(raw) + "'";
  return node;
}

bool Lexicon::load_sentiment(const std::filesystem::path& file, std::size_t language,
                             std::string& digest, std::vector<std::string>& errors) {
  std::string content;
  if (!read_file(file, "the sentiment lexicon", content, errors)) return false;
  digest += content;
  std::istringstream in(content);
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty() || line[0] == '#') continue;
    const std::size_t tab = line.find('\t');
    const std::size_t tab2 = tab == std::string::npos ? tab : line.find('\t', tab + 1);
    float valence = 0.0F;
    if (tab == std::string::npos ||
        !parse_float(std::string_view(line).substr(tab + 1, tab2 - tab - 1), valence) ||
        valence < -4.0F || valence > 4.0F) {
      errors.push_back(where(file, number) +
                       "expected 'entry<TAB>valence' with -4 <= valence <= 4");
      continue;
    }
    std::string error;
    const std::string_view entry = std::string_view(line).substr(0, tab);
    const std::uint32_t node = add_entry(entry, error);
    if (node == 0) {
      if (!error.empty()) errors.push_back(where(file, number) + error);
      continue;
    }
    // "D:" (dismay) and "d:" (a tongue) differ: an emoticon written with capitals keeps its own
    // reading, and gives it to the lower-case spelling only when that has none of its own.
    const std::uint32_t exact = add_capital_emoticon(entry);
    const bool lower_case_taken = exact != 0 && mutable_info(node, language).has_valence;
    for (const std::uint32_t target : {exact, lower_case_taken ? 0U : node}) {
      if (target == 0) continue;
      mutable_info(target, language).valence = valence;
      mutable_info(target, language).has_valence = true;
    }
  }
  return true;
}

// The node of an emoticon entry spelled with capitals ("D:", "XD") under that exact spelling,
// or 0 for any other entry.
std::uint32_t Lexicon::add_capital_emoticon(std::string_view raw) {
  raw = trim(raw);
  const bool capitals =
      std::any_of(raw.begin(), raw.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!capitals || raw.find(' ') != std::string_view::npos || !looks_like_emoticon(raw)) return 0;
  emoticons_.emplace(raw);
  return intern(raw);
}

bool Lexicon::load_cues(const std::filesystem::path& file, std::size_t language,
                        std::string& digest, std::vector<std::string>& errors) {
  std::string content;
  if (!read_file(file, "the cue list", content, errors)) return false;
  digest += content;
  std::istringstream in(content);
  std::string line;
  int category_id = -1;
  bool fuzzy = false;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    // A binary or mis-encoded file would otherwise load as cues nobody can type.
    if (!utf8::is_valid(text) || text.find('\0') != std::string_view::npos) {
      errors.push_back(where(file, number) + "not UTF-8 text");
      continue;
    }
    // Entries never start with '[': a header missing its ']' would otherwise add its cues to
    // the section before it.
    if (text.front() == '[' && (text.back() != ']' || text.size() < 3)) {
      errors.push_back(where(file, number) + "expected a section header '[category]', got '" +
                       std::string(text) + "'");
      category_id = -2;
      continue;
    }
    if (text.front() == '[') {
      const std::string name(trim(text.substr(1, text.size() - 2)));
      const bool topic =
          name.starts_with(kTopicCategoryPrefix) && name.size() > kTopicCategoryPrefix.size();
      if (!topic &&
          std::find(kCueCategories.begin(), kCueCategories.end(), name) == kCueCategories.end()) {
        errors.push_back(where(file, number) + "unknown category [" + name + "]");
        category_id = -2;  // its entries are skipped; the error fails the load
        continue;
      }
      category_id = category(name);
      fuzzy = false;
      if (category_id < 0) {
        if (categories_.size() == kMaxCategories) {
          errors.push_back(where(file, number) + "more than 64 categories");
          return false;
        }
        category_id = static_cast<int>(categories_.size());
        categories_.push_back(name);
      }
      continue;
    }
    if (category_id == -2) continue;
    if (category_id < 0) {
      errors.push_back(where(file, number) + "entry before the first [category] line");
      continue;
    }
    if (text == "@fuzzy") {
      fuzzy = true;
      continue;
    }
    const std::size_t tab = text.find('\t');
    float weight = 0.0F;
    if (tab != std::string_view::npos && !parse_float(text.substr(tab + 1), weight)) {
      errors.push_back(where(file, number) + "the weight after the tab is not a number");
      continue;
    }
    std::string error;
    const std::string_view entry = text.substr(0, tab);
    const std::uint32_t node = add_entry(entry, error);
    if (node == 0) {
      errors.push_back(where(file, number) + error);
      continue;
    }
    WordInfo& word = mutable_info(node, language);
    word.categories |= std::uint64_t{1} << category_id;
    if (tab != std::string_view::npos) word.weight = weight;
    const std::string folded = TextNormalizer::fold(entry);
    if (fuzzy && folded.size() >= kMinFuzzyLength - 1 && folded.find(' ') == std::string::npos &&
        entry.find('*') == std::string_view::npos) {
      fuzzy_.push_back({folded, node, byte_classes(folded)});
    }
  }
  return true;
}

bool Lexicon::load_emoji(const LexiconOptions& options, std::string& digest,
                         std::vector<std::string>& errors) {
  if (options.emoji_file.empty()) return true;
  const std::filesystem::path file = options.directory / options.emoji_file;
  const int scoring = language_index(options.emoji_language);
  if (scoring < 0) {
    errors.push_back("lexicons: emoji_language '" + options.emoji_language +
                     "' is not one of the languages");
    return false;
  }
  std::string content;
  if (!read_file(file, "the emoji lexicon", content, errors)) return false;
  digest += content;
  std::istringstream in(content);
  std::string line;
  NormalizedText tokens;
  while (std::getline(in, line)) {
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    normalizer_.normalize(std::string_view(line).substr(0, tab), tokens);
    if (tokens.tokens.size() != 1 || tokens.tokens[0].kind != TokenKind::kEmoji) continue;
    const std::string key(tokens.text(tokens.tokens[0]));
    normalizer_.normalize(std::string_view(line).substr(tab + 1), tokens);
    assign_ids(tokens);
    float sum = 0.0F;
    for (const Token& token : tokens.tokens) {
      const WordInfo& word = info(token.word, static_cast<std::size_t>(scoring));
      if (word.has_valence) sum += word.valence;
    }
    if (sum == 0.0F) continue;
    const std::uint32_t node = intern(key);
    for (std::size_t i = 0; i < languages_.size(); ++i) {
      mutable_info(node, i).valence = std::clamp(sum, -3.5F, 3.5F);
      mutable_info(node, i).has_valence = true;
    }
  }
  return true;
}

std::unique_ptr<Lexicon> Lexicon::load(const LexiconOptions& options, std::string& digest,
                                       std::vector<std::string>& errors) {
  const std::size_t errors_before = errors.size();
  if (options.languages.empty() || options.languages.size() > kMaxLanguages) {
    errors.push_back("lexicons: between 1 and 4 languages are needed");
    return nullptr;
  }
  std::unique_ptr<Lexicon> lexicon(new Lexicon());
  lexicon->languages_ = options.languages;
  lexicon->infos_.resize(lexicon->languages_.size());
  lexicon->has_children_.push_back(0);
  for (std::size_t i = 0; i < options.languages.size(); ++i) {
    const std::filesystem::path dir = options.directory / options.languages[i];
    lexicon->load_sentiment(dir / "sentiment.tsv", i, digest, errors);
    // Our additions to a lexicon shipped as-is from elsewhere (optional).
    if (std::filesystem::exists(dir / "sentiment_local.tsv")) {
      lexicon->load_sentiment(dir / "sentiment_local.tsv", i, digest, errors);
    }
    lexicon->load_cues(dir / "cues.txt", i, digest, errors);
  }
  lexicon->load_emoji(options, digest, errors);
  if (errors.size() != errors_before) return nullptr;
  return lexicon;
}

std::uint32_t Lexicon::lookup_affix(std::string_view token) const {
  if (max_affix_ == 0 || token.size() <= min_affix_ || token.size() > 64) return kUnknownWord;
  const std::size_t longest = std::min(max_affix_, token.size());
  const auto may_have = [&](const AffixEnds& ends, bool short_affixes, std::string_view end) {
    if (short_affixes || token.size() < kAffixEnd) return true;
    const std::size_t bit = affix_end_bit(end);
    return (ends[bit >> 6] & (std::uint64_t{1} << (bit & 63U))) != 0;
  };
  if (may_have(prefix_ends_, short_prefix_, token.substr(0, kAffixEnd))) {
    for (std::size_t length = longest; length >= min_affix_; --length) {
      const auto it = prefixes_.find(token.substr(0, length));
      if (it != prefixes_.end()) return it->second;
    }
  }
  if (token.size() >= kAffixEnd &&
      !may_have(suffix_ends_, short_suffix_, token.substr(token.size() - kAffixEnd))) {
    return kUnknownWord;
  }
  for (std::size_t length = longest; length >= min_affix_; --length) {
    const auto it = suffixes_.find(token.substr(token.size() - length));
    if (it != suffixes_.end()) return it->second;
  }
  return kUnknownWord;
}

std::uint32_t Lexicon::lookup_fuzzy(std::string_view token) const {
  if (token.size() < kMinFuzzyLength) return kUnknownWord;
  const std::size_t limit = token.size() >= kLongFuzzyLength ? 2 : 1;
  const std::uint64_t classes = byte_classes(token);
  for (const FuzzyTarget& target : fuzzy_) {
    if (token.size() > target.text.size() + limit || target.text.size() > token.size() + limit)
      continue;
    if (classes_exceed(classes, target.bytes, limit)) continue;
    if (bounded_distance(token, target.text, limit) <= limit) return target.node;
  }
  return kUnknownWord;
}

void Lexicon::assign_ids(NormalizedText& text) const {
  for (Token& token : text.tokens) {
    token.word = kUnknownWord;
    if (token.kind == TokenKind::kPunct || token.kind == TokenKind::kReference) continue;
    token.affix = kUnknownWord;
    const std::string_view word = text.text(token);
    const auto it = vocabulary_.find(word);
    if (it != vocabulary_.end()) token.word = it->second;
    if (token.kind != TokenKind::kWord) continue;
    // A word known only for its valence may still be a form of a cue stem ("delivered").
    if (token.word == kUnknownWord || !has_category(token.word)) token.affix = lookup_affix(word);
    if (token.word == kUnknownWord && token.affix == kUnknownWord) token.word = lookup_fuzzy(word);
    if (token.word == kUnknownWord) std::swap(token.word, token.affix);
  }
}

void Lexicon::match_phrases(const NormalizedText& text, std::vector<PhraseMatch>& out) const {
  out.clear();
  const auto& tokens = text.tokens;
  const std::size_t languages = languages_.size();
  for (std::size_t begin = 0; begin < tokens.size(); ++begin) {
    if (tokens[begin].affix != kUnknownWord) {
      for (std::size_t l = 0; l < languages; ++l) {
        const std::uint64_t mask = info(tokens[begin].affix, l).categories;
        if (mask != 0) {
          out.push_back({static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(begin + 1),
                         tokens[begin].affix, static_cast<std::uint8_t>(l), mask});
        }
      }
    }
    std::uint32_t node = tokens[begin].word;
    for (std::size_t end = begin + 1; node != 0; ++end) {
      for (std::size_t l = 0; l < languages; ++l) {
        const std::uint64_t mask = info(node, l).categories;
        if (mask != 0) {
          out.push_back({static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end), node,
                         static_cast<std::uint8_t>(l), mask});
        }
      }
      if (end >= tokens.size() || end - begin >= kMaxPhraseTokens) break;
      node = child(node, tokens[end].word);
    }
  }
}

std::uint32_t Lexicon::longest_phrase(const NormalizedText& text, std::size_t begin,
                                      std::size_t language, std::uint64_t categories,
                                      std::size_t& end) const {
  std::uint32_t best = 0;
  std::uint32_t node = text.tokens[begin].word;
  for (std::size_t i = begin + 1;
       node != 0 && i < text.tokens.size() && i - begin < kMaxPhraseTokens; ++i) {
    node = child(node, text.tokens[i].word);
    if (node != 0 && (resolve(node, language).categories & categories) != 0) {
      best = node;
      end = i + 1;
    }
  }
  return best;
}

std::uint32_t Lexicon::longest_valence_phrase(const NormalizedText& text, std::size_t begin,
                                              std::size_t language, std::size_t& end) const {
  std::uint32_t best = 0;
  std::uint32_t node = text.tokens[begin].word;
  for (std::size_t i = begin + 1; node != 0 && i < text.tokens.size(); ++i) {
    node = child(node, text.tokens[i].word);
    if (node != 0 && resolve(node, language).has_valence) {
      best = node;
      end = i + 1;
    }
    if (i - begin >= kMaxPhraseTokens) break;
  }
  return best;
}

}  // namespace handover::triggers

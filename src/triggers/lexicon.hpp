// Word lists of every language: sentiment valences, cue categories and phrases, as data.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "string_hash.hpp"
#include "text_normalizer.hpp"

namespace handover::triggers {

constexpr std::uint32_t kUnknownWord = 0;
constexpr std::size_t kMaxLanguages = 4;
constexpr std::size_t kMaxCategories = 64;
constexpr std::size_t kMaxPhraseTokens = 8;

// The [category] names a cue list may use: those the signals read (CategoryMasks::resolve),
// and any "topic.<name>" for the complexity signal's topics. A misspelt name would otherwise
// load as a category nobody reads and quietly switch its cues off.
inline constexpr std::array<std::string_view, 36> kCueCategories = {
    "negation", "negation_after", "negation_next", "negation_scope", "booster", "dampener",
    "contrast", "stopword", "common", "laughter", "insult", "anger", "expletive", "article",
    "address", "legal", "public_complaint", "churn",
    "human", "machine", "request_verb", "request_phrase", "request_negation", "request_blocker",
    "conjunction",
    "affirm", "decline", "defer", "handover_offer", "hedge", "purchase", "upgrade", "cancel",
    "vague", "progress", "no_progress"};
inline constexpr std::string_view kTopicCategoryPrefix = "topic.";

// What one language says about a word or phrase.
struct WordInfo {
  std::uint64_t categories = 0;  // bit per category id
  float valence = 0.0F;          // -4..4 when has_valence
  float weight = 0.0F;           // optional weight column of the cue file (boosters)
  bool has_valence = false;
  bool known() const { return categories != 0 || has_valence; }
};

// A run of tokens [begin, end) that is an entry of some category in `language`.
struct PhraseMatch {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint32_t node = 0;
  std::uint8_t language = 0;
  std::uint64_t categories = 0;
};

struct LexiconOptions {
  std::filesystem::path directory;     // holds <language>/sentiment.tsv and <language>/cues.txt
  std::vector<std::string> languages;  // e.g. {"en", "de"}
  std::string emoji_file;              // relative to directory; "" for none
  std::string emoji_language;          // whose sentiment words score the emoji descriptions
};

// Immutable after load; every method is const and thread-safe.
class Lexicon {
 public:
  // Reads every file. Errors are appended as "file:line: message"; `digest` receives the
  // bytes read, for the rule set's content hash. Returns null when any error occurred.
  static std::unique_ptr<Lexicon> load(const LexiconOptions& options, std::string& digest,
                                       std::vector<std::string>& errors);

  std::size_t language_count() const { return languages_.size(); }
  const std::string& language(std::size_t index) const { return languages_[index]; }
  int language_index(std::string_view code) const;

  // Category id by name, -1 when no file defines it.
  int category(std::string_view name) const;
  const std::string& category_name(int id) const {
    return categories_[static_cast<std::size_t>(id)];
  }
  std::size_t category_count() const { return categories_.size(); }

  const TextNormalizer& normalizer() const { return normalizer_; }

  // Fills Token::word: exact entries first, then prefix/suffix entries ("kuendig*"), then
  // entries marked @fuzzy within a small edit distance. Unknown tokens keep kUnknownWord.
  void assign_ids(NormalizedText& text) const;

  const WordInfo& info(std::uint32_t node, std::size_t language) const {
    return infos_[node * languages_.size() + language];
  }
  // The info of `language` when it knows the node, else of the first language that does.
  const WordInfo& resolve(std::uint32_t node, std::size_t language) const;
  // Like resolve(), but other languages count only when their cue lists hold the node.
  const WordInfo& resolve_common(std::uint32_t node, std::size_t language) const;
  bool known_anywhere(std::uint32_t node) const;
  bool has_category(std::uint32_t node) const;

  // Every single-token and multi-token entry in `text`, in token order; matches of up to
  // kMaxPhraseTokens tokens, linear in the number of tokens.
  void match_phrases(const NormalizedText& text, std::vector<PhraseMatch>& out) const;

  // The longest multi-token entry in one of `categories` starting at token `begin`, or 0.
  std::uint32_t longest_phrase(const NormalizedText& text, std::size_t begin, std::size_t language,
                               std::uint64_t categories, std::size_t& end) const;

  // The longest multi-token entry with a valence starting at token `begin`, or 0.
  std::uint32_t longest_valence_phrase(const NormalizedText& text, std::size_t begin,
                                       std::size_t language, std::size_t& end) const;

 private:
  Lexicon();
  std::uint32_t intern(std::string_view key);
  std::uint32_t child(std::uint32_t node, std::uint32_t word) const;
  std::uint32_t add_entry(std::string_view raw, std::string& error);
  std::uint32_t add_capital_emoticon(std::string_view raw);
  std::uint32_t lookup_affix(std::string_view token) const;
  std::uint32_t lookup_fuzzy(std::string_view token) const;
  WordInfo& mutable_info(std::uint32_t node, std::size_t language);
  bool load_sentiment(const std::filesystem::path& file, std::size_t language, std::string& digest,
                      std::vector<std::string>& errors);
  bool load_cues(const std::filesystem::path& file, std::size_t language, std::string& digest,
                 std::vector<std::string>& errors);
  bool load_emoji(const LexiconOptions& options, std::string& digest,
                  std::vector<std::string>& errors);

  std::vector<std::string> languages_;
  std::vector<std::string> categories_;
  EmoticonSet emoticons_;
  TextNormalizer normalizer_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> vocabulary_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> prefixes_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> suffixes_;
  std::size_t min_affix_ = 64;
  std::size_t max_affix_ = 0;
  // A bit per hash of the first (prefixes) or last (suffixes) kAffixEnd bytes of an entry:
  // a word whose bit is clear has no such affix, which spares the lookups per length.
  // An affix shorter than that turns the filter off for its side.
  static constexpr std::size_t kAffixEnd = 3;
  using AffixEnds = std::array<std::uint64_t, 64>;
  AffixEnds prefix_ends_{};
  AffixEnds suffix_ends_{};
  bool short_prefix_ = false;
  bool short_suffix_ = false;
  struct FuzzyTarget {
    std::string text;
    std::uint32_t node;
    std::uint64_t bytes;  // byte_classes(text): a cheap lower bound rules most targets out
  };
  std::vector<FuzzyTarget> fuzzy_;
  std::unordered_map<std::uint64_t, std::uint32_t> children_;  // (node << 32 | word) -> node
  std::vector<std::uint8_t> has_children_;
  std::vector<WordInfo> infos_;  // node * languages + language
  std::uint32_t node_count_ = 1;
};

}  // namespace handover::triggers

// Lexicon-based sentiment of one turn: negation, boosters, contrast, caps, "!" and emoji.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "categories.hpp"
#include "lexicon.hpp"
#include "text_normalizer.hpp"

namespace handover::triggers {

// One word's (or phrase's) share of a score: tokens [begin, end) and its adjusted valence.
struct SentimentWord {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  double valence = 0.0;
};

constexpr std::size_t kStrongestWords = 3;

// Scores text with the rules of lexicon sentiment analysis (after Hutto and Gilbert, 2014,
// re-implemented from the paper's description). Stateless and thread-safe.
class SentimentScorer {
 public:
  SentimentScorer(const Lexicon& lexicon, const CategoryMasks& masks)
      : lexicon_(lexicon), masks_(masks) {}

  // Compound score in [-1, 1]; 0 for text without sentiment words. `language` indexes the
  // lexicon's languages; with `cross_language` (a mixed-language turn) words it does not know
  // are read in the others.
  // When `strongest` is given it receives the words that weighed most, strongest first.
  double score(const NormalizedText& text, std::size_t language, bool cross_language,
               std::vector<SentimentWord>* strongest = nullptr) const;

 private:
  double modify(const NormalizedText& text, std::size_t index, std::size_t language, double v,
                bool mixed_caps) const;
  std::size_t modifier_phrase_end(const NormalizedText& text, std::size_t index,
                                  std::size_t language) const;
  bool is_modifier(const WordInfo& word, const NormalizedText& text, std::size_t index,
                   std::size_t language) const;
  bool modifies_next(const NormalizedText& text, std::size_t index, std::size_t language,
                     std::size_t window) const;
  double negate_after(const NormalizedText& text, std::size_t index, std::size_t language,
                      double v) const;

  const Lexicon& lexicon_;
  const CategoryMasks& masks_;
};

}  // namespace handover::triggers

// Computes the signals of one turn from its text, its bot fields and the conversation state.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "categories.hpp"
#include "handover/triggers/conversation_state.hpp"
#include "handover/triggers/engine.hpp"
#include "handover/triggers/signals.hpp"
#include "lexicon.hpp"
#include "sentiment.hpp"
#include "signal_settings.hpp"
#include "text_normalizer.hpp"

namespace handover::triggers {

// Buffers reused from turn to turn by one thread.
struct Scratch {
  NormalizedText text;
  std::vector<PhraseMatch> matches;
  std::vector<SentimentWord> strongest;
};

// Immutable; extract() is thread-safe as long as each thread passes its own Scratch and state.
class SignalExtractor {
 public:
  SignalExtractor(const Lexicon& lexicon, const CategoryMasks& masks,
                  const SignalSettings& settings)
      : lexicon_(lexicon), masks_(masks), settings_(settings), sentiment_(lexicon, masks) {}

  // Fills `out` for `turn` and advances `state` by one turn.
  void extract(const ConversationInfo& info, ConversationState& state, const TurnInput& turn,
               Scratch& scratch, Signals& out) const;

 private:
  struct TurnCues;
  struct LanguageVotes {
    std::array<unsigned, kMaxLanguages> votes{};
    int unknown = 0;
  };

  LanguageVotes count_votes(const Scratch& scratch) const;
  std::size_t pick_language(const ConversationInfo& info, ConversationState& state,
                            const Scratch& scratch, bool user, bool& mixed, Signals& out) const;
  TurnCues collect_cues(const Scratch& scratch, Signals& out) const;
  std::uint64_t blocked_sentences(const Scratch& scratch) const;
  void note_match(const Scratch& scratch, std::size_t index, std::uint64_t blocked, TurnCues& cues,
                  Signals& out) const;
  bool listed(const Token& token, std::uint64_t categories) const;
  bool scope_only(const Scratch& scratch, std::size_t begin, std::size_t end) const;
  bool negated(const Scratch& scratch, std::size_t index, std::uint64_t negators,
               bool whole_clause) const;
  bool negated_after(const Scratch& scratch, std::size_t index) const;
  bool request_negated(const Scratch& scratch, std::size_t index) const;
  bool machine_refused(const Scratch& scratch, std::size_t index) const;
  bool rudeness_negated(const Scratch& scratch, std::size_t index) const;
  void add_evidence(const Scratch& scratch, const PhraseMatch& match, SignalFamily family,
                    std::uint64_t category, Signals& out) const;
  void user_sentiment(ConversationState& state, Scratch& scratch, std::size_t language, bool mixed,
                      Signals& out) const;
  void user_request(ConversationState& state, const Scratch& scratch, const TurnCues& cues,
                    Signals& out) const;
  void user_complexity(ConversationState& state, const Scratch& scratch, const TurnCues& cues,
                       Signals& out) const;
  void user_value(const TurnCues& cues, Signals& out) const;
  void note_order_value(ConversationState& state, const TurnInput& turn) const;
  void user_ambiguity(const Scratch& scratch, const TurnCues& cues, Signals& out) const;
  bool addressed_insult(const Scratch& scratch, std::size_t language, Signals& out) const;
  void user_anger(ConversationState& state, const Scratch& scratch, std::size_t language,
                  const TurnCues& cues, Signals& out) const;
  void bot_turn(ConversationState& state, const TurnInput& turn, const TurnCues& cues,
                Signals& out) const;
  void fill_sentiment(const ConversationState& state, Signals& out) const;
  void fill_uncertainty(const ConversationState& state, Signals& out) const;
  void fill_complexity(const ConversationState& state, Signals& out) const;
  void fill_from_state(const ConversationInfo& info, const ConversationState& state,
                       Signals& out) const;

  const Lexicon& lexicon_;
  const CategoryMasks& masks_;
  const SignalSettings& settings_;
  SentimentScorer sentiment_;
};

}  // namespace handover::triggers

// Signal values computed for one turn: everything a rule expression can read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace handover::triggers {

// The seven signal families of the trigger engine.
enum class SignalFamily : std::uint8_t {
  kSentiment,
  kAnger,
  kRisk,
  kUncertainty,
  kRequest,
  kComplexity,
  kValue,
  kAmbiguity,
};

// "sentiment", "anger", ...; the prefix of the family's expression fields.
const char* family_name(SignalFamily family);

// One matched cue, kept so a decision can say why it was taken.
struct Evidence {
  SignalFamily family = SignalFamily::kSentiment;
  std::string_view cue;  // lexicon category, e.g. "legal"; lives as long as the RuleSet
  std::string text;      // the matched words, normalised (case-folded, umlauts spelled out)
};

struct SentimentSignals {
  bool scored = false;  // true when this turn is a user turn with text
  double score = 0.0;   // compound score of this turn in [-1, 1]
  double mean = 0.0;    // mean over the last N user turns
  double start = 0.0;   // mean of the first user turns of the conversation
  double drop = 0.0;    // start - mean: positive when the mood got worse
  double min = 0.0;     // lowest score among the last N user turns
};

struct AngerSignals {
  double score = 0.0;     // 0..1: insults, shouting, "!" and negative sentiment combined
  bool insult = false;    // an insult in this turn
  bool cue = false;       // words of anger in this turn ("I'm furious", "es reicht")
  bool shouting = false;  // most words of this turn in capitals
  int count = 0;          // insults over the whole conversation
};

struct RiskSignals {
  bool legal = false;             // lawyer, court, consumer protection
  bool public_complaint = false;  // review sites, social media, press
  bool churn = false;             // cancelling, leaving for a competitor
  int count = 0;                  // risk cues over the whole conversation
};

struct UncertaintySignals {
  double confidence = 1.0;    // last bot turn's bot.confidence (1 when never given)
  double score = 0.0;         // 0..1 from confidence, fallback and hedging of the last bot turn
  bool fallback = false;      // last bot turn was a fallback
  bool hedge = false;         // last bot turn's text hedges ("I'm not sure")
  bool bot_handover = false;  // this bot turn proposes a handover (bot.handover)
  bool bot_unreachable = false;  // this turn reports the bot unreachable (bot.unreachable)
  int low_streak = 0;         // consecutive low-confidence, fallback or hedging bot turns
  int fallbacks = 0;          // fallback bot turns over the whole conversation
};

struct RequestSignals {
  bool human = false;          // this user turn asks for a person (or says yes to an offer)
  bool declined = false;       // this user turn declines a pending handover offer
  bool accepted = false;       // this user turn says yes to a pending offer (not serialised:
                               // the evidence "affirm" shows it)
  bool offer_pending = false;  // the bot offered a person and the user has not answered
  int count = 0;               // requests over the whole conversation
};

struct ComplexitySignals {
  double score = 0.0;     // 0..1 combination of the values below
  int topics = 0;         // distinct topics or bot intents seen in the conversation
  int questions = 0;      // questions in this turn
  int words = 0;          // words in this turn
  int no_progress = 0;    // consecutive user turns without progress
  int repeats = 0;        // near-duplicate user messages among the recent ones
  bool repeated = false;  // this user turn nearly repeats a recent one
};

struct ValueSignals {
  double score = 0.0;     // 0..1 from lifetime value, order value and intent
  double order = 0.0;     // largest order or cart value seen in turn metadata
  double lifetime = 0.0;  // customer lifetime value (0 when unknown)
  bool purchase = false;  // purchase intent in this turn
  bool upgrade = false;   // upgrade intent in this turn
  bool cancel = false;    // cancellation intent in this turn
};

struct AmbiguitySignals {
  double score = 0.0;          // 0..1
  double unknown_share = 0.0;  // share of words no lexicon of any language knows
  bool short_text = false;     // very short user turn (field `ambiguity.short`)
  bool vague = false;          // vague phrasing ("it doesn't work", "Hilfe")
};

// Everything computed for one turn. String views point into the RuleSet or the caller's
// ConversationInfo and TurnInput and are valid as long as those are.
struct Signals {
  std::string_view role;      // "user", "bot", ...
  std::string_view language;  // detected or overridden language code, "" when unknown
  bool language_supported = false;
  int turns_user = 0;
  int turns_bot = 0;
  int turns_total = 0;
  SentimentSignals sentiment;
  AngerSignals anger;
  RiskSignals risk;
  UncertaintySignals uncertainty;
  RequestSignals request;
  ComplexitySignals complexity;
  ValueSignals value;
  AmbiguitySignals ambiguity;
  std::vector<Evidence> evidence;
};

}  // namespace handover::triggers

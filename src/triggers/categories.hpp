// The lexicon categories the signal code relies on, resolved once per rule set to bit masks.
#pragma once

#include <cstdint>

#include "lexicon.hpp"

namespace handover::triggers {

// Each member is the bit of the category of that name (0 when no lexicon file defines it,
// which switches the cue off). Topics are every category whose name starts with "topic.".
struct CategoryMasks {
  std::uint64_t negation = 0;        // negates the next sentiment words ("not", "kein")
  std::uint64_t negation_next = 0;   // negates only the word right after it ("no problem")
  std::uint64_t negation_after = 0;  // negates the preceding word in its clause ("nicht")
  std::uint64_t negation_scope = 0;  // verb phrase words a negation reaches across to a risk
                                     // cue ("not going to contact my lawyer")
  std::uint64_t booster = 0;
  std::uint64_t dampener = 0;
  std::uint64_t contrast = 0;  // "but": the part after weighs more
  std::uint64_t stopword = 0;  // frequent function words, for language detection
  std::uint64_t common = 0;    // other ordinary words, so they count as known
  std::uint64_t laughter = 0;  // "lol", "haha": read like emoticons, never negated
  std::uint64_t insult = 0;
  std::uint64_t anger = 0;    // words of anger that insult nobody
  std::uint64_t expletive = 0;  // insult or anger cues a negation leaves standing ("don't f...")
  std::uint64_t article = 0;    // "a", "ein": may stand between a negation and what it negates
  std::uint64_t address = 0;  // "you are", "du bist": a negative word after it insults
  std::uint64_t legal = 0;
  std::uint64_t public_complaint = 0;
  std::uint64_t churn = 0;
  std::uint64_t human = 0;             // "agent", "Mitarbeiter"
  std::uint64_t machine = 0;           // "bot", "Roboter": refusing one asks for a person
  std::uint64_t request_verb = 0;      // "talk", "sprechen", "connect"
  std::uint64_t request_phrase = 0;    // complete requests: "real person", "human please"
  std::uint64_t request_negation = 0;  // "don't", "keinen": cancels a request it stands before
  std::uint64_t conjunction = 0;       // "and", "und": separates a person from a request verb
  std::uint64_t request_blocker = 0;   // "complaint", "Beschwerde": no request in that sentence
  std::uint64_t affirm = 0;            // "yes", "ja gerne"
  std::uint64_t decline = 0;           // "no thanks", "nein danke"
  std::uint64_t defer = 0;             // "not now", "erst morgen": an answer that puts off
  std::uint64_t handover_offer = 0;    // bot text offering a person
  std::uint64_t hedge = 0;             // bot text hedging
  std::uint64_t purchase = 0;
  std::uint64_t upgrade = 0;
  std::uint64_t cancel = 0;
  std::uint64_t vague = 0;
  std::uint64_t progress = 0;     // "that worked", "danke, hat geklappt"
  std::uint64_t no_progress = 0;  // "that doesn't help", "bringt nichts"
  std::uint64_t topics = 0;

  static CategoryMasks resolve(const Lexicon& lexicon);
};

}  // namespace handover::triggers

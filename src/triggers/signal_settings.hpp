// Tunable numbers of the signal computations, read from the `settings` block of the rules file.
#pragma once

#include <string>
#include <vector>

namespace handover::triggers {

struct SignalSettings {
  double low_confidence = 0.5;         // bot.confidence below this counts as a low turn
  double near_duplicate = 0.7;         // Jaccard similarity of token sets that counts as a repeat
  int short_words = 2;                 // user turns with at most this many words are short
  int answer_words = 6;                // longest "yes"/"no thanks" reply to a handover offer
  double lifetime_value_scale = 5000;  // lifetime value that gives value.score its full share
  double order_value_scale = 500;      // order value that gives value.score its full share
  // Turn metadata paths holding an order or cart value; each is a list of object keys.
  std::vector<std::vector<std::string>> order_value_paths = {
      {"order_value"}, {"cart_value"}, {"order", "value"}, {"cart", "value"}};
};

}  // namespace handover::triggers

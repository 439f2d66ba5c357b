// The compiled half of a RuleSet: lexicons, settings, signal extractor and rule expressions.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "categories.hpp"
#include "expression.hpp"
#include "lexicon.hpp"
#include "signal_extractor.hpp"
#include "signal_settings.hpp"

namespace handover::triggers {

struct CompiledRule {
  Expression when;
  std::uint32_t id_hash = 0;   // key of the rule's cooldown slot
  std::uint32_t families = 0;  // bit per SignalFamily its fields belong to
};

struct RuleSetImpl {
  std::unique_ptr<Lexicon> lexicon;
  CategoryMasks masks;
  SignalSettings settings;
  std::unique_ptr<SignalExtractor> extractor;  // refers to the three members above
  std::vector<CompiledRule> rules;             // parallel to RuleSet::rules()
  std::vector<int> fields;                     // every field any rule reads, sorted
};

}  // namespace handover::triggers

// Turns per second of the trigger engine: all signals plus the product rules (20 rules).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/evaluation.hpp"
#include "handover/triggers/rule_set.hpp"
#include "evaluation_packing.hpp"  // the store's, private to it

namespace {

using handover::triggers::ConversationInfo;
using handover::triggers::ConversationState;
using handover::triggers::Engine;
using handover::triggers::TurnInput;

struct SampleTurn {
  std::string_view role;
  std::string_view text;
  double confidence;
};

// Typical chat turns, English and German, user and bot.
constexpr std::array<SampleTurn, 16> kTurns = {{
    {"user", "Hi, where is my order? It was supposed to arrive yesterday.", 1.0},
    {"bot", "I'm sorry to hear that. Could you give me your order number?", 0.82},
    {"user", "It's 4711-2231. This is the second time this happens!", 1.0},
    {"bot", "Thanks! Your parcel is with the courier and arrives tomorrow.", 0.91},
    {"user", "That's not good enough, I need it today", 1.0},
    {"bot", "I'm not sure I can change the delivery date.", 0.41},
    {"user", "Can I talk to a human please?", 1.0},
    {"bot", "Of course, let me connect you with an agent.", 0.95},
    {"user", "Hallo, ich habe eine Frage zu meiner Rechnung.", 1.0},
    {"bot", "Gerne! Worum geht es genau?", 0.88},
    {"user", "Mir wurde zweimal abgebucht, das ist echt ärgerlich.", 1.0},
    {"bot", "Das tut mir leid. Ich prüfe das für Sie.", 0.77},
    {"user", "Wenn das nicht geklärt wird, kündige ich meinen Vertrag.", 1.0},
    {"bot", "Da bin ich mir nicht sicher, einen Moment bitte.", 0.35},
    {"user", "Ich möchte bitte mit einem Mitarbeiter sprechen", 1.0},
    {"bot", "Ich verbinde Sie mit einem Kollegen.", 0.93},
}};

std::shared_ptr<const handover::triggers::RuleSet> rules() {
  static const auto loaded = [] {
    auto result = handover::triggers::load_rule_set(
        std::string(HANDOVER_SOURCE_DIR) + "/config/triggers.yaml", 0);
    if (!result.is_ok()) {
      std::cerr << result.status().to_string() << "\n";
      std::exit(1);
    }
    return result.value();
  }();
  return loaded;
}

TurnInput make_turn(const SampleTurn& sample) {
  TurnInput turn;
  turn.role = sample.role;
  turn.text = sample.text;
  if (sample.role == "bot") turn.bot_confidence = sample.confidence;
  return turn;
}

void BM_TypicalTurns(benchmark::State& bench) {
  const Engine engine(rules());
  ConversationInfo info;
  info.customer_tier = "gold";
  ConversationState state;
  std::size_t i = 0;
  std::int64_t now = 0;
  for (auto _ : bench) {
    if (i % kTurns.size() == 0) state = ConversationState{};
    const auto evaluation =
        engine.evaluate(info, state, make_turn(kTurns[i % kTurns.size()]), now += 1000);
    benchmark::DoNotOptimize(evaluation.decision.kind);
    ++i;
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
}
BENCHMARK(BM_TypicalTurns);

// The evaluations of the sample turns, taken in order as one conversation.
std::vector<handover::triggers::Evaluation> sample_evaluations() {
  const Engine engine(rules());
  ConversationInfo info;
  info.customer_tier = "gold";
  ConversationState state;
  std::vector<handover::triggers::Evaluation> evaluations;
  std::int64_t now = 0;
  for (const SampleTurn& sample : kTurns) {
    evaluations.push_back(engine.evaluate(info, state, make_turn(sample), now += 1000));
  }
  return evaluations;
}

// The JSON text of an evaluation, which every POST /turns writes for its answer and its row.
void BM_EvaluationText(benchmark::State& bench) {
  const std::vector<handover::triggers::Evaluation> evaluations = sample_evaluations();
  std::size_t i = 0;
  std::string fired;
  for (auto _ : bench) {
    std::string text = handover::triggers::evaluation_text(evaluations[i++ % evaluations.size()],
                                                           &fired);
    benchmark::DoNotOptimize(text.data());
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
}
BENCHMARK(BM_EvaluationText);

// Packing an evaluation's text for its row, which every POST /turns does once.
void BM_PackEvaluation(benchmark::State& bench) {
  std::vector<std::string> texts;
  for (const auto& evaluation : sample_evaluations()) {
    texts.push_back(handover::triggers::evaluation_text(evaluation, nullptr));
  }
  std::size_t i = 0;
  for (auto _ : bench) {
    std::string packed = handover::store::pack_evaluation(texts[i++ % texts.size()]);
    benchmark::DoNotOptimize(packed.data());
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
  double text_bytes = 0;
  double packed_bytes = 0;
  for (const std::string& text : texts) {
    text_bytes += static_cast<double>(text.size());
    packed_bytes += static_cast<double>(handover::store::pack_evaluation(text).size());
  }
  bench.counters["text_bytes"] = text_bytes / static_cast<double>(texts.size());
  bench.counters["packed_bytes"] = packed_bytes / static_cast<double>(texts.size());
}
BENCHMARK(BM_PackEvaluation);

void run_one_text(benchmark::State& bench, const std::string& text) {
  const Engine engine(rules());
  const ConversationInfo info;
  TurnInput turn;
  turn.role = "user";
  turn.text = text;
  for (auto _ : bench) {
    ConversationState state;
    benchmark::DoNotOptimize(engine.evaluate(info, state, turn, 0).decision.kind);
  }
  bench.SetBytesProcessed(static_cast<std::int64_t>(bench.iterations() * text.size()));
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
}

void BM_Text8KiB(benchmark::State& bench) {
  std::string text;
  while (text.size() < 8192)
    text += "Die Lieferung ist leider immer noch nicht da, I want a refund NOW!!! ";
  run_one_text(bench, text.substr(0, 8192));
}
BENCHMARK(BM_Text8KiB);

void BM_EmojiFlood8KiB(benchmark::State& bench) {
  std::string text;
  while (text.size() < 8192) text += "😡🤬👍🏽";
  run_one_text(bench, text);
}
BENCHMARK(BM_EmojiFlood8KiB);

void BM_Punctuation8KiB(benchmark::State& bench) { run_one_text(bench, std::string(8192, '!')); }
BENCHMARK(BM_Punctuation8KiB);

}  // namespace

BENCHMARK_MAIN();

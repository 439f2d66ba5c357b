// Turns per second of the trigger engine on the calling thread (pin it with taskset): every
// text of TEXTS is evaluated as a user turn with the shipped rules, rotating over 64
// conversation states, for SECONDS seconds.
//
// Usage: engine_rate RULES TEXTS SECONDS   -> one JSON line on stdout
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"

namespace {

namespace triggers = handover::triggers;
using SteadyClock = std::chrono::steady_clock;

std::vector<std::string> read_texts(const char* path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(line);
  }
  return texts;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: engine_rate RULES TEXTS SECONDS\n");
    return 2;
  }
  auto rules = triggers::load_rule_set(argv[1], 0);
  if (!rules) {
    std::fprintf(stderr, "engine_rate: %s\n", rules.status().message().c_str());
    return 1;
  }
  const std::vector<std::string> texts = read_texts(argv[2]);
  const double seconds = std::atof(argv[3]);
  if (texts.empty() || seconds <= 0) return 2;

  const triggers::Engine engine(rules.value());
  const triggers::ConversationInfo info;
  std::array<triggers::ConversationState, 64> states{};
  std::size_t turns = 0;
  std::size_t escalations = 0;
  std::int64_t now_ms = 1'700'000'000'000;
  const auto started = SteadyClock::now();
  const auto until = started + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(seconds));
  while (SteadyClock::now() < until) {
    // Check the clock once per pass over the texts, not per turn.
    for (const std::string& text : texts) {
      triggers::TurnInput turn;
      turn.role = "user";
      turn.text = text;
      triggers::ConversationState& state = states[turns % states.size()];
      if (state.turns_total >= 16) state = triggers::ConversationState{};
      const auto evaluation = engine.evaluate(info, state, turn, now_ms += 1000);
      if (evaluation.decision.kind == triggers::DecisionKind::kEscalate) ++escalations;
      ++turns;
    }
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::printf("{\"turns\":%zu,\"texts\":%zu,\"seconds\":%.3f,\"rate\":%.1f,\"escalations\":%zu}\n",
              turns, texts.size(), elapsed, static_cast<double>(turns) / elapsed, escalations);
  return 0;
}

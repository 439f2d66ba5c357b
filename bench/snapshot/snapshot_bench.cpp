// Time to build and serialise the context snapshot of one escalation, from turns whose
// evaluations come from the trigger engine with the shipped rules: in memory, and read from a
// SQLite store holding a 1,000-turn conversation.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "handover/snapshot/snapshot.hpp"
#include "handover/store/store.hpp"
#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"
#include "handover/util/clock.hpp"

namespace {

using handover::snapshot::SnapshotInput;
using handover::snapshot::SnapshotOptions;
using nlohmann::json;

struct Sample {
  std::string_view role;
  std::string_view text;
  double confidence;
};

// A support chat in English and German, with multi-byte text.
constexpr std::array<Sample, 8> kSamples = {{
    {"user", "Hi, my order 48213 never arrived and the tracking says “délivré” 📦", 1.0},
    {"bot", "I'm sorry to hear that. Let me look the order up.", 0.82},
    {"user", "Where is my parcel now? I need it by Friday.", 1.0},
    {"bot", "I'm not sure I can change the delivery date.", 0.41},
    {"user", "Mir wurde zweimal abgebucht, das ist wirklich ärgerlich!", 1.0},
    {"bot", "Das tut mir leid. Ich prüfe die Rechnung für Sie.", 0.77},
    {"user", "Wann bekomme ich mein Geld zurück?", 1.0},
    {"bot", "Da bin ich mir nicht sicher, einen Moment bitte.", 0.35},
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

// `count` turns as the server stores them, each with its evaluation and bot turns with an
// intent and an action.
std::vector<handover::store::TurnRecord> conversation(std::int64_t count) {
  const handover::triggers::Engine engine(rules());
  handover::triggers::ConversationState state;
  handover::triggers::ConversationInfo info;
  std::vector<handover::store::TurnRecord> turns;
  for (std::int64_t seq = 1; seq <= count; ++seq) {
    const Sample& sample = kSamples[static_cast<std::size_t>(seq - 1) % kSamples.size()];
    handover::store::TurnRecord turn;
    turn.conversation_id = "c_bench";
    turn.seq = seq;
    turn.role = sample.role;
    turn.text = sample.text;
    turn.created_at_ms = 1'767'225'600'000 + seq * 1000;
    handover::triggers::TurnInput in;
    in.role = turn.role;
    in.text = turn.text;
    if (turn.role == "bot") {
      in.bot_confidence = sample.confidence;
      in.bot_intent = "order_status";
      turn.bot_json = json{{"confidence", sample.confidence}, {"intent", "order_status"}}.dump();
      turn.actions_json =
          json::array({{{"name", "lookup_order"}, {"status", seq % 4 == 0 ? "failed" : "ok"}}})
              .dump();
    }
    turn.evaluation_json =
        handover::triggers::to_json(engine.evaluate(info, state, in, turn.created_at_ms)).dump();
    turns.push_back(std::move(turn));
  }
  return turns;
}

handover::store::ConversationRecord record(std::int64_t last_seq) {
  handover::store::ConversationRecord c;
  c.id = "c_bench";
  c.channel = "web";
  c.language = "en";
  c.customer_json = R"({"id":"cust-1","tier":"gold","lifetime_value":1800})";
  c.last_seq = last_seq;
  return c;
}

// Built from turns already in memory: the newest max_turns of `range(0)` turns.
void BM_BuildAndSerialise(benchmark::State& bench) {
  const std::int64_t count = bench.range(0);
  SnapshotOptions options;
  options.max_turns = static_cast<std::size_t>(bench.range(1));
  const auto turns = conversation(count);
  SnapshotInput input;
  input.conversation = record(count);
  const auto window_start = turns.size() > options.max_turns ? turns.size() - options.max_turns : 0;
  input.window.turns.assign(turns.begin() + static_cast<std::ptrdiff_t>(window_start), turns.end());
  if (window_start > 0) input.window.first_user_turn = turns.front();
  std::size_t bytes = 0;
  for (auto _ : bench) {
    const std::string text = handover::snapshot::build_snapshot(input, options).dump();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  bench.counters["snapshot_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_BuildAndSerialise)
    ->Args({20, 200})
    ->Args({1000, 200})
    ->Args({1000, 1000})
    ->Unit(benchmark::kMillisecond);

// What an escalation costs: read the window from SQLite (WAL, a real file), build, serialise.
void BM_ReadBuildAndSerialise(benchmark::State& bench) {
  const handover::SystemClock& clock = handover::SystemClock::instance();
  std::string dir = (std::filesystem::temp_directory_path() / "snapshot_bench_XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return bench.SkipWithError("mkdtemp failed");
  handover::store::StoreOptions store_options;
  store_options.path = dir + "/bench.db";
  auto store = handover::store::Store::open(store_options, clock).value();
  std::promise<void> created;
  store->create_conversation(record(0), [&](auto) { created.set_value(); });
  created.get_future().wait();
  const auto turns = conversation(bench.range(0));
  std::promise<void> written;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    handover::store::AppendTurnRequest request;
    request.turn = turns[i];
    const bool last = i + 1 == turns.size();
    store->append_turn(std::move(request), [&written, last](auto) {
      if (last) written.set_value();
    });
  }
  written.get_future().wait();
  const auto conversation_record = store->get_conversation("c_bench").value();
  const SnapshotOptions options;

  for (auto _ : bench) {
    SnapshotInput input;
    input.conversation = conversation_record;
    input.window =
        handover::snapshot::read_turn_window(*store, conversation_record, options).value();
    const std::string text = handover::snapshot::build_snapshot(input, options).dump();
    benchmark::DoNotOptimize(text.data());
  }
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ReadBuildAndSerialise)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

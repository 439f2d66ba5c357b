// The server's durable append rate: turns appended through Store::append_turn (the writer
// thread, group commit, WAL, synchronous=FULL) with enough requests in flight to fill every
// batch, writing the same rows as plain_sqlite.
//
// Usage: store_rate DB TEXTS TURNS CONVERSATIONS BATCH   -> one JSON line on stdout
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "turn_rows.hpp"

namespace {

using handover::Result;
using handover::SystemClock;
namespace store = handover::store;

// Counts finished writes and lets the submitter wait for room.
class InFlight {
 public:
  void started() {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }
  void finished(bool ok) {
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
      if (!ok) ++failures_;
    }
    changed_.notify_one();
  }
  void wait_below(std::size_t limit) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ < limit; });
  }
  std::size_t failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
  std::size_t failures_ = 0;
};

std::vector<std::string> create_conversations(store::Store& s, std::size_t count) {
  std::vector<std::string> ids;
  InFlight pending;
  for (std::size_t i = 0; i < count; ++i) {
    store::ConversationRecord record;
    record.id = "c_bench" + std::to_string(i);
    record.channel = "web";
    record.language = "en";
    record.token_hash = handover::bench::fingerprint(record.id, i);
    ids.push_back(record.id);
    pending.started();
    s.create_conversation(std::move(record), [&pending](Result<store::ConversationRecord> r) {
      pending.finished(r.is_ok());
    });
  }
  pending.wait_below(1);
  if (pending.failures() > 0) {
    std::fprintf(stderr, "store_rate: creating conversations failed\n");
    std::exit(1);
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  handover::bench::StoreRun args;
  if (!handover::bench::parse_store_run(argc, argv, "store_rate", args)) return 2;
  const std::vector<std::string>& texts = args.texts;
  const std::size_t turns = args.turns;
  const std::size_t conversations = args.conversations;
  const std::size_t batch = args.batch;

  store::StoreOptions options;
  options.path = args.db;
  options.synchronous = "full";
  options.max_batch = batch;
  auto opened = store::Store::open(options, SystemClock::instance());
  if (!opened) {
    std::fprintf(stderr, "store_rate: %s\n", opened.status().message().c_str());
    return 1;
  }
  std::unique_ptr<store::Store> s = std::move(opened).value();
  const std::vector<std::string> ids = create_conversations(*s, conversations);

  // Two batches in flight: one being committed, the next one filling up.
  InFlight pending;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < turns; ++i) {
    pending.wait_below(2 * batch);
    const handover::bench::TurnRow row = handover::bench::turn_row(texts, conversations, i);
    store::AppendTurnRequest request;
    request.turn.conversation_id = ids[row.conversation];
    request.turn.role = "user";
    request.turn.text = *row.text;
    request.turn.evaluation_json = handover::bench::kEvaluationJson;
    request.turn.content_hash = row.content_hash;
    pending.started();
    s->append_turn(std::move(request),
                   [&pending](Result<store::AppendTurnOutcome> r) { pending.finished(r.is_ok()); });
  }
  pending.wait_below(1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const store::StoreStats stats = s->stats();
  s->close();

  if (pending.failures() > 0) {
    std::fprintf(stderr, "store_rate: %zu appends failed\n", pending.failures());
    return 1;
  }
  std::printf("{\"turns\":%zu,\"batch\":%zu,\"seconds\":%.3f,\"rate\":%.1f,\"commits\":%llu}\n",
              turns, batch, seconds, static_cast<double>(turns) / seconds,
              static_cast<unsigned long long>(stats.commits));
  return 0;
}

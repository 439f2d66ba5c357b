// The retention job's runs and its background thread.
#include "handover/privacy/retention.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <utility>

#include "handover/metrics/registry.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/scheduling.hpp"
#include "handover/util/thread_name.hpp"

namespace handover::privacy {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;

// Submits one store write and waits for its answer.
template <class T, class Submit>
Result<T> wait_for(Submit&& submit) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  submit([promise](Result<T> result) { promise->set_value(std::move(result)); });
  return future.get();
}

std::string summary(const RetentionReport& report) {
  std::string out;
  for (const auto& [name, rows] : report.rows) out += name + "=" + std::to_string(rows) + " ";
  return out;
}

}  // namespace

RetentionJob::RetentionJob(store::Store& store, RetentionConfig config, const Clock& clock,
                           metrics::Registry& registry, RetentionCallback after_run)
    : store_(store),
      config_(config),
      clock_(clock),
      after_run_(std::move(after_run)),
      deleted_(registry.counter("handover_retention_deleted_total",
                                "Rows the retention job deleted or stripped", {"class"})),
      runs_(registry.counter("handover_retention_runs_total", "Retention job runs").with({})),
      failures_(
          registry
              .counter("handover_retention_failures_total", "Retention runs that met a store error")
              .with({})),
      pages_(registry
                 .counter("handover_retention_reclaimed_pages_total",
                          "Free database pages given back to the file system")
                 .with({})) {}

RetentionJob::~RetentionJob() { stop(); }

void RetentionJob::run_class(const char* name, store::RetentionClass data_class,
                             std::int64_t period_s, RetentionReport& report) {
  if (period_s <= 0) return;
  std::int64_t& rows = report.rows[name];
  store::RetentionBatch batch;
  batch.data_class = data_class;
  batch.cutoff_ms = clock_.now_ms() - period_s * kMsPerSecond;
  batch.limit = static_cast<std::size_t>(config_.batch_size);
  // Each batch is one write of its own: whatever intake queued meanwhile commits in between,
  // and a stop between two batches loses nothing already done.
  for (int i = 0; i < config_.max_batches; ++i) {
    if (stop_requested()) {
      report.stopped = true;
      return;
    }
    Result<store::RetentionOutcome> done =
        wait_for<store::RetentionOutcome>([&](store::Callback<store::RetentionOutcome> callback) {
          store_.run_retention(batch, std::move(callback));
        });
    ++report.batches;
    if (!done) {
      if (report.status.is_ok()) report.status = done.status();
      return;
    }
    rows += done->rows;
    deleted_.with({name}).inc(static_cast<std::uint64_t>(done->rows));
    for (auto& id : done->conversation_ids) report.deleted_conversations.push_back(std::move(id));
    if (done->rows < static_cast<std::int64_t>(batch.limit)) return;
  }
}

void RetentionJob::reclaim(RetentionReport& report) {
  Result<std::int64_t> reclaimed = wait_for<std::int64_t>([&](store::Callback<std::int64_t> cb) {
    store_.reclaim_space(config_.vacuum_pages, std::move(cb));
  });
  if (reclaimed) {
    report.pages_reclaimed = *reclaimed;
    pages_.inc(static_cast<std::uint64_t>(*reclaimed));
  } else if (report.status.is_ok()) {
    report.status = reclaimed.status();
  }
}

RetentionReport RetentionJob::run_once() {
  std::lock_guard run_lock(run_mutex_);
  const auto started = std::chrono::steady_clock::now();
  RetentionReport report;
  using store::RetentionClass;
  // Whole conversations first: their turns and events then need no batches of their own.
  run_class("conversations", RetentionClass::kConversations, config_.conversations_s, report);
  run_class("turns", RetentionClass::kTurns, config_.turns_s, report);
  // Copies of what users and agents wrote, kept in events, go when the turns do.
  run_class("event_texts", RetentionClass::kEventTexts, config_.turns_s, report);
  run_class("snapshots", RetentionClass::kSnapshots, config_.snapshots_s, report);
  run_class("feedback", RetentionClass::kFeedback, config_.feedback_s, report);
  run_class("events", RetentionClass::kEvents, config_.events_s, report);
  run_class("access_log", RetentionClass::kAccessLog, config_.access_log_s, report);

  if (stop_requested()) report.stopped = true;
  if (!report.stopped) reclaim(report);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  runs_.inc();
  if (!report.status.is_ok()) {
    failures_.inc();
    spdlog::warn("retention run incomplete: {}", report.status.message());
  }
  spdlog::info("retention run {}pages_reclaimed={} batches={} duration_ms={:.1f}{}",
               summary(report), report.pages_reclaimed, report.batches, report.seconds * 1000.0,
               report.stopped ? " stopped=true" : "");
  if (after_run_) after_run_(report);
  return report;
}

void RetentionJob::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run_thread(); });
}

void RetentionJob::stop() {
  std::vector<RetentionCallback> orphans;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    orphans.swap(asked_);
  }
  RetentionReport refused;
  refused.status = Status::unavailable("the retention job is stopping");
  for (auto& done : orphans) done(refused);
}

void RetentionJob::run_async(RetentionCallback done) {
  {
    std::lock_guard lock(mutex_);
    if (started_ && !stopping_) {
      asked_.push_back(std::move(done));
      wake_.notify_all();
      return;
    }
  }
  RetentionReport refused;
  refused.status = Status::unavailable("the retention job is not running");
  done(refused);
}

bool RetentionJob::stop_requested() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void RetentionJob::run_thread() {
  set_thread_name("retention");
  schedule_as_batch_work();
  const auto interval = std::chrono::seconds(config_.interval_s);
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (asked_.empty() && std::chrono::steady_clock::now() < next) {
      wake_.wait_until(lock, next, [this] { return stopping_ || !asked_.empty(); });
      continue;
    }
    std::vector<RetentionCallback> waiting;
    waiting.swap(asked_);
    lock.unlock();
    const RetentionReport report = run_once();
    for (auto& done : waiting) done(report);
    next = std::chrono::steady_clock::now() + interval;
    lock.lock();
  }
}

}  // namespace handover::privacy

// Counters, gauges and histograms with a Prometheus text exposition.
//
// Families are registered once at start-up; label values must be low-cardinality
// (a route or a status code, never a conversation or agent id). All updates are
// thread-safe and lock-free once a labelled child exists.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace handover::metrics {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Cumulative counts per bound, then the +Inf count.
  std::vector<std::uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, plus +Inf
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

template <class Metric>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         Factory factory)
      : name_(std::move(name)), help_(std::move(help)),
        label_names_(std::move(label_names)), factory_(std::move(factory)) {}

  // The child for these label values, created on first use. The reference stays valid
  // for the registry's lifetime, so hot paths may cache it.
  Metric& with(const Labels& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label values, metric) for each child, in label order.
  void for_each(const std::function<void(const Labels&, const Metric&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<Metric>> children_;
};

class Registry {
 public:
  // Registration: name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique (asserted).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  // A gauge computed when scraped (e.g. open connections, queue depth).
  void callback_gauge(const std::string& name, const std::string& help,
                      std::function<double()> read);
  // A counter kept elsewhere (monotonic), read when scraped.
  void callback_counter(const std::string& name, const std::string& help,
                        std::function<double()> read);

  // Prometheus text format 0.0.4.
  std::string render() const;

 private:
  struct CallbackGauge {
    std::string name, help;
    std::function<double()> read;
    const char* type;
  };
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<CallbackGauge> callbacks_;
};

// Default latency buckets in seconds, 100 us .. 10 s.
std::vector<double> latency_buckets();

}  // namespace handover::metrics

// Metric registry and Prometheus text exposition.
#include "handover/metrics/registry.hpp"

#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace handover::metrics {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Metric names are compile-time constants of ours: a bad one is a bug, also in release.
void require_valid_name(const std::string& name) {
  if (!valid_name(name)) {
    std::fprintf(stderr, "fatal: invalid metric name '%s'\n", name.c_str());
    std::abort();
  }
}

void atomic_add(std::atomic<double>& target, double v) {
  double old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

std::string format_double(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="x",b="y"} plus an optional extra pair (le for histogram buckets).
std::string label_set(const std::vector<std::string>& names, const Labels& values,
                      const std::string& extra_name = {}, const std::string& extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

void header(std::ostringstream& out, const std::string& name, const std::string& help,
            const char* type) {
  out << "# HELP " << name << ' ' << escape_help(help) << '\n';
  out << "# TYPE " << name << ' ' << type << '\n';
}

}  // namespace

void Gauge::add(double v) { atomic_add(value_, v); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

template <class Metric>
Metric& Family<Metric>::with(const Labels& values) {
  assert(values.size() == label_names_.size());
  std::lock_guard lock(mu_);
  auto& slot = children_[values];
  if (!slot) slot = factory_();
  return *slot;
}

template <class Metric>
void Family<Metric>::for_each(
    const std::function<void(const Labels&, const Metric&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, metric] : children_) fn(labels, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  require_valid_name(name);
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<Family<Counter>>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }));
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  require_valid_name(name);
  std::lock_guard lock(mu_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(
      name, help, std::move(label_names), [] { return std::make_unique<Gauge>(); }));
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds,
                                       std::vector<std::string> label_names) {
  require_valid_name(name);
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); }));
  return *histograms_.back();
}

void Registry::callback_gauge(const std::string& name, const std::string& help,
                              std::function<double()> read) {
  require_valid_name(name);
  std::lock_guard lock(mu_);
  callbacks_.push_back({name, help, std::move(read), "gauge"});
}

void Registry::callback_counter(const std::string& name, const std::string& help,
                                std::function<double()> read) {
  require_valid_name(name);
  std::lock_guard lock(mu_);
  callbacks_.push_back({name, help, std::move(read), "counter"});
}

std::string Registry::render() const {
  std::ostringstream out;
  std::lock_guard lock(mu_);
  for (const auto& family : counters_) {
    header(out, family->name(), family->help(), "counter");
    family->for_each([&](const Labels& labels, const Counter& c) {
      out << family->name() << label_set(family->label_names(), labels) << ' ' << c.value()
          << '\n';
    });
  }
  for (const auto& family : gauges_) {
    header(out, family->name(), family->help(), "gauge");
    family->for_each([&](const Labels& labels, const Gauge& g) {
      out << family->name() << label_set(family->label_names(), labels) << ' '
          << format_double(g.value()) << '\n';
    });
  }
  for (const auto& cb : callbacks_) {
    header(out, cb.name, cb.help, cb.type);
    out << cb.name << ' ' << format_double(cb.read()) << '\n';
  }
  for (const auto& family : histograms_) {
    header(out, family->name(), family->help(), "histogram");
    const auto& names = family->label_names();
    family->for_each([&](const Labels& labels, const Histogram& h) {
      const auto counts = h.cumulative_counts();
      for (std::size_t i = 0; i < counts.size(); ++i) {
        const std::string le = i < h.bounds().size() ? format_double(h.bounds()[i]) : "+Inf";
        out << family->name() << "_bucket" << label_set(names, labels, "le", le) << ' '
            << counts[i] << '\n';
      }
      out << family->name() << "_sum" << label_set(names, labels) << ' '
          << format_double(h.sum()) << '\n';
      out << family->name() << "_count" << label_set(names, labels) << ' ' << h.count()
          << '\n';
    });
  }
  return out.str();
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,     2.5,   5,    10};
}

}  // namespace handover::metrics

// Offline replay, comparison and sweep: reading the corpus, running the rules, reporting.
#include "offline.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "handover/replay/replayer.hpp"
#include "handover/replay/sweep.hpp"
#include "handover/triggers/rule_set.hpp"
#include "handover/util/clock.hpp"
#include "progress.hpp"

namespace handover::replay {
namespace {

using nlohmann::json;

constexpr std::size_t kErrorsShown = 20;
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string pad(std::string text, std::size_t width, bool right = false) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return right ? fill + text : text + fill;
}

Result<std::shared_ptr<const triggers::RuleSet>> load_rules(const std::string& path) {
  return triggers::load_rule_set(path, SystemClock::instance().now_ms());
}

// Wall and CPU time of a run, for the turns/s figure.
class Stopwatch {
 public:
  double wall_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
  }
  double cpu_s() const { return static_cast<double>(std::clock() - cpu_) / CLOCKS_PER_SEC; }

 private:
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
  std::clock_t cpu_ = std::clock();
};

std::uint64_t total_bytes(const std::vector<std::string>& files) {
  std::uint64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    if (f == "-") return 0;
    total += std::filesystem::file_size(f, ec);
  }
  return total;
}

void print_header(std::ostream& out, const Options& o, const CorpusFeed& feed,
                  const Summary& summary, const triggers::RuleSet& rules, const Stopwatch& clock) {
  std::string files;
  for (const auto& f : o.corpora) files += (files.empty() ? "" : ", ") + f;
  const double cpu = std::max(clock.cpu_s(), 1e-6);
  out << "Replayed " << summary.conversations() << " conversations (" << summary.turns()
      << " turns) from " << files << "; " << feed.bad_lines() << " bad lines skipped\n";
  out << "Rules " << o.rules << " (version " << rules.version().hash << "), "
      << fmt("%.2f", clock.wall_s()) << " s, "
      << fmt("%.0f", static_cast<double>(summary.turns()) / cpu) << " turns/s on one core\n";
  if (feed.labels_applied() > 0) {
    out << "Labels from " << o.labels << " applied to " << feed.labels_applied()
        << " conversations\n";
  }
  if (feed.bad_label_lines() > 0) {
    out << "Labels: " << feed.bad_label_lines() << " bad lines skipped\n";
  }
}

void print_rule_table(std::ostream& out, const char* title,
                      const std::map<std::string, std::size_t>& counts, std::size_t total) {
  if (counts.empty()) return;
  std::vector<std::pair<std::string, std::size_t>> rows(counts.begin(), counts.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  out << "\n" << title << "\n";
  for (const auto& [rule, n] : rows) {
    out << "  " << pad(rule, 26) << pad(std::to_string(n), 7, true) << "  "
        << pad(percent(total ? static_cast<double>(n) / static_cast<double>(total) : 0), 6, true)
        << "\n";
  }
}

void print_turn_histogram(std::ostream& out, const std::map<int, std::size_t>& by_turn) {
  if (by_turn.empty()) return;
  struct Bucket {
    int lo, hi;
    std::size_t n;
  };
  std::vector<Bucket> buckets = {{1, 2, 0}, {3, 4, 0}, {5, 8, 0}, {9, 16, 0}, {17, 1 << 30, 0}};
  for (const auto& [turn, n] : by_turn) {
    for (auto& b : buckets) {
      if (turn >= b.lo && turn <= b.hi) b.n += n;
    }
  }
  out << "\nTurn of the escalation\n ";
  for (const auto& b : buckets) {
    const std::string range = b.hi > 1000 ? std::to_string(b.lo) + "+"
                                          : std::to_string(b.lo) + "-" + std::to_string(b.hi);
    out << "  " << range << ": " << b.n;
  }
  out << "\n";
}

void print_labels(std::ostream& out, const Summary& s) {
  const Confusion& c = s.confusion();
  if (c.labelled() == 0) {
    out << "\nNo labels: precision and recall need labelled conversations (docs/replay.md)\n";
    return;
  }
  out << "\nAgainst the labels (" << c.labelled() << " labelled, " << c.tp + c.fn
      << " need a person" << (s.count_suggest() ? "; suggestions count as handovers" : "") << ")\n";
  out << "  precision " << fmt("%.3f", c.precision()) << "  recall " << fmt("%.3f", c.recall())
      << "  F1 " << fmt("%.3f", c.f1()) << "   (tp " << c.tp << ", fp " << c.fp << ", fn " << c.fn
      << ", tn " << c.tn << ")\n";
  const Timing& t = s.timing();
  if (t.deltas.empty()) return;
  out << "  timing of " << t.deltas.size() << " caught with a labelled turn: " << t.early
      << " early, " << t.on_time << " on the turn, " << t.late << " late; median "
      << fmt("%+.0f", t.median()) << " turns, mean " << fmt("%+.1f", t.mean()) << "\n";
}

std::string label_text(const std::optional<Label>& label) {
  if (!label) return "-";
  if (!label->needs_human) return "no";
  return label->turn > 0 ? "yes@" + std::to_string(label->turn) : "yes";
}

void print_escalated(std::ostream& out, const std::vector<Outcome>& escalated, std::size_t total,
                     std::size_t limit) {
  if (escalated.empty() || limit == 0) return;
  out << "\nEscalated conversations (" << std::min(limit, escalated.size()) << " of " << total
      << "; --list N for more, --json for all)\n";
  out << "  " << pad("conversation", 28) << pad("turn", 6, true) << "  " << pad("rule", 24)
      << "label\n";
  for (std::size_t i = 0; i < escalated.size() && i < limit; ++i) {
    const Outcome& o = escalated[i];
    out << "  " << pad(o.id, 28) << pad(std::to_string(o.escalated_turn), 6, true) << "  "
        << pad(o.escalated_rule, 24) << label_text(o.label) << "\n";
  }
}

void print_summary(std::ostream& out, const Summary& s) {
  out << "\nHandover rate " << percent(s.handover_rate()) << " (" << s.escalated() << " of "
      << s.conversations() << " escalated; " << s.suggested() << " got a suggestion of a person)\n";
  print_rule_table(out, "Escalations per rule", s.escalations_by_rule(), s.escalated());
  print_rule_table(out, "First suggestion per rule", s.suggestions_by_rule(), s.suggested());
  print_turn_histogram(out, s.escalations_by_turn());
  print_labels(out, s);
}

json outcome_json(const Outcome& o) {
  json out = {{"id", o.id},
              {"turns", o.turns},
              {"escalated_turn", o.escalated_turn},
              {"escalated_rule", o.escalated_rule},
              {"first_suggest_turn", o.first_suggest_turn},
              {"first_suggest_rule", o.first_suggest_rule},
              {"suggestions", o.suggestions}};
  if (o.label) out["label"] = {{"needs_human", o.label->needs_human}, {"turn", o.label->turn}};
  return out;
}

Status write_file(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  file.close();
  if (!file) return Status::internal(path + ": cannot write");
  return Status::ok();
}

int write_json(const Options& o, const json& document, std::ostream& err) {
  if (o.json.empty()) return kExitOk;
  if (Status s = write_file(o.json, document.dump(2) + "\n"); !s.is_ok()) {
    err << "handover-replay: " << s.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int replay_plain(const Options& o, CorpusFeed& feed, const triggers::RuleSet& rules_set,
                 std::shared_ptr<const triggers::RuleSet> rules, std::ostream& out,
                 std::ostream& err) {
  const Replayer replayer(std::move(rules));
  Summary summary(o.count_suggest);
  std::vector<Outcome> escalated;
  json outcomes = json::array();
  Progress progress(o.progress, total_bytes(o.corpora));
  const Stopwatch clock;
  const Status read = feed.read_all([&](ReplayConversation&& conversation) {
    Outcome outcome = replayer.run(conversation);
    summary.add(outcome);
    if (!o.json.empty()) outcomes.push_back(outcome_json(outcome));
    if (outcome.escalated_turn > 0) escalated.push_back(std::move(outcome));
    progress.update(feed.bytes_read(), summary.conversations());
  });
  progress.finish();
  if (!read.is_ok()) {
    err << "handover-replay: " << read.message() << "\n";
    return kExitFailure;
  }
  print_header(out, o, feed, summary, rules_set, clock);
  print_summary(out, summary);
  print_escalated(out, escalated, summary.escalated(), o.list);
  json document = {{"rules", {{"path", o.rules}, {"version", rules_set.version().hash}}},
                   {"bad_lines", feed.bad_lines()},
                   {"bad_label_lines", feed.bad_label_lines()},
                   {"summary", summary.to_json()},
                   {"outcomes", std::move(outcomes)}};
  return write_json(o, document, err);
}

void print_changes(std::ostream& out, const std::vector<Change>& changes, std::size_t limit) {
  std::map<std::string, std::size_t> kinds;
  for (const auto& c : changes) ++kinds[c.kind];
  out << "\nOutcome changed in " << changes.size() << " conversations:";
  for (const auto& [kind, n] : kinds) out << "  " << kind << " " << n;
  out << "\n";
  if (changes.empty() || limit == 0) return;
  out << "  " << pad("conversation", 28) << pad("before", 28) << pad("after", 28) << "label\n";
  const auto side = [](const Outcome& o) {
    return o.escalated_turn == 0 ? std::string("-")
                                 : o.escalated_rule + "@" + std::to_string(o.escalated_turn);
  };
  for (std::size_t i = 0; i < changes.size() && i < limit; ++i) {
    out << "  " << pad(changes[i].before.id, 28) << pad(side(changes[i].before), 28)
        << pad(side(changes[i].after), 28) << label_text(changes[i].before.label) << "\n";
  }
  if (changes.size() > limit) out << "  ... " << changes.size() - limit << " more (--list N)\n";
}

void print_side_by_side(std::ostream& out, const Summary& a, const Summary& b) {
  out << "\n" << pad("", 22) << pad("before", 12, true) << pad("after", 12, true) << "\n";
  out << pad("  handover rate", 22) << pad(percent(a.handover_rate()), 12, true)
      << pad(percent(b.handover_rate()), 12, true) << "\n";
  out << pad("  escalated", 22) << pad(std::to_string(a.escalated()), 12, true)
      << pad(std::to_string(b.escalated()), 12, true) << "\n";
  if (a.confusion().labelled() == 0) return;
  out << pad("  precision", 22) << pad(fmt("%.3f", a.confusion().precision()), 12, true)
      << pad(fmt("%.3f", b.confusion().precision()), 12, true) << "\n";
  out << pad("  recall", 22) << pad(fmt("%.3f", a.confusion().recall()), 12, true)
      << pad(fmt("%.3f", b.confusion().recall()), 12, true) << "\n";
  out << pad("  F1", 22) << pad(fmt("%.3f", a.confusion().f1()), 12, true)
      << pad(fmt("%.3f", b.confusion().f1()), 12, true) << "\n";
}

int replay_compare(const Options& o, CorpusFeed& feed, std::shared_ptr<const triggers::RuleSet> a,
                   std::ostream& out, std::ostream& err) {
  auto b = load_rules(o.compare);
  if (!b) {
    err << "handover-replay: " << b.status().message() << "\n";
    return kExitFailure;
  }
  const Replayer before(a);
  const Replayer after(*b);
  Summary sa(o.count_suggest), sb(o.count_suggest);
  std::vector<Change> changes;
  Progress progress(o.progress, total_bytes(o.corpora));
  const Stopwatch clock;
  const Status read = feed.read_all([&](ReplayConversation&& conversation) {
    const Outcome oa = before.run(conversation);
    const Outcome ob = after.run(conversation);
    sa.add(oa);
    sb.add(ob);
    if (auto change = compare_outcomes(oa, ob)) changes.push_back(std::move(*change));
    progress.update(feed.bytes_read(), sa.conversations());
  });
  progress.finish();
  if (!read.is_ok()) {
    err << "handover-replay: " << read.message() << "\n";
    return kExitFailure;
  }
  print_header(out, o, feed, sa, *a, clock);
  out << "Compared with " << o.compare << " (version " << (*b)->version().hash << ")\n";
  print_side_by_side(out, sa, sb);
  print_changes(out, changes, o.list);
  json listed = json::array();
  for (const auto& c : changes) {
    listed.push_back(
        {{"kind", c.kind}, {"before", outcome_json(c.before)}, {"after", outcome_json(c.after)}});
  }
  json document = {{"before", sa.to_json()}, {"after", sb.to_json()}, {"changes", listed}};
  return write_json(o, document, err);
}

void print_sweep(std::ostream& out, const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  const std::size_t width = std::max<std::size_t>(18, spec.field.size() + 2);
  out << "\nSweep of " << spec.name() << "\n  " << pad(spec.field, width)
      << pad("escalated", 10, true) << pad("rate", 8, true) << pad("precision", 11, true)
      << pad("recall", 8, true) << pad("F1", 7, true) << "\n";
  for (const auto& p : points) {
    const auto opt = [](const std::optional<double>& v) { return v ? fmt("%.3f", *v) : "-"; };
    out << "  " << pad(format_number(p.value), width) << pad(std::to_string(p.escalated), 10, true)
        << pad(percent(p.handover_rate), 8, true) << pad(opt(p.precision), 11, true)
        << pad(opt(p.recall), 8, true) << pad(opt(p.f1), 7, true) << "\n";
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

int replay_sweep(const Options& o, CorpusFeed& feed, const triggers::RuleSet& base,
                 std::ostream& out, std::ostream& err) {
  const SweepSpec& spec = *o.sweep;
  const std::string content = read_text(o.rules);
  std::vector<ReplayConversation> corpus;
  Progress progress(o.progress, total_bytes(o.corpora));
  const Stopwatch clock;
  const Status read = feed.read_all([&](ReplayConversation&& c) {
    corpus.push_back(std::move(c));
    progress.update(feed.bytes_read(), corpus.size());
  });
  progress.finish();
  if (!read.is_ok()) {
    err << "handover-replay: " << read.message() << "\n";
    return kExitFailure;
  }

  std::vector<SweepPoint> points;
  Summary first(o.count_suggest);
  for (double value : spec.values()) {
    auto text = apply_threshold(content, spec, value);
    auto rules = text ? triggers::load_rule_set_text(o.rules, *text, 0)
                      : Result<std::shared_ptr<const triggers::RuleSet>>(text.status());
    if (!rules) {
      err << "handover-replay: " << spec.name() << " = " << format_number(value) << ": "
          << rules.status().message() << "\n";
      return kExitFailure;
    }
    const Replayer replayer(*rules);
    Summary summary(o.count_suggest);
    for (const auto& conversation : corpus) summary.add(replayer.run(conversation));
    SweepPoint point{value, summary.escalated(), summary.handover_rate(), {}, {}, {}};
    if (summary.confusion().labelled() > 0) {
      point.precision = summary.confusion().precision();
      point.recall = summary.confusion().recall();
      point.f1 = summary.confusion().f1();
    }
    points.push_back(point);
    if (points.size() == 1) first = summary;
  }
  print_header(out, o, feed, first, base, clock);
  print_sweep(out, spec, points);
  if (!o.chart.empty()) {
    const std::string chart =
        o.chart.ends_with(".svg") ? sweep_svg(spec, points) : sweep_html(spec, points);
    if (Status s = write_file(o.chart, chart); !s.is_ok()) {
      err << "handover-replay: " << s.message() << "\n";
      return kExitFailure;
    }
    out << "\nChart written to " << o.chart << "\n";
  }
  json rows = json::array();
  for (const auto& p : points) {
    rows.push_back({{"value", p.value},
                    {"escalated", p.escalated},
                    {"handover_rate", p.handover_rate},
                    {"precision", p.precision ? json(*p.precision) : json()},
                    {"recall", p.recall ? json(*p.recall) : json()},
                    {"f1", p.f1 ? json(*p.f1) : json()}});
  }
  return write_json(o, {{"sweep", spec.name()}, {"points", rows}}, err);
}

}  // namespace

std::string percent(double share) { return fmt("%.1f%%", share * 100); }

Status CorpusFeed::load_labels() {
  if (options_.labels.empty()) return Status::ok();
  std::ifstream in(options_.labels, std::ios::binary);
  if (!in) return Status::not_found(options_.labels + ": cannot open the labels file");
  labels_ = read_labels(in, [&](const LineError& e) {
    report(options_.labels, e, bad_label_lines_);
  });
  return Status::ok();
}

void CorpusFeed::report(const std::string& file, const LineError& error, std::size_t& count) {
  ++count;
  if (++shown_ <= kErrorsShown) {
    err_ << file << ":" << error.line << ": " << error.message << "\n";
  } else if (shown_ == kErrorsShown + 1) {
    err_ << "(further bad lines are counted, not shown)\n";
  }
}

Status CorpusFeed::read_all(const std::function<void(ReplayConversation&&)>& each) {
  for (const std::string& file : options_.corpora) {
    std::ifstream opened;
    if (file != "-") {
      opened.open(file, std::ios::binary);
      if (!opened) return Status::not_found(file + ": cannot open the corpus");
    }
    std::istream& in = file == "-" ? std::cin : opened;
    read_corpus(
        in, options_.corpus,
        [&](ReplayConversation&& conversation) {
          if (auto it = labels_.find(conversation.id); it != labels_.end()) {
            conversation.label = it->second;
            ++labels_applied_;
          }
          each(std::move(conversation));
        },
        [&](const LineError& e) { report(file, e, bad_lines_); },
        [&, base = bytes_read_](std::uint64_t bytes) { bytes_read_ = base + bytes; });
  }
  return Status::ok();
}

int run_offline(const Options& o, std::ostream& out, std::ostream& err) {
  auto rules = load_rules(o.rules);
  if (!rules) {
    err << "handover-replay: " << rules.status().message() << "\n";
    return kExitFailure;
  }
  CorpusFeed feed(o, err);
  if (Status s = feed.load_labels(); !s.is_ok()) {
    err << "handover-replay: " << s.message() << "\n";
    return kExitFailure;
  }
  if (!o.compare.empty()) return replay_compare(o, feed, *rules, out, err);
  if (o.sweep) return replay_sweep(o, feed, **rules, out, err);
  return replay_plain(o, feed, **rules, *rules, out, err);
}

}  // namespace handover::replay

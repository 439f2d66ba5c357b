// Accuracy of the trigger signals over the public evaluation sets in ../shared/data.
// Usage: triggers_eval <data dir> [--dump <dir>] [--results <file>]
//   --dump writes the English rows for the peer tools (and our score of each row beside them);
//   --results writes every figure as `set<TAB>measure<TAB>value` for the side-by-side report.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/rule_set.hpp"

namespace {

namespace tr = handover::triggers;
using Row = std::vector<std::string>;

// Machine-readable figures for bench/triggers/peers/report.mjs; silent without a file.
class Results {
 public:
  void open(const std::string& path) {
    if (!path.empty()) out_.open(path, std::ios::trunc);
  }
  void add(const std::string& set, const std::string& measure, double value) {
    if (out_.is_open()) out_ << set << '\t' << measure << '\t' << value << '\n';
  }

 private:
  std::ofstream out_;
};

Results& results() {
  static Results instance;
  return instance;
}

// RFC 4180 CSV or plain TSV (no quoting), header included.
std::vector<Row> read_table(const std::string& path, char separator) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  std::vector<Row> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (separator == ',' && quoted) {
      if (c == '"' && i + 1 < data.size() && data[i + 1] == '"')
        field += data[++i];
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (separator == ',' && c == '"' && field.empty()) {
      quoted = true;
    } else if (c == separator) {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

int column(const Row& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

class Scorer {
 public:
  explicit Scorer(std::shared_ptr<const tr::RuleSet> rules) : engine_(std::move(rules)) {}

  tr::Signals user_turn(const std::string& text, std::string_view language) const {
    tr::ConversationInfo info;
    info.language = language;
    tr::ConversationState state;
    tr::TurnInput turn;
    turn.role = "user";
    turn.text = text;
    return engine_.evaluate(info, state, turn, 0).signals;
  }

 private:
  tr::Engine engine_;
};

int sentiment_class(double score) { return score >= 0.05 ? 2 : score <= -0.05 ? 0 : 1; }

int label_class(const std::string& label) {
  return label == "positive" ? 2 : label == "negative" ? 0 : 1;
}

struct ThreeClass {
  std::array<std::array<int, 3>, 3> confusion{};  // [gold][predicted]
  void add(int gold, int predicted) {
    ++confusion[static_cast<std::size_t>(gold)][static_cast<std::size_t>(predicted)];
  }
  void print(const std::string& name) const {
    int total = 0;
    int correct = 0;
    double f1_sum = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      int tp = confusion[k][k];
      int predicted = 0;
      int gold = 0;
      for (std::size_t j = 0; j < 3; ++j) {
        predicted += confusion[j][k];
        gold += confusion[k][j];
        total += confusion[k][j];
      }
      correct += tp;
      const double p = predicted ? static_cast<double>(tp) / predicted : 0;
      const double r = gold ? static_cast<double>(tp) / gold : 0;
      f1_sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    const double accuracy = total ? static_cast<double>(correct) / total : 0.0;
    std::printf("%-34s n=%5d  accuracy=%.3f  macro-F1=%.3f\n", name.c_str(), total, accuracy,
                f1_sum / 3);
    results().add(name, "n", total);
    results().add(name, "accuracy", accuracy);
    results().add(name, "macro_f1", f1_sum / 3);
    for (std::size_t k = 0; k < 3; ++k) {
      std::fprintf(stderr, "  %s gold %-8s -> neg %5d  neu %5d  pos %5d\n", name.c_str(),
                   k == 0   ? "negative"
                   : k == 1 ? "neutral"
                            : "positive",
                   confusion[k][0], confusion[k][1], confusion[k][2]);
    }
  }
};

struct Binary {
  int tp = 0, fp = 0, fn = 0, tn = 0;
  void add(bool gold, bool predicted) {
    (gold ? (predicted ? tp : fn) : (predicted ? fp : tn)) += 1;
  }
  void print(const std::string& name) const {
    const double p = tp + fp ? static_cast<double>(tp) / (tp + fp) : 0;
    const double r = tp + fn ? static_cast<double>(tp) / (tp + fn) : 0;
    const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    std::printf("%-34s n=%5d  precision=%.3f  recall=%.3f  F1=%.3f\n", name.c_str(),
                tp + fp + fn + tn, p, r, f1);
    results().add(name, "n", tp + fp + fn + tn);
    results().add(name, "precision", p);
    results().add(name, "recall", r);
    results().add(name, "f1", f1);
  }
};

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Writes "gold<TAB>text" lines so the peer tools score exactly the same rows.
class Dump {
 public:
  explicit Dump(std::string dir) : dir_(std::move(dir)) {}
  void open(std::string name) {
    std::replace(name.begin(), name.end(), ' ', '-');
    if (dir_.empty()) return;
    out_.open(dir_ + "/" + name + ".tsv", std::ios::trunc);
    scores_.open(dir_ + "/" + name + ".engine", std::ios::trunc);
  }
  // `score` is our compound score of the row, one per line in `<name>.engine`.
  void row(const std::string& gold, std::string text, double score) {
    if (!out_.is_open()) return;
    std::replace(text.begin(), text.end(), '\t', ' ');
    std::replace(text.begin(), text.end(), '\n', ' ');
    out_ << gold << '\t' << text << '\n';
    scores_ << score << '\n';
  }
  void close() {
    out_.close();
    scores_.close();
  }

 private:
  std::string dir_;
  std::ofstream out_;
  std::ofstream scores_;
};

void sentiment_set(const Scorer& scorer, Dump& dump, const std::string& name,
                   const std::string& path, char separator, const std::string& label_column,
                   const std::string& language) {
  const auto rows = read_table(path, separator);
  if (rows.empty()) return;
  const int label = column(rows[0], label_column);
  const int text = column(rows[0], "text");
  ThreeClass result;
  if (language == "en") dump.open(name);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (static_cast<int>(rows[i].size()) <= std::max(label, text)) continue;
    const std::string& gold = rows[i][static_cast<std::size_t>(label)];
    const std::string& body = rows[i][static_cast<std::size_t>(text)];
    const double score = scorer.user_turn(body, language).sentiment.score;
    result.add(label_class(gold), sentiment_class(score));
    dump.row(gold, body, score);
  }
  dump.close();
  result.print(name);
}

void vader_tweets(const Scorer& scorer, Dump& dump, const std::string& path) {
  const auto rows = read_table(path, '\t');
  ThreeClass result;
  std::vector<double> ours, human;
  dump.open("vader-tweets");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() < 3) continue;
    const double mean = std::stod(rows[i][1]);
    const double score = scorer.user_turn(rows[i][2], "en").sentiment.score;
    result.add(sentiment_class(mean / 4.0), sentiment_class(score));
    ours.push_back(score);
    human.push_back(mean);
    dump.row(rows[i][1], rows[i][2], score);
  }
  dump.close();
  result.print("sentiment en vader-groundtruth");
  const double r = pearson(ours, human);
  std::printf("%-34s n=%5zu  pearson_r=%.3f\n", "sentiment en vader-groundtruth", ours.size(), r);
  results().add("sentiment en vader-groundtruth", "pearson_r", r);
}

void bitext_requests(const Scorer& scorer, const std::string& path) {
  const auto rows = read_table(path, ',');
  const int text = column(rows[0], "instruction");
  const int intent = column(rows[0], "intent");
  Binary all;
  int complaint_fp = 0, complaint_n = 0, service_fp = 0, service_n = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (static_cast<int>(rows[i].size()) <= std::max(text, intent)) continue;
    const std::string& label = rows[i][static_cast<std::size_t>(intent)];
    const bool predicted =
        scorer.user_turn(rows[i][static_cast<std::size_t>(text)], "").request.human;
    all.add(label == "contact_human_agent", predicted);
    if (label == "complaint") complaint_n++, complaint_fp += predicted;
    if (label == "contact_customer_service") service_n++, service_fp += predicted;
  }
  all.print("request en bitext");
  results().add("request en bitext", "complaint_flagged", complaint_fp);
  results().add("request en bitext", "complaint_n", complaint_n);
  results().add("request en bitext", "service_flagged", service_fp);
  results().add("request en bitext", "service_n", service_n);
  std::printf("%-34s complaint %d/%d, contact_customer_service %d/%d flagged\n", "  hard negatives",
              complaint_fp, complaint_n, service_fp, service_n);
}

void german_requests(const Scorer& scorer, const std::string& path, const std::string& name) {
  const auto rows = read_table(path, '\t');
  Binary result;
  for (const Row& row : rows) {
    if (row.size() < 2 || row[0].empty() || row[0][0] == '#') continue;
    const bool predicted = scorer.user_turn(row[1], "").request.human;
    result.add(row[0] == "1", predicted);
    if ((row[0] == "1") != predicted)
      std::fprintf(stderr, "  %s miss: %s %s\n", name.c_str(), row[0].c_str(), row[1].c_str());
  }
  result.print(name);
}

void anger_set(const Scorer& scorer, const std::string& name, const std::string& path,
               const std::function<bool(const Row&)>& gold, int text_column,
               const std::string& language,
               const std::function<bool(const tr::Signals&)>& predicted) {
  const auto rows = read_table(path, '\t');
  Binary result;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (static_cast<int>(rows[i].size()) <= text_column) continue;
    const std::string& text = rows[i][static_cast<std::size_t>(text_column)];
    const bool flagged = predicted(scorer.user_turn(text, language));
    result.add(gold(rows[i]), flagged);
    // Every flagged row, for comparing two builds row by row.
    if (flagged) std::fprintf(stderr, "  %s flagged: %d %s\n", name.c_str(), gold(rows[i]) ? 1 : 0,
                              text.c_str());
  }
  result.print(name);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <data dir> [--dump <dir>] [--results <file>]\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  std::string dump_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--dump") dump_dir = argv[i + 1];
    if (option == "--results") results().open(argv[i + 1]);
  }
  if (!std::filesystem::is_directory(data + "/vader-groundtruth")) {
    std::fprintf(stderr, "%s: no evaluation data in %s (expected ../shared/data)\n", argv[0],
                 data.c_str());
    return 2;
  }
  Dump dump(dump_dir);
  auto rules = tr::load_rule_set(std::string(HANDOVER_SOURCE_DIR) + "/config/triggers.yaml", 0);
  if (!rules.is_ok()) {
    std::fprintf(stderr, "%s\n", rules.status().to_string().c_str());
    return 1;
  }
  const Scorer scorer(rules.value());

  sentiment_set(scorer, dump, "sentiment en airline-tweets",
                data + "/airline-tweets-nc/tweets_dev.csv", ',', "airline_sentiment", "en");
  vader_tweets(scorer, dump, data + "/vader-groundtruth/tweets_dev.tsv");
  sentiment_set(scorer, dump, "sentiment de sb10k", data + "/sb10k-de/sb10k_dev.tsv", '\t',
                "sentiment", "de");
  sentiment_set(scorer, dump, "sentiment de germeval2017", data + "/germeval2017-nc/dev_dev.tsv",
                '\t', "sentiment", "de");
  bitext_requests(scorer, data + "/bitext-customer-support/intents_dev.csv");
  german_requests(scorer, std::string(HANDOVER_SOURCE_DIR) + "/bench/triggers/requests_de.tsv",
                  "request de (own set, tuned on)");
  german_requests(scorer,
                  std::string(HANDOVER_SOURCE_DIR) + "/bench/triggers/requests_de_holdout.tsv",
                  "request de (own held-out set)");
  german_requests(scorer,
                  std::string(HANDOVER_SOURCE_DIR) + "/bench/triggers/requests_de_holdout2.tsv",
                  "request de (second held-out set)");

  const auto xed_anger = [](const Row& row) {
    return row.size() > 2 && row[2].find("anger") != std::string::npos;
  };
  const auto angry = [](const tr::Signals& s) { return s.anger.insult || s.anger.score >= 0.4; };
  anger_set(scorer, "anger en xed", data + "/xed-emotion/xed_en_dev.tsv", xed_anger, 1, "en",
            angry);
  anger_set(scorer, "anger de xed", data + "/xed-emotion/xed_de_dev.tsv", xed_anger, 1, "de",
            angry);
  const auto insult_label = [](const Row& row) { return row.size() > 1 && row[1] == "negative"; };
  const auto insult = [](const tr::Signals& s) { return s.anger.insult; };
  anger_set(scorer, "insult de robot-feedback", data + "/robot-feedback-de/robot_feedback_dev.tsv",
            insult_label, 2, "de", insult);
  return 0;
}

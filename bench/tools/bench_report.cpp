// bench_report: turns the raw result files of bench/run.sh into bench/results/latest.json and
// prints one table with every goal and whether it holds (PASS, MISS, or SKIP when the section
// did not run).
//
// Usage: bench_report RAW_DIR OUT_JSON MODE
//
// RAW_DIR holds one JSON file per measurement (names below) and, for a section that could not
// run, <section>.skipped with the reason. Several runs of one measurement are name_1.json,
// name_2.json, ...; the report takes the median of each figure over the runs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<json> read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  json value = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    std::cerr << "bench_report: " << path << " is not a JSON object\n";
    return std::nullopt;
  }
  return value;
}

// name_1.json, name_2.json, ... in run order.
std::vector<json> runs_of(const fs::path& dir, const std::string& name) {
  std::vector<json> runs;
  for (int i = 1;; ++i) {
    auto run = read_json(dir / (name + "_" + std::to_string(i) + ".json"));
    if (!run) break;
    runs.push_back(std::move(*run));
  }
  return runs;
}

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double number(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : NAN;
}

// One load run as the harness wrote it: the load tool's figures plus the CPU ticks the
// server process used during the run.
json load_figures(const json& run) {
  const json& load = run.contains("load") ? run["load"] : run;
  json out = {{"rps", number(load, "rps")},       {"requests", number(load, "requests")},
              {"errors", number(load, "errors")}, {"p50_ms", number(load, "p50_ms")},
              {"p99_ms", number(load, "p99_ms")}, {"p999_ms", number(load, "p999_ms")}};
  const double ticks = number(run, "cpu_ticks");
  const double hz = number(run, "clk_tck");
  const double done = number(load, "requests") - number(load, "errors");
  if (!std::isnan(ticks) && hz > 0 && done > 0) out["cpu_us_per_request"] = ticks / hz * 1e6 / done;
  // CPU time the host withheld from this machine during the run, summed over its CPUs.
  const double steal = number(run, "steal_ticks");
  if (!std::isnan(steal) && hz > 0) out["steal_ms"] = steal / hz * 1e3;
  return out;
}

// {"runs": [...], "median": {...}} with each figure's median over the runs.
json summarise(const std::vector<json>& runs) {
  json all = json::array();
  for (const json& run : runs) all.push_back(load_figures(run));
  json med = json::object();
  if (!all.empty()) {
    for (const auto& [key, unused] : all[0].items()) {
      std::vector<double> values;
      for (const json& run : all) {
        if (run.contains(key) && run[key].is_number()) values.push_back(run[key].get<double>());
      }
      med[key] = median(values);
    }
  }
  return {{"runs", all}, {"median", med}};
}

double at(const json& section, const char* who, const char* key) {
  if (!section.contains(who)) return NAN;
  return number(section[who]["median"], key);
}

double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

class Report {
 public:
  Report(fs::path dir, std::string mode) : dir_(std::move(dir)), mode_(std::move(mode)) {}

  json build() {
    json out = {{"schema", 1}, {"mode", mode_}, {"generated_at", now_utc()}};
    if (auto machine = read_json(dir_ / "machine.json")) out["machine"] = *machine;
    out["intake"] = intake();
    out["store"] = store();
    out["triggers"] = triggers();
    out["escalation"] = escalation();
    out["memory"] = memory();
    out["goals"] = goals_;
    return out;
  }

  void print_table() const {
    std::printf("\n%-56s %14s %14s  %s\n", "goal", "measured", "limit", "result");
    std::printf("%s\n", std::string(94, '-').c_str());
    int missed = 0;
    for (const json& goal : goals_) {
      const std::string result = goal["result"].get<std::string>();
      if (result == "MISS") ++missed;
      std::printf("%-56s %14s %14s  %s\n", goal["goal"].get<std::string>().c_str(),
                  goal["measured_text"].get<std::string>().c_str(),
                  goal["limit_text"].get<std::string>().c_str(), result.c_str());
    }
    std::printf("%s\n%zu goals: %d missed\n", std::string(94, '-').c_str(), goals_.size(), missed);
    for (const std::string& note : notes_) std::printf("%s\n", note.c_str());
  }

 private:
  static std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  std::optional<std::string> skipped(const std::string& section) const {
    std::ifstream in(dir_ / (section + ".skipped"));
    if (!in) return std::nullopt;
    std::string reason;
    std::getline(in, reason);
    return reason;
  }

  static std::string format(double value, const std::string& unit) {
    if (std::isnan(value)) return "-";
    char buf[48];
    if (std::fabs(value) >= 1000)
      std::snprintf(buf, sizeof buf, "%.0f%s", value, unit.c_str());
    else if (std::fabs(value) >= 10)
      std::snprintf(buf, sizeof buf, "%.1f%s", value, unit.c_str());
    else
      std::snprintf(buf, sizeof buf, "%.2f%s", value, unit.c_str());
    return buf;
  }

  // at_least: the goal holds when value >= limit, otherwise when value <= limit (or < limit
  // when `strict`). A NaN value (not measured) is a SKIP.
  void goal(const std::string& id, const std::string& text, double value, double limit,
            bool at_least, const std::string& unit, bool strict = false) {
    std::string result = "SKIP";
    if (!std::isnan(value)) {
      const bool holds = at_least ? value >= limit : (strict ? value < limit : value <= limit);
      result = holds ? "PASS" : "MISS";
    }
    const std::string sign = at_least ? ">= " : (strict ? "< " : "<= ");
    goals_.push_back({{"id", id},
                      {"goal", text},
                      {"measured", std::isnan(value) ? json(nullptr) : json(value)},
                      {"limit", limit},
                      {"comparison", at_least ? "at_least" : (strict ? "below" : "at_most")},
                      {"result", result},
                      {"measured_text", format(value, unit)},
                      {"limit_text", sign + format(limit, unit)}});
  }

  json pair(const std::string& name) {
    json section = json::object();
    for (const char* who : {"server", "nginx"}) {
      auto runs = runs_of(dir_, name + "_" + who);
      if (!runs.empty()) section[who] = summarise(runs);
    }
    return section;
  }

  json intake() {
    if (auto reason = skipped("intake")) {
      skip_intake_goals();
      return {{"skipped", *reason}};
    }
    json out = {
        {"c50", pair("intake_c50")}, {"c200", pair("intake_c200")}, {"paced", pair("paced")}};
    if (auto setup = read_json(dir_ / "intake_setup.json")) out["setup"] = *setup;
    if (auto disk = read_json(dir_ / "disk_sync.json")) {
      out["disk_sync"] = *disk;
      note_disk(*disk);
    }
    const json& c50 = out["c50"];
    const json& c200 = out["c200"];
    const json& paced = out["paced"];
    note_steal(paced);
    out["rps_ratio_c50"] = ratio(at(c50, "server", "rps"), at(c50, "nginx", "rps"));
    out["cpu_ratio_c50"] =
        ratio(at(c50, "server", "cpu_us_per_request"), at(c50, "nginx", "cpu_us_per_request"));
    out["c200_vs_c50"] = ratio(at(c200, "server", "rps"), at(c50, "server", "rps"));
    out["paced_p99_ratio"] = ratio(at(paced, "server", "p99_ms"), at(paced, "nginx", "p99_ms"));

    goal("intake.rps_vs_nginx", "POST /turns req/s vs nginx (50 conn)",
         100 * out["rps_ratio_c50"].get<double>(), 25, true, "%");
    goal("intake.cpu_vs_nginx", "server CPU per turn vs nginx per request",
         out["cpu_ratio_c50"].get<double>(), 5, false, "x");
    goal("intake.c200_vs_c50", "200 connections vs 50 connections throughput",
         100 * out["c200_vs_c50"].get<double>(), 90, true, "%");
    double errors = 0;
    bool any = false;
    for (const char* name : {"c50", "c200", "paced"}) {
      if (!out[name].contains("server")) continue;
      for (const json& run : out[name]["server"]["runs"]) {
        errors += run["errors"].is_number() ? run["errors"].get<double>() : 0;
        any = true;
      }
    }
    goal("intake.errors", "POST /turns errors (all runs)", any ? errors : NAN, 0, false, "");
    goal("paced.p99_vs_nginx", "paced p99 vs nginx p99", out["paced_p99_ratio"].get<double>(), 5,
         false, "x");
    goal("paced.p999", "paced p99.9", at(paced, "server", "p999_ms"), 5, false, " ms", true);
    return out;
  }

  // The disk's own fdatasync latency, printed under the table: the paced goals cannot hold on
  // a disk that is slower than they are.
  void note_disk(const json& disk) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "disk under the database, %.0f B appended and synced %.0f times a second: "
                  "p50 %.2f ms, p99 %.2f, p99.9 %.2f, max %.1f (%.0f syncs over 5 ms)",
                  number(disk, "bytes"), number(disk, "rate"), number(disk, "p50_ms"),
                  number(disk, "p99_ms"), number(disk, "p999_ms"), number(disk, "max_ms"),
                  number(disk, "over_5ms"));
    notes_.push_back(line);
    if (std::isnan(number(disk, "wake_max_ms"))) return;
    std::snprintf(line, sizeof line,
                  "the same probe woke late by p99.9 %.2f ms, max %.1f (%.0f of %.0f wake-ups over "
                  "2 ms late): time the host did not run this machine",
                  number(disk, "wake_p999_ms"), number(disk, "wake_max_ms"),
                  number(disk, "wake_over_2ms"), number(disk, "wakes"));
    notes_.push_back(line);
  }

  // The CPU time the host took from this machine during each paced run of the server, printed
  // under the table beside the disk: a virtual CPU that is not run delays answers like a slow
  // sync.
  void note_steal(const json& paced) {
    if (!paced.contains("server")) return;
    std::string runs;
    for (const json& run : paced["server"]["runs"]) {
      const double steal = number(run, "steal_ms");
      if (std::isnan(steal)) return;
      runs += (runs.empty() ? "" : ", ") + std::to_string(static_cast<long>(std::lround(steal)));
    }
    if (runs.empty()) return;
    notes_.push_back("CPU time the host took from this machine during the server's paced runs: " +
                     runs + " ms");
  }

  void skip_intake_goals() {
    goal("intake.rps_vs_nginx", "POST /turns req/s vs nginx (50 conn)", NAN, 25, true, "%");
    goal("intake.cpu_vs_nginx", "server CPU per turn vs nginx per request", NAN, 5, false, "x");
    goal("intake.c200_vs_c50", "200 connections vs 50 connections throughput", NAN, 90, true, "%");
    goal("intake.errors", "POST /turns errors (all runs)", NAN, 0, false, "");
    goal("paced.p99_vs_nginx", "paced p99 vs nginx p99", NAN, 5, false, "x");
    goal("paced.p999", "paced p99.9", NAN, 5, false, " ms", true);
  }

  json median_of(const std::string& name, const char* key, json& out) {
    std::vector<double> values;
    json runs = json::array();
    for (json& run : runs_of(dir_, name)) {
      values.push_back(number(run, key));
      runs.push_back(run);
    }
    out[name] = {{"runs", runs}, {key, median(values)}};
    return out[name];
  }

  json store() {
    json out = json::object();
    const auto reason = skipped("store");
    if (reason) out["skipped"] = *reason;
    const double server =
        reason ? NAN : median_of("store_server", "rate", out)["rate"].get<double>();
    const double plain = reason ? NAN : median_of("store_plain", "rate", out)["rate"].get<double>();
    out["ratio"] = ratio(server, plain);
    goal("store.vs_plain_sqlite", "store durable appends vs plain SQLite",
         100 * out["ratio"].get<double>(), 50, true, "%");
    return out;
  }

  json triggers() {
    json out = json::object();
    const auto reason = skipped("triggers");
    if (reason) out["skipped"] = *reason;
    const double engine = reason ? NAN : median_of("engine", "rate", out)["rate"].get<double>();
    const double vader = reason ? NAN : median_of("vader", "rate", out)["rate"].get<double>();
    out["ratio"] = ratio(engine, vader);
    goal("triggers.rate", "trigger engine turns/s on one core", engine, 250000, true, "/s");
    goal("triggers.vs_vader", "trigger engine vs vader-sentiment", out["ratio"].get<double>(), 15,
         true, "x");
    return out;
  }

  json escalation() {
    json out = json::object();
    const auto reason = skipped("escalation");
    if (reason) out["skipped"] = *reason;
    double p99 = NAN;
    if (!reason) {
      std::vector<double> p99s;
      json runs = json::array();
      for (json& run : runs_of(dir_, "escalation")) {
        double run_p99 = number(run, "p99_ms");
        // An offer that never came counts as the client's 5 s wait for it.
        if (number(run, "errors") > 0) run_p99 = std::max(run_p99, 5000.0);
        p99s.push_back(run_p99);
        runs.push_back(std::move(run));
      }
      p99 = median(p99s);
      out["latency"] = {{"runs", runs}, {"p99_ms", std::isnan(p99) ? json(nullptr) : json(p99)}};
      if (auto load = read_json(dir_ / "escalation_load.json")) out["background_load"] = *load;
    }
    goal("escalation.p99", "escalation POST to offer p99 (100 agents)", p99, 5, false, " ms", true);

    double server = NAN;
    double node = NAN;
    if (!reason) {
      server = median_of("fanout_server", "messages_per_s", out)["messages_per_s"].get<double>();
      node = median_of("fanout_node", "messages_per_s", out)["messages_per_s"].get<double>();
    }
    out["fanout_ratio"] = ratio(server, node);
    goal("fanout.vs_node_ws", "1 KB fan-out to 100 agents vs Node ws",
         out["fanout_ratio"].get<double>(), 1, true, "x");
    return out;
  }

  json memory() {
    json out = json::object();
    const auto reason = skipped("memory");
    if (reason) out["skipped"] = *reason;
    double per_conversation = NAN;
    double per_agent = NAN;
    if (!reason) {
      if (auto c = read_json(dir_ / "memory_conversations.json")) {
        per_conversation =
            (number(*c, "rss_after_kb") - number(*c, "rss_before_kb")) * 1024 / number(*c, "count");
        (*c)["bytes_per_conversation"] = per_conversation;
        out["conversations"] = *c;
      }
      if (auto a = read_json(dir_ / "memory_agents.json")) {
        per_agent =
            (number(*a, "rss_after_kb") - number(*a, "rss_before_kb")) * 1024 / number(*a, "count");
        (*a)["bytes_per_connection"] = per_agent;
        out["agents"] = *a;
      }
    }
    goal("memory.conversation", "RSS per open conversation", per_conversation / 1024, 2, false,
         " KiB");
    goal("memory.agent", "RSS per idle agent connection", per_agent / 1024, 8, false, " KiB");
    return out;
  }

  fs::path dir_;
  std::string mode_;
  json goals_ = json::array();
  std::vector<std::string> notes_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: bench_report RAW_DIR OUT_JSON MODE\n";
    return 2;
  }
  Report report(argv[1], argv[3]);
  const json out = report.build();
  std::ofstream file(argv[2]);
  // NaN (a figure that was not measured) is written as null.
  file << out.dump(2) << "\n";
  if (!file) {
    std::cerr << "bench_report: cannot write " << argv[2] << "\n";
    return 1;
  }
  report.print_table();
  return 0;
}

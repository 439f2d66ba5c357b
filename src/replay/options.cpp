// Command-line parsing of handover-replay.
#include "options.hpp"

#include <charconv>

namespace handover::replay {
namespace {

std::optional<long long> to_integer(const std::string& text, long long min, long long max) {
  long long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

class ArgReader {
 public:
  explicit ArgReader(const std::vector<std::string>& args) : args_(args) {}
  bool done() const { return i_ >= args_.size(); }
  const std::string& next() { return args_[i_++]; }
  std::optional<std::string> value(const std::string& option) {
    if (done()) {
      error_ = option + " needs a value";
      return std::nullopt;
    }
    return next();
  }
  std::string error_;

 private:
  const std::vector<std::string>& args_;
  std::size_t i_ = 0;
};

// Options that take a string value: where each one goes.
std::string* string_target(Options& o, const std::string& name) {
  if (name == "--rules") return &o.rules;
  if (name == "--compare") return &o.compare;
  if (name == "--chart") return &o.chart;
  if (name == "--labels") return &o.labels;
  if (name == "--label-act") return &o.corpus.label_act;
  if (name == "--tier-label") return &o.corpus.tier_label;
  if (name == "--language") return &o.corpus.language;
  if (name == "--json") return &o.json;
  if (name == "--export-db") return &o.export_db;
  if (name == "--export-feedback") return &o.export_feedback;
  if (name == "--out") return &o.out;
  if (name == "--server") return &o.server;
  if (name == "--api-key") return &o.api_key;
  if (name == "--admin-key") return &o.admin_key;
  if (name == "--agent-skills") return &o.agent_skills;
  if (name == "--resolve-feedback") return &o.resolve_feedback;
  return nullptr;
}

Status check(const Options& o) {
  const bool exporting = !o.export_db.empty() || !o.export_feedback.empty();
  if (!o.export_db.empty() && !o.export_feedback.empty()) {
    return Status::invalid_argument("--export-db and --export-feedback are separate runs");
  }
  if (!exporting && o.corpora.empty()) return Status::invalid_argument("no corpus file given");
  if (exporting && !o.corpora.empty()) {
    return Status::invalid_argument("an export reads the database only; drop the corpus files");
  }
  int modes = (o.compare.empty() ? 0 : 1) + (o.sweep ? 1 : 0) + (o.server.empty() ? 0 : 1);
  if (modes > 1) return Status::invalid_argument("use one of --compare, --sweep and --server");
  if (!o.chart.empty() && !o.sweep) return Status::invalid_argument("--chart needs --sweep");
  if (!o.chart.empty() && !o.chart.ends_with(".svg") && !o.chart.ends_with(".html")) {
    return Status::invalid_argument("--chart must name an .svg or .html file");
  }
  if (!o.server.empty() && (o.api_key.empty() || o.admin_key.empty())) {
    return Status::invalid_argument("--server needs --api-key (bot scope) and --admin-key");
  }
  if (o.resolve_feedback != "yes" && o.resolve_feedback != "no" &&
      o.resolve_feedback != "too_late") {
    return Status::invalid_argument("--resolve-feedback must be yes, no or too_late");
  }
  return Status::ok();
}

}  // namespace

Result<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  ArgReader reader(args);
  while (!reader.done()) {
    const std::string arg = reader.next();
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      return o;
    }
    if (arg == "--version") {
      o.version = true;
      return o;
    }
    if (arg == "--agent-as-bot") {
      o.corpus.agent_as_bot = true;
    } else if (arg == "--count-suggest") {
      o.count_suggest = true;
    } else if (arg == "--no-progress") {
      o.progress = false;
    } else if (std::string* target = string_target(o, arg)) {
      auto value = reader.value(arg);
      if (!value) return Status::invalid_argument(reader.error_);
      *target = *value;
    } else if (arg == "--sweep") {
      auto value = reader.value(arg);
      if (!value) return Status::invalid_argument(reader.error_);
      auto spec = parse_sweep_spec(*value);
      if (!spec) return spec.status();
      o.sweep = *spec;
    } else if (arg == "--list" || arg == "--max-line-bytes" || arg == "--agents" ||
               arg == "--concurrency") {
      auto value = reader.value(arg);
      if (!value) return Status::invalid_argument(reader.error_);
      const long long max = arg == "--max-line-bytes" ? (1LL << 30) : 100000;
      const long long min = arg == "--list" ? 0 : 1;
      auto number = to_integer(*value, min, max);
      if (!number) {
        return Status::invalid_argument(arg + " expects an integer from " + std::to_string(min) +
                                        " to " + std::to_string(max));
      }
      if (arg == "--list") o.list = static_cast<std::size_t>(*number);
      if (arg == "--max-line-bytes") o.corpus.max_line_bytes = static_cast<std::size_t>(*number);
      if (arg == "--agents") o.agents = static_cast<int>(*number);
      if (arg == "--concurrency") o.concurrency = static_cast<int>(*number);
    } else if (arg.starts_with("--")) {
      return Status::invalid_argument("unknown option " + arg + " (see --help)");
    } else {
      o.corpora.push_back(arg);
    }
  }
  if (Status s = check(o); !s.is_ok()) return s;
  return o;
}

std::filesystem::path default_rules_path(const std::filesystem::path& executable) {
  return executable.parent_path().parent_path() / "config" / "triggers.yaml";
}

Status resolve_rules(Options& o, const std::filesystem::path& executable) {
  const bool exporting = !o.export_db.empty() || !o.export_feedback.empty();
  if (exporting || !o.rules.empty()) return Status::ok();
  const std::filesystem::path path = default_rules_path(executable);
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return Status::not_found("no --rules given, and the default rules file " + path.string() +
                             " (config/triggers.yaml above the directory of handover-replay)"
                             " does not exist; name one with --rules FILE");
  }
  o.rules = path.string();
  return Status::ok();
}

const char* usage_text() {
  return R"(usage: handover-replay [options] CORPUS.jsonl...     replay conversations offline
       handover-replay --export-db DB [--out FILE]       database conversations as JSONL
       handover-replay --export-feedback DB [--out FILE] agent feedback as replay labels

Replay (CORPUS "-" reads standard input; format in docs/replay.md):
  --rules FILE            trigger rules (default: config/triggers.yaml in the directory
                          above handover-replay's own, e.g. build/../config/triggers.yaml,
                          whatever the working directory)
  --compare FILE          replay under FILE too and list conversations whose outcome changes
  --sweep RULE.FIELD=FROM:TO:STEP
                          step the number RULE compares FIELD with (settings.KEY=... steps a
                          setting) and print handover rate, precision and recall per value
  --chart FILE            write the sweep chart as .svg or .html
  --labels FILE           labels keyed by conversation id (from --export-feedback)
  --label-act ACT         a turn whose "acts" include ACT needs a person (SGD: NOTIFY_FAILURE)
  --agent-as-bot          score agent turns as bot turns (corpora of human agents)
  --tier-label KEY        the customer tier is labels.KEY (ABCD: member_level)
  --language CODE         language of conversations that name none (default: detect per turn)
  --count-suggest         count a suggestion as a handover too
  --list N                conversations listed (default 10; --json has all)
  --json FILE             write every result as JSON
  --max-line-bytes N      longer corpus lines are reported and skipped (default 4194304)
  --no-progress           no progress bar (it is shown only on a terminal anyway)

Through a running server (REST turns, simulated agents over WebSocket):
  --server URL            http://127.0.0.1:8080
  --api-key KEY           key with the bot scope
  --admin-key KEY         key with the admin scope (creates the simulated agents)
  --agents N              simulated agents accepting offers (default 2)
  --agent-skills A,B      skills of the agents besides those the rules ask for (queue skills)
  --concurrency N         conversations in flight at once (default 4)
  --resolve-feedback F    what the agents answer when resolving: yes, no, too_late

Exit status: 0 done (bad corpus lines are reported and skipped), 1 failure, 2 usage error.
)";
}

}  // namespace handover::replay

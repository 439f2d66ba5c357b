// Command-line options of handover-replay.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "handover/replay/corpus.hpp"
#include "handover/replay/sweep.hpp"
#include "handover/util/status.hpp"

namespace handover::replay {

struct Options {
  std::vector<std::string> corpora;  // JSONL files; "-" is standard input
  std::string rules;    // --rules; "" until resolve_rules() puts in the default
  std::string compare;  // a second rules file, or ""
  std::optional<SweepSpec> sweep;
  std::string chart;   // .svg or .html file for the sweep chart, or ""
  std::string labels;  // labels file keyed by conversation id, or ""
  CorpusOptions corpus;
  bool count_suggest = false;
  std::size_t list = 10;  // escalated or changed conversations listed
  std::string json;       // machine-readable results file, or ""
  bool progress = true;   // shown only when stderr is a terminal

  std::string export_db;        // write the database's conversations as JSONL
  std::string export_feedback;  // write agent feedback from the database as labels
  std::string out = "-";        // where exports go

  std::string server;                    // http://127.0.0.1:PORT: replay through a running server
  std::string api_key;                   // bot-scope key for the conversations
  std::string admin_key;                 // admin key that creates the simulated agents
  int agents = 2;                        // simulated agents accepting offers
  std::string agent_skills;              // comma-separated skills besides those the rules ask for
  int concurrency = 4;                   // conversations replayed at once
  std::string resolve_feedback = "yes";  // what the simulated agents answer when resolving

  bool help = false;
  bool version = false;
};

// Parses argv (without argv[0]). kInvalidArgument naming the bad option.
Result<Options> parse_options(const std::vector<std::string>& args);

// The rules file a run without --rules reads: config/triggers.yaml in the directory above the
// one holding `executable`, so build/handover-replay finds the tree's config/triggers.yaml
// whatever the working directory is.
std::filesystem::path default_rules_path(const std::filesystem::path& executable);

// For a run that reads rules (not an export) without --rules, sets o.rules to
// default_rules_path(executable); NotFound naming that path when it does not exist.
Status resolve_rules(Options& o, const std::filesystem::path& executable);

const char* usage_text();

}  // namespace handover::replay

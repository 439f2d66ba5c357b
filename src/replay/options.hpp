// Command-line options of handover-replay.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "handover/replay/corpus.hpp"
#include "handover/replay/sweep.hpp"
#include "handover/util/status.hpp"

namespace handover::replay {

struct Options {
  std::vector<std::string> corpora;  // JSONL files; "-" is standard input
  std::string rules = "config/triggers.yaml";
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

const char* usage_text();

}  // namespace handover::replay

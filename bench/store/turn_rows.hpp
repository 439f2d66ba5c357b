// The turns both store benchmarks write: the same conversation, text, evaluation and hash for
// row i, so the server's store and the plain SQLite program store identical bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace handover::bench {

// An evaluation as the trigger engine stores it for an ordinary turn (about 300 bytes).
inline constexpr const char* kEvaluationJson =
    R"({"version":"8c1f2a","decision":{"action":"none"},"signals":{"sentiment":-0.12,)"
    R"("sentiment_mean":-0.08,"anger":0.0,"request_human":0.0,"uncertainty":0.0,)"
    R"("insult":0.0,"repetition":0.0,"risk":0.0,"language":"en"},"fired":[],)"
    R"("state":{"turns_user":3,"turns_bot":2}})";

struct TurnRow {
  std::size_t conversation;  // index into the benchmark's conversations
  const std::string* text;
  std::string content_hash;  // 64 hex digits
};

// Texts, one per line; a short fixed list when `path` cannot be read.
inline std::vector<std::string> read_texts(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(line);
  }
  if (texts.empty()) texts = {"where is my order?", "I want to talk to a person", "danke!"};
  return texts;
}

// A 64-digit hex fingerprint of `text` and `i` (FNV-1a, spread over four words).
inline std::string fingerprint(const std::string& text, std::uint64_t i) {
  std::string out;
  std::uint64_t h = 1469598103934665603ULL ^ i;
  for (int word = 0; word < 4; ++word) {
    for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    out += buf;
    h ^= static_cast<std::uint64_t>(word + 1) * 0x9e3779b97f4a7c15ULL;
  }
  return out;
}

// What both programs are told: DB TEXTS TURNS CONVERSATIONS BATCH.
struct StoreRun {
  std::string db;
  std::vector<std::string> texts;
  std::size_t turns = 0;
  std::size_t conversations = 0;
  std::size_t batch = 0;
};

// The run `argv` asks for, or false after printing the usage of `program`.
inline bool parse_store_run(int argc, char** argv, const char* program, StoreRun& run) {
  if (argc == 6) {
    run.db = argv[1];
    run.texts = read_texts(argv[2]);
    run.turns = std::strtoull(argv[3], nullptr, 10);
    run.conversations = std::strtoull(argv[4], nullptr, 10);
    run.batch = std::strtoull(argv[5], nullptr, 10);
    if (run.turns > 0 && run.conversations > 0 && run.batch > 0) return true;
  }
  std::fprintf(stderr, "usage: %s DB TEXTS TURNS CONVERSATIONS BATCH (all counts > 0)\n", program);
  return false;
}

inline TurnRow turn_row(const std::vector<std::string>& texts, std::size_t conversations,
                        std::size_t i) {
  const std::string& text = texts[i % texts.size()];
  return TurnRow{i % conversations, &text, fingerprint(text, i)};
}

}  // namespace handover::bench

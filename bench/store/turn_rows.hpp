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

// An evaluation as the trigger engine stores it for an ordinary user turn with the shipped
// rules (about 1 KB): every signal group with its measures, no rule fired.
inline constexpr const char* kEvaluationJson =
    R"({"decision":{"action":"none"},"evidence":[],"fired":[],"rule_set":{"hash":"549355c2de133)"
    R"(4e8","loaded_at":"2026-12-04T09:00:00.000Z"},"signals":{"ambiguity":{"score":0.0,"short")"
    R"(:false,"unknown_share":0.25,"vague":false},"anger":{"count":0,"cue":false,"insult":false)"
    R"(,"score":0.0,"shouting":false},"complexity":{"no_progress":0,"questions":1,"repeated":fa)"
    R"(lse,"repeats":0,"score":0.04,"topics":0,"words":16},"language":"en","language_supported")"
    R"(:true,"request":{"count":0,"declined":false,"human":false,"offer_pending":false},"risk":)"
    R"({"churn":false,"count":0,"legal":false,"public_complaint":false},"role":"user","sentimen)"
    R"(t":{"drop":0.0,"mean":0.0,"min":0.0,"score":0.0,"scored":true,"start":0.0},"turns":{"bot)"
    R"(":0,"total":1,"user":1},"uncertainty":{"bot_handover":false,"bot_unreachable":false,"con)"
    R"(fidence":1.0,"fallback":false,"fallbacks":0,"hedge":false,"low_streak":0,"score":0.0},"v)"
    R"(alue":{"cancel":false,"lifetime":0.0,"order":0.0,"purchase":false,"score":0.0,"upgrade":)"
    R"(false}}})";

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

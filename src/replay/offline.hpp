// The offline modes of handover-replay: plain replay, --compare and --sweep.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "handover/replay/corpus.hpp"
#include "options.hpp"

namespace handover::replay {

// Reads every corpus file of the options in order, with labels from --labels applied, and
// reports bad lines on `err` as "file:line: problem" (the first 20, then a count).
class CorpusFeed {
 public:
  CorpusFeed(const Options& options, std::ostream& err) : options_(options), err_(err) {}

  // Loads --labels; kNotFound when the file cannot be opened.
  Status load_labels();
  // Calls `each` for every good conversation. kNotFound when a corpus cannot be opened.
  Status read_all(const std::function<void(ReplayConversation&&)>& each);

  std::size_t bad_lines() const { return bad_lines_; }  // of the corpora
  std::size_t bad_label_lines() const { return bad_label_lines_; }
  std::size_t labels_applied() const { return labels_applied_; }
  std::uint64_t bytes_read() const { return bytes_read_; }  // over every file so far

 private:
  // Shows the first bad lines of all files; `count` is the counter the line adds to.
  void report(const std::string& file, const LineError& error, std::size_t& count);

  const Options& options_;
  std::ostream& err_;
  std::unordered_map<std::string, Label> labels_;
  std::size_t bad_lines_ = 0;
  std::size_t bad_label_lines_ = 0;
  std::size_t shown_ = 0;
  std::size_t labels_applied_ = 0;
  std::uint64_t bytes_read_ = 0;
};

// Runs the offline mode the options ask for and prints the report on `out`. Returns the
// process exit status.
int run_offline(const Options& options, std::ostream& out, std::ostream& err);

// "12.3%".
std::string percent(double share);

}  // namespace handover::replay

// Threshold sweeps: one rule's threshold (or one setting) stepped over a range, and the
// trade-off between handover rate and recall that results, as a table and as a chart.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::replay {

// "angry-conversation.sentiment.mean=-0.8:-0.2:0.1" or "settings.low_confidence=0.3:0.7:0.1".
struct SweepSpec {
  static constexpr std::size_t kMaxValues = 200;

  std::string target;  // a rule id, or "settings"
  std::string field;   // the field compared in the rule's `when`, or the setting's key
  double from = 0, to = 0, step = 0;

  // from, from + step, ... up to `to` (included within rounding), at most kMaxValues.
  std::vector<double> values() const;
  std::string name() const { return target + "." + field; }
};

// kInvalidArgument with a message fit for the command line when `text` is malformed, the
// step is 0 or points away from `to`, or the range holds more than kMaxValues values.
Result<SweepSpec> parse_sweep_spec(std::string_view text);

// The rules file `content` with the threshold set to `value`: in the rule's `when` every
// comparison "<field> <op> <number>" gets `value` as its number (the `when` must be on one
// line), or the setting's value is replaced. Everything else, comments and a leading byte
// order mark included, stays.
// kInvalidArgument when the rule, the comparison or the setting is not there.
Result<std::string> apply_threshold(const std::string& content, const SweepSpec& spec,
                                    double value);

// One row of the sweep table. Precision, recall and F1 are set when the corpus has labels.
struct SweepPoint {
  double value = 0;
  std::size_t escalated = 0;
  double handover_rate = 0;
  std::optional<double> precision, recall, f1;
};

// A self-contained SVG line chart: handover rate and (when labelled) recall and precision
// against the swept value.
std::string sweep_svg(const SweepSpec& spec, const std::vector<SweepPoint>& points);
// An HTML page with the chart and the table.
std::string sweep_html(const SweepSpec& spec, const std::vector<SweepPoint>& points);

// The shortest decimal that reads back as `value` within 1e-9 ("0.3", "-0.25", "2").
std::string format_number(double value);

}  // namespace handover::replay

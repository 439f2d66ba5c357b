// Threshold sweeps: editing one threshold in the rules text, and the chart of the results.
#include "handover/replay/sweep.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace handover::replay {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

std::optional<double> to_double(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool field_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

std::size_t skip_spaces(std::string_view s, std::size_t i) {
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// Length of a comparison operator at s[i], 0 when there is none.
std::size_t operator_length(std::string_view s, std::size_t i) {
  if (i + 1 < s.size() && s[i + 1] == '=' &&
      (s[i] == '<' || s[i] == '>' || s[i] == '=' || s[i] == '!')) {
    return 2;
  }
  return i < s.size() && (s[i] == '<' || s[i] == '>') ? 1 : 0;
}

// Length of a number literal at s[i] (optional minus, digits, optional fraction), or 0.
std::size_t number_length(std::string_view s, std::size_t i) {
  std::size_t j = i;
  if (j < s.size() && s[j] == '-') j = skip_spaces(s, j + 1);
  const std::size_t digits_at = j;
  while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
  return j == digits_at ? 0 : j - i;
}

// Replaces the number of every "<field> <op> <number>" in `line`; returns how many.
int replace_comparisons(std::string& line, std::string_view field, const std::string& value) {
  int replaced = 0;
  for (std::size_t at = line.find(field); at != std::string::npos; at = line.find(field, at + 1)) {
    const std::size_t after = at + field.size();
    if ((at > 0 && field_char(line[at - 1])) || (after < line.size() && field_char(line[after]))) {
      continue;
    }
    const std::size_t op = skip_spaces(line, after);
    const std::size_t op_length = operator_length(line, op);
    if (op_length == 0) continue;
    const std::size_t number = skip_spaces(line, op + op_length);
    const std::size_t length = number_length(line, number);
    if (length == 0) continue;
    line.replace(number, length, value);
    ++replaced;
  }
  return replaced;
}

// The byte range of the line holding `pos` in `content`, from pos to the line's end.
std::pair<std::size_t, std::size_t> rest_of_line(const std::string& content, std::size_t pos) {
  const std::size_t end = std::min(content.find('\n', pos), content.size());
  return {pos, end};
}

Result<std::string> replace_in_rule(const std::string& content, const YAML::Node& root,
                                    const SweepSpec& spec, const std::string& value) {
  const YAML::Node rules = root["rules"];
  if (!rules || !rules.IsSequence()) return Status::invalid_argument("the rules file has no rules");
  for (const YAML::Node& rule : rules) {
    if (!rule.IsMap() || !rule["id"] || rule["id"].Scalar() != spec.target) continue;
    const YAML::Node when = rule["when"];
    if (!when || !when.IsScalar()) break;
    const auto [begin, end] = rest_of_line(content, static_cast<std::size_t>(when.Mark().pos));
    std::string line = content.substr(begin, end - begin);
    if (replace_comparisons(line, spec.field, value) == 0) {
      return Status::invalid_argument("rule '" + spec.target + "' compares no '" + spec.field +
                                      "' with a number on the line of its 'when'");
    }
    return content.substr(0, begin) + line + content.substr(end);
  }
  return Status::invalid_argument("no rule '" + spec.target + "' with a 'when' in the rules file");
}

Result<std::string> replace_setting(const std::string& content, const YAML::Node& root,
                                    const SweepSpec& spec, const std::string& value) {
  const YAML::Node settings = root["settings"];
  const YAML::Node node = settings && settings.IsMap() ? settings[spec.field] : YAML::Node();
  if (!node || !node.IsScalar() || !to_double(node.Scalar())) {
    return Status::invalid_argument("the rules file has no numeric setting '" + spec.field + "'");
  }
  const auto begin = static_cast<std::size_t>(node.Mark().pos);
  const std::size_t end = begin + node.Scalar().size();
  return content.substr(0, begin) + value + content.substr(end);
}

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Series {
  const char* name;
  const char* colour;
  std::vector<std::optional<double>> values;
};

std::string fixed(double value, int digits = 1) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

}  // namespace

std::vector<double> SweepSpec::values() const {
  std::vector<double> out;
  if (step == 0) return out;
  const double span = (to - from) / step;
  const auto count = static_cast<std::size_t>(std::floor(span + 1e-9)) + 1;
  for (std::size_t i = 0; i < count && i < kMaxValues; ++i) {
    out.push_back(from + static_cast<double>(i) * step);
  }
  return out;
}

Result<SweepSpec> parse_sweep_spec(std::string_view text) {
  const std::string_view usage = " (expected RULE.FIELD=FROM:TO:STEP or settings.KEY=FROM:TO:STEP)";
  const std::size_t equals = text.find('=');
  const std::string_view name = text.substr(0, std::min(equals, text.size()));
  const std::size_t dot = name.find('.');
  if (equals == std::string_view::npos || dot == std::string_view::npos || dot == 0 ||
      dot + 1 == name.size()) {
    return Status::invalid_argument("bad sweep '" + std::string(text) + "'" + std::string(usage));
  }
  SweepSpec spec;
  spec.target = std::string(name.substr(0, dot));
  spec.field = std::string(name.substr(dot + 1));
  const std::string_view range = text.substr(equals + 1);
  const std::size_t c1 = range.find(':');
  const std::size_t c2 = c1 == std::string_view::npos ? c1 : range.find(':', c1 + 1);
  const auto from = c1 == std::string_view::npos ? std::nullopt : to_double(range.substr(0, c1));
  const auto to =
      c2 == std::string_view::npos ? std::nullopt : to_double(range.substr(c1 + 1, c2 - c1 - 1));
  const auto step = c2 == std::string_view::npos ? std::nullopt : to_double(range.substr(c2 + 1));
  if (!from || !to || !step) {
    return Status::invalid_argument("bad sweep range '" + std::string(range) + "'" +
                                    std::string(usage));
  }
  spec.from = *from;
  spec.to = *to;
  spec.step = *step;
  if (spec.step == 0 || (spec.to - spec.from) / spec.step < -1e-9) {
    return Status::invalid_argument("the sweep step must be non-zero and lead from " +
                                    format_number(spec.from) + " to " + format_number(spec.to));
  }
  if ((spec.to - spec.from) / spec.step + 1 > static_cast<double>(SweepSpec::kMaxValues) + 1e-9) {
    return Status::invalid_argument("the sweep has more than " +
                                    std::to_string(SweepSpec::kMaxValues) + " values");
  }
  return spec;
}

Result<std::string> apply_threshold(const std::string& content, const SweepSpec& spec,
                                    double value) {
  // yaml-cpp skips a byte order mark but counts it in its marks, so the edit would land three
  // bytes early. The rule loader ignores one; the edit works behind it and keeps it.
  if (content.starts_with(kByteOrderMark)) {
    auto edited = apply_threshold(content.substr(kByteOrderMark.size()), spec, value);
    if (!edited) return edited;
    return std::string(kByteOrderMark) + *edited;
  }
  YAML::Node root;
  try {
    root = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument("the rules file is not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) return Status::invalid_argument("the rules file is not a map");
  const std::string number = format_number(value);
  if (spec.target == "settings") return replace_setting(content, root, spec, number);
  return replace_in_rule(content, root, spec, number);
}

std::string format_number(double value) {
  if (std::fabs(value) < 1e-12) return "0";
  char buffer[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    if (std::fabs(std::strtod(buffer, nullptr) - value) <= 1e-9 * std::max(1.0, std::fabs(value)))
      break;
  }
  return buffer;
}

std::string sweep_svg(const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  constexpr double kWidth = 640, kHeight = 360, kLeft = 60, kRight = 150, kTop = 30, kBottom = 50;
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kHeight - kTop - kBottom;
  double lo = points.empty() ? 0 : points.front().value;
  double hi = points.empty() ? 1 : points.back().value;
  if (lo > hi) std::swap(lo, hi);
  if (hi == lo) hi = lo + 1;
  const auto x = [&](double v) { return kLeft + (v - lo) / (hi - lo) * plot_w; };
  const auto y = [&](double share) { return kTop + (1 - share) * plot_h; };

  std::vector<Series> series = {
      {"handover rate", "#d95f02", {}}, {"recall", "#1b9e77", {}}, {"precision", "#7570b3", {}}};
  for (const SweepPoint& p : points) {
    series[0].values.push_back(p.handover_rate);
    series[1].values.push_back(p.recall);
    series[2].values.push_back(p.precision);
  }

  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"360\" "
      "viewBox=\"0 0 640 360\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"640\" height=\"360\" fill=\"white\"/>\n";
  svg += "<text x=\"" + fixed(kLeft) + "\" y=\"18\" font-size=\"14\">Sweep of " +
         escape_xml(spec.name()) + "</text>\n";
  for (int tick = 0; tick <= 4; ++tick) {
    const double share = tick / 4.0;
    svg += "<line x1=\"" + fixed(kLeft) + "\" x2=\"" + fixed(kLeft + plot_w) + "\" y1=\"" +
           fixed(y(share)) + "\" y2=\"" + fixed(y(share)) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + fixed(kLeft - 8) + "\" y=\"" + fixed(y(share) + 4) +
           "\" text-anchor=\"end\">" + std::to_string(tick * 25) + "%</text>\n";
  }
  for (const SweepPoint& p : points) {
    svg += "<text x=\"" + fixed(x(p.value)) + "\" y=\"" + fixed(kTop + plot_h + 18) +
           "\" text-anchor=\"middle\">" + escape_xml(format_number(p.value)) + "</text>\n";
  }
  svg += "<text x=\"" + fixed(kLeft + plot_w / 2) + "\" y=\"" + fixed(kHeight - 10) +
         "\" text-anchor=\"middle\">" + escape_xml(spec.field) + "</text>\n";
  int legend = 0;
  for (const Series& s : series) {
    std::string path;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (!s.values[i]) continue;
      path +=
          (path.empty() ? "M" : " L") + fixed(x(points[i].value)) + "," + fixed(y(*s.values[i]));
    }
    if (path.empty()) continue;
    svg +=
        "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\"/>\n";
    const double ly = kTop + 10 + legend++ * 20;
    svg += "<rect x=\"" + fixed(kWidth - kRight + 15) + "\" y=\"" + fixed(ly - 9) +
           "\" width=\"12\" height=\"12\" fill=\"" + s.colour + "\"/>\n";
    svg += "<text x=\"" + fixed(kWidth - kRight + 32) + "\" y=\"" + fixed(ly + 1) + "\">" + s.name +
           "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::string sweep_html(const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  std::string html = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Sweep of " +
                     escape_xml(spec.name()) +
                     "</title></head>\n<body style=\"font-family:sans-serif\">\n";
  html += sweep_svg(spec, points);
  html +=
      "<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\n"
      "<tr><th>" +
      escape_xml(spec.field) +
      "</th><th>escalated</th><th>handover rate</th><th>precision</th><th>recall</th>"
      "<th>F1</th></tr>\n";
  const auto share = [](const std::optional<double>& v) {
    return v ? fixed(*v * 100) + "%" : std::string("-");
  };
  for (const SweepPoint& p : points) {
    html += "<tr><td>" + format_number(p.value) + "</td><td>" + std::to_string(p.escalated) +
            "</td><td>" + share(p.handover_rate) + "</td><td>" + share(p.precision) + "</td><td>" +
            share(p.recall) + "</td><td>" + (p.f1 ? fixed(*p.f1, 3) : "-") + "</td></tr>\n";
  }
  html += "</table>\n</body></html>\n";
  return html;
}

}  // namespace handover::replay

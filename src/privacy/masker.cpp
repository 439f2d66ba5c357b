// The masker: runs the detectors in priority order (earlier masks, e-mail, IBAN, card, phone,
// then custom patterns), keeps the first of overlapping findings and rewrites each finding as
// the destination's policy says.
#include "handover/privacy/masker.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <utility>

#include "detectors.hpp"
#include "handover/logging/log.hpp"

namespace handover::privacy {
namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
constexpr const char* kRedacted = "[redacted]";
constexpr std::size_t kHintChars = 4;

bool overlaps(const std::vector<Finding>& taken, std::size_t begin, std::size_t end) {
  return std::any_of(taken.begin(), taken.end(),
                     [&](const Finding& f) { return begin < f.end && f.begin < end; });
}

void add_spans(std::vector<Finding>& out, const std::vector<detect::Span>& spans,
               std::string_view kind, const std::vector<Finding>& blocked = {}) {
  for (const detect::Span& span : spans) {
    if (overlaps(out, span.begin, span.end) || overlaps(blocked, span.begin, span.end)) continue;
    out.push_back({std::string(kind), span.begin, span.end});
  }
}

// Custom patterns run on windows of at most this many bytes (lines, cut further at spaces),
// which bounds the recursion of the standard library's backtracking regex engine.
constexpr std::size_t kPatternWindow = 1024;

// The windows of `text`: [begin, end) ranges split at newlines and, inside long lines, at
// the last space before kPatternWindow bytes (or hard at kPatternWindow).
std::vector<std::pair<std::size_t, std::size_t>> pattern_windows(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = std::min(text.find('\n', begin), text.size());
    if (end - begin > kPatternWindow) {
      const std::size_t space = text.rfind(' ', begin + kPatternWindow);
      end = space != std::string_view::npos && space > begin ? space : begin + kPatternWindow;
    }
    out.emplace_back(begin, end);
    begin = end + 1;
  }
  return out;
}

// The last kHintChars letters and digits of `raw`.
std::string tail_hint(std::string_view raw) {
  std::string hint;
  for (auto it = raw.rbegin(); it != raw.rend() && hint.size() < kHintChars; ++it) {
    const char c = *it;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      hint.insert(hint.begin(), c);
    }
  }
  return hint;
}

std::string partial(std::string_view kind, std::string_view raw) {
  std::string hint;
  if (kind == kKindEmail) {
    hint = std::string(raw.substr(raw.rfind('@')));
  } else {
    hint = tail_hint(raw);
  }
  return "[" + std::string(kind) + ":" + std::string(kEllipsis) + hint + "]";
}

// How one finding reads at the destination. A mask written earlier ("[card:…4242]") keeps its
// hint unless the action is kMask: text can only lose detail on its way.
std::string render(const Finding& finding, std::string_view raw, Action action) {
  const bool earlier_mask = raw.starts_with("[" + finding.kind) && raw.ends_with("]");
  switch (action) {
    case Action::kKeep:
      return std::string(raw);
    case Action::kMask:
      return "[" + finding.kind + "]";
    case Action::kPartial:
      return earlier_mask ? std::string(raw) : partial(finding.kind, raw);
  }
  return "[" + finding.kind + "]";
}

const Policy& log_policy() {
  static const Policy kEverythingMasked;
  return kEverythingMasked;
}

}  // namespace

struct Masker::Impl {
  struct Compiled {
    std::string name;
    std::regex regex;
  };
  std::vector<Compiled> patterns;
  std::vector<std::string> kinds;  // built-in and custom, for recognising earlier masks
  Policy store;
  Policy agent;
  Policy webhook;

  const Policy& policy(Destination destination) const {
    switch (destination) {
      case Destination::kStore:
        return store;
      case Destination::kAgent:
        return agent;
      case Destination::kWebhook:
        return webhook;
      case Destination::kLog:
        return log_policy();
    }
    return log_policy();
  }

  // False when a custom pattern could not be run on `text`.
  bool find(std::string_view text, std::vector<Finding>& out) const {
    std::vector<std::string> token_kinds;
    const auto earlier = detect::tokens(text, kinds, token_kinds);
    for (std::size_t i = 0; i < earlier.size(); ++i) {
      out.push_back({token_kinds[i], earlier[i].begin, earlier[i].end});
    }
    add_spans(out, detect::emails(text), kKindEmail);
    add_spans(out, detect::ibans(text), kKindIban);
    std::vector<Finding> account_like;
    add_spans(account_like, detect::iban_shaped(text), kKindIban);
    add_spans(out, detect::cards(text), kKindCard, account_like);
    add_spans(out, detect::phones(text), kKindPhone, account_like);
    for (const Compiled& pattern : patterns) {
      if (!find_pattern(text, pattern, out)) return false;
    }
    std::sort(out.begin(), out.end(),
              [](const Finding& a, const Finding& b) { return a.begin < b.begin; });
    return true;
  }

  static bool find_pattern(std::string_view text, const Compiled& pattern,
                           std::vector<Finding>& out) {
    try {
      using Iterator = std::regex_iterator<std::string_view::const_iterator>;
      for (const auto& [from, to] : pattern_windows(text)) {
        const auto first = text.begin() + static_cast<std::ptrdiff_t>(from);
        const auto last = text.begin() + static_cast<std::ptrdiff_t>(to);
        for (Iterator it(first, last, pattern.regex), end; it != end; ++it) {
          const std::size_t begin = from + static_cast<std::size_t>(it->position(0));
          const std::size_t stop = begin + static_cast<std::size_t>(it->length(0));
          if (stop > begin && !overlaps(out, begin, stop)) {
            out.push_back({pattern.name, begin, stop});
          }
        }
      }
    } catch (const std::regex_error&) {
      // The engine gave up (stack or complexity limits) on this text.
      return false;
    }
    return true;
  }
};

Masker::Masker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Masker::~Masker() = default;

Result<std::shared_ptr<const Masker>> Masker::create(const PrivacyConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->kinds = {std::string(kKindEmail), std::string(kKindPhone), std::string(kKindIban),
                 std::string(kKindCard)};
  for (const CustomPattern& pattern : config.patterns) {
    try {
      impl->patterns.push_back({pattern.name, std::regex(pattern.regex, std::regex::ECMAScript)});
    } catch (const std::regex_error& e) {
      return Status::invalid_argument("privacy pattern '" + pattern.name +
                                      "' does not compile: " + e.what());
    }
    impl->kinds.push_back(pattern.name);
  }
  impl->store = config.store;
  impl->agent = config.agent;
  impl->webhook = config.webhook;
  return std::shared_ptr<const Masker>(new Masker(std::move(impl)));
}

std::shared_ptr<const Masker> Masker::built_in() {
  static const std::shared_ptr<const Masker> kBuiltIn = *create(PrivacyConfig());
  return kBuiltIn;
}

std::vector<Finding> Masker::find(std::string_view text) const {
  std::vector<Finding> out;
  impl_->find(text, out);
  return out;
}

Masked Masker::mask(std::string_view text, Destination destination) const {
  Masked result;
  if (!impl_->find(text, result.findings)) {
    result.text = kRedacted;
    result.changed = true;
    return result;
  }
  const Policy& policy = impl_->policy(destination);
  std::size_t pos = 0;
  for (const Finding& finding : result.findings) {
    result.text.append(text.substr(pos, finding.begin - pos));
    const std::string_view raw = text.substr(finding.begin, finding.end - finding.begin);
    result.text += render(finding, raw, policy.action_for(finding.kind));
    pos = finding.end;
  }
  result.text.append(text.substr(pos));
  result.changed = result.text != text;
  return result;
}

bool Masker::mask_json(nlohmann::json& value, Destination destination) const {
  bool changed = false;
  if (value.is_string()) {
    Masked masked = mask(value.get_ref<const std::string&>(), destination);
    if (masked.changed) value = std::move(masked.text);
    return masked.changed;
  }
  if (value.is_array()) {
    for (auto& item : value) changed = mask_json(item, destination) || changed;
  }
  if (value.is_object()) {
    bool names_change = false;
    for (auto& [key, item] : value.items()) {
      changed = mask_json(item, destination) || changed;
      names_change = names_change || mask(key, destination).changed;
    }
    if (!names_change) return changed;
    // Member names carry personal data too ({"a@b.de": ...}). A masked name that meets
    // another member's name keeps both values, the later under a numbered name.
    nlohmann::json out = nlohmann::json::object();
    for (auto& [key, item] : value.items()) {
      const std::string name = mask(key, destination).text;
      std::string unique = name;
      for (int n = 2; out.contains(unique); ++n) unique = name + " (" + std::to_string(n) + ")";
      out[unique] = std::move(item);
    }
    value = std::move(out);
    return true;
  }
  return changed;
}

std::string log_safe(std::string_view text, std::size_t max_bytes) {
  return logging::sanitize(Masker::built_in()->mask(text, Destination::kLog).text, max_bytes);
}

}  // namespace handover::privacy

// PII detection and masking: e-mail addresses, phone numbers, IBANs (mod-97 checked), payment
// card numbers (Luhn checked) and the patterns operators add, masked per destination so that
// the kind of each value survives ("[email]", "[iban:…1234]").
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "handover/privacy/privacy_config.hpp"
#include "handover/util/status.hpp"

namespace handover::privacy {

// One value found in a text: its kind and its byte range [begin, end) in that text.
struct Finding {
  std::string kind;
  std::size_t begin = 0;
  std::size_t end = 0;

  bool operator==(const Finding&) const = default;
};

struct Masked {
  std::string text;               // the text as the destination may see it
  std::vector<Finding> findings;  // in the input, ordered by position, not overlapping
  bool changed = false;           // text differs from the input
};

// Immutable once created; every method may be called from any thread at once.
class Masker {
 public:
  // Compiles the custom patterns of `config` (which load_privacy_config has checked) and
  // keeps a copy of its policies. InvalidArgument for a pattern that does not compile.
  static Result<std::shared_ptr<const Masker>> create(const PrivacyConfig& config);
  // A masker with the built-in detectors and the default policies (no custom patterns).
  static std::shared_ptr<const Masker> built_in();

  ~Masker();
  Masker(const Masker&) = delete;
  Masker& operator=(const Masker&) = delete;

  // Every finding in `text`, by position. Masks written earlier ("[card:…4242]") are
  // findings of their kind too, so masking stored text again can only hide more.
  std::vector<Finding> find(std::string_view text) const;

  // `text` with each finding replaced as the destination's policy says. Should a custom
  // pattern fail on this text (regex engine limits), the whole text becomes "[redacted]":
  // masking fails closed.
  Masked mask(std::string_view text, Destination destination) const;

  // Masks every string inside `value` (member values and array items, recursively; member
  // names stay). Returns true when something changed.
  bool mask_json(nlohmann::json& value, Destination destination) const;

 private:
  struct Impl;
  explicit Masker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `text` made fit for a log line: every built-in kind masked, then logging::sanitize'd (control
// characters escaped, cut at `max_bytes`). Use it for anything a client or agent wrote.
std::string log_safe(std::string_view text, std::size_t max_bytes = 256);

}  // namespace handover::privacy

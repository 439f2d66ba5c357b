// Hand-written scanners for the built-in kinds: linear in the text, no regex engine, and a
// checksum wherever the format has one, so order numbers and dates stay readable.
#include "detectors.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace handover::privacy::detect {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

char at(std::string_view text, std::size_t i) { return i < text.size() ? text[i] : '\0'; }

// ---- E-mail ---------------------------------------------------------------------------------

// Bytes of UTF-8 sequences count as letters: "jürgen@bäckerei.de" is an address (RFC 6531),
// and a partial match would leave "jü" in front of the mask.
bool is_utf8_byte(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool is_local_char(char c) {
  return is_alnum(c) || is_utf8_byte(c) || std::strchr("._%+-_", c) != nullptr;
}
bool is_domain_char(char c) { return is_alnum(c) || is_utf8_byte(c) || c == '-' || c == '.'; }

// The length of the UTF-8 punctuation character at the start of `text` (general punctuation
// such as quotes, dashes and "…", or Latin-1 signs such as "«" and the no-break space), or 0:
// it borders an address rather than belonging to it.
std::size_t punctuation_at(std::string_view text) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xE2 &&
      static_cast<unsigned char>(text[1]) == 0x80) {
    return 3;
  }
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0xC2 &&
      static_cast<unsigned char>(text[1]) >= 0xA0 && static_cast<unsigned char>(text[1]) <= 0xBF) {
    return 2;
  }
  return 0;
}

// The length of such a punctuation character ending at `end`, or 0.
std::size_t punctuation_before(std::string_view text, std::size_t end) {
  if (end >= 3 && punctuation_at(text.substr(end - 3, 3)) == 3) return 3;
  if (end >= 2 && punctuation_at(text.substr(end - 2, 2)) == 2) return 2;
  return 0;
}

bool valid_domain(std::string_view domain) {
  if (domain.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  std::string_view last;
  while (start <= domain.size()) {
    std::size_t dot = std::min(domain.find('.', start), domain.size());
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    last = label;
    start = dot + 1;
  }
  // The top-level domain is letters: ASCII ("de") or of another script ("δοκιμή", "广告").
  const bool ascii = std::all_of(last.begin(), last.end(), is_alpha);
  const bool international = std::all_of(last.begin(), last.end(), is_utf8_byte);
  return last.size() >= 2 && (ascii || international);
}

// ---- IBAN -----------------------------------------------------------------------------------

struct CountryLength {
  char code[3];
  int length;
};

// SEPA countries and their neighbours; an IBAN of another country is accepted at any length
// from 15 to 34 when its check digits hold.
constexpr CountryLength kIbanLengths[] = {
    {"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22}, {"GR", 27}, {"HR", 21},
    {"HU", 28}, {"IE", 22}, {"IS", 26}, {"IT", 27}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
    {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"RO", 24}, {"SE", 24},
    {"SI", 19}, {"SK", 24}, {"SM", 27}, {"TR", 26},
};
constexpr std::size_t kIbanMin = 15;
constexpr std::size_t kIbanMax = 34;

int iban_length(char a, char b) {
  for (const CountryLength& country : kIbanLengths) {
    if (country.code[0] == a && country.code[1] == b) return country.length;
  }
  return 0;
}

// The alphanumeric characters of a possible IBAN from `start`: compact, or in groups separated
// by single spaces. `ends[k]` is the byte after character k; `boundary[k]` says whether a
// match may end there (the next byte is no letter or digit).
struct IbanRun {
  std::string chars;
  std::vector<std::size_t> ends;
  std::vector<bool> boundary;
};

IbanRun collect_iban(std::string_view text, std::size_t start) {
  IbanRun run;
  std::size_t i = start;
  while (i < text.size() && run.chars.size() < kIbanMax) {
    if (is_alnum(text[i])) {
      run.chars.push_back(upper(text[i]));
      run.ends.push_back(i + 1);
      run.boundary.push_back(!is_alnum(at(text, i + 1)));
      ++i;
    } else if (text[i] == ' ' && is_alnum(at(text, i + 1)) && !run.chars.empty()) {
      ++i;
    } else {
      break;
    }
  }
  return run;
}

bool iban_shape_ok(std::string_view compact) {
  return compact.size() >= kIbanMin && is_alpha(compact[0]) && is_alpha(compact[1]) &&
         is_digit(compact[2]) && is_digit(compact[3]);
}

// ---- Card numbers ---------------------------------------------------------------------------

constexpr std::size_t kCardMin = 13;
constexpr std::size_t kCardMax = 19;

bool card_may_start(std::string_view text, std::size_t i) {
  if (!is_digit(text[i])) return false;
  if (i == 0) return true;
  const char before = text[i - 1];
  return !is_alnum(before) && before != '+' && before != '_';
}

// ---- Phone numbers --------------------------------------------------------------------------

constexpr std::size_t kIntlMin = 9;
constexpr std::size_t kIntlMax = 15;
constexpr std::size_t kNationalMin = 7;
constexpr std::size_t kNationalMax = 13;

bool phone_may_start(std::string_view text, std::size_t i) {
  if (i == 0) return true;
  const char before = text[i - 1];
  return !is_alnum(before) && std::strchr("+-/.,_@#", before) == nullptr;
}

struct PhoneStart {
  bool international = false;
  std::size_t digits_from = 0;  // where counted digits begin (after "+" or "00")
};

bool phone_start(std::string_view text, std::size_t i, PhoneStart& out) {
  const char c0 = text[i];
  const char c1 = at(text, i + 1);
  const char c2 = at(text, i + 2);
  const auto nonzero = [](char c) { return c >= '1' && c <= '9'; };
  if (c0 == '+' && nonzero(c1)) {
    out = {true, i + 1};
  } else if (c0 == '0' && c1 == '0' && nonzero(c2)) {
    out = {true, i + 2};
  } else if (c0 == '0' && nonzero(c1)) {
    out = {false, i};
  } else if (c0 == '(' && c1 == '0' && nonzero(c2)) {
    out = {false, i};
  } else {
    return false;
  }
  return true;
}

// Walks a phone number from `start`: digits, one space, '-' or '/' between groups, at most one
// '/', and parenthesised groups such as "(0)" or "(030)". Returns the end of the last digit
// and the digit count (a "(0)" trunk prefix after an international code does not count), or
// end 0 when the shape is wrong.
struct PhoneWalk {
  std::size_t end = 0;
  std::size_t digits = 0;
  std::size_t first_group = 0;  // digits before the first separator
};

PhoneWalk walk_phone(std::string_view text, const PhoneStart& start, std::size_t begin) {
  PhoneWalk walk;
  std::size_t i = start.digits_from;
  bool open = false;
  bool first_group_done = false;
  int slashes = 0;
  std::size_t paren_digits = 0;
  if (text[begin] == '(') {
    open = true;
    i = begin + 1;
  }
  while (i < text.size() && walk.digits <= kIntlMax) {
    const char c = text[i];
    if (is_digit(c)) {
      ++walk.digits;
      if (open) ++paren_digits;
      if (!first_group_done) ++walk.first_group;
      walk.end = ++i;
      continue;
    }
    if (c == '(' && !open && (is_digit(at(text, i + 1)))) {
      open = true;
      paren_digits = 0;
      first_group_done = walk.digits > 0;
      ++i;
      continue;
    }
    if (c == ')' && open) {
      open = false;
      // "+49 (0)30": the trunk zero is not dialled from abroad.
      if (start.international && paren_digits == 1 && text[i - 1] == '0') --walk.digits;
      first_group_done = true;
      ++i;
      if (at(text, i) == ' ') ++i;
      continue;
    }
    const bool separator = c == ' ' || c == '-' || c == '/';
    const char next = at(text, i + 1);
    if (separator && !open && (is_digit(next) || next == '(')) {
      if (c == '/' && ++slashes > 1) break;
      first_group_done = true;
      ++i;
      continue;
    }
    break;
  }
  if (walk.digits > kIntlMax) walk.end = 0;
  return walk;
}

// A German mobile number written without any separator: 015x, 016x or 017x and 10 to 12
// digits in all ("01711234567"). Compact landline numbers stay readable: without the
// separator after the area code they cannot be told from order numbers.
bool compact_mobile(std::string_view text, const PhoneStart& start, const PhoneWalk& walk) {
  if (start.international || walk.first_group != walk.digits) return false;
  if (walk.digits < 10 || walk.digits > 12) return false;
  const std::string_view number = text.substr(start.digits_from, 3);
  return number == "015" || number == "016" || number == "017";
}

bool phone_counts_ok(const PhoneStart& start, const PhoneWalk& walk) {
  if (start.international) return walk.digits >= kIntlMin && walk.digits <= kIntlMax;
  // A German area code is 2 to 5 digits after the 0: that tells "030 1234567" from dates
  // such as 01-02-2024.
  return walk.digits >= kNationalMin && walk.digits <= kNationalMax && walk.first_group >= 3 &&
         walk.first_group <= 6;
}

}  // namespace

bool iban_checksum_ok(std::string_view compact) {
  if (!iban_shape_ok(compact)) return false;
  int remainder = 0;
  for (std::size_t k = 0; k < compact.size(); ++k) {
    const char c = compact[(k + 4) % compact.size()];
    if (is_digit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return remainder == 1;
}

bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return !digits.empty() && sum % 10 == 0;
}

std::vector<Span> emails(std::string_view text) {
  std::vector<Span> out;
  std::size_t from = 0;
  for (std::size_t at_sign; (at_sign = text.find('@', from)) != std::string_view::npos;) {
    from = at_sign + 1;
    std::size_t begin = at_sign;
    while (begin > 0 && is_local_char(text[begin - 1])) {
      if (const std::size_t p = punctuation_before(text, begin); p > 0) break;
      --begin;
    }
    // A UTF-8 sequence is only taken whole: skip continuation bytes the walk stopped inside.
    while (begin < at_sign && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) ++begin;
    while (begin < at_sign && text[begin] == '.') ++begin;
    std::size_t end = at_sign + 1;
    while (end < text.size() && is_domain_char(text[end]) &&
           punctuation_at(text.substr(end)) == 0) {
      ++end;
    }
    while (end > at_sign + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
    if (begin == at_sign || !valid_domain(text.substr(at_sign + 1, end - at_sign - 1))) continue;
    if (!out.empty() && begin < out.back().end) continue;
    out.push_back({begin, end});
    from = end;
  }
  return out;
}

std::vector<Span> ibans(std::string_view text) {
  std::vector<Span> out;
  for (std::size_t i = 0; i + 4 <= text.size(); ++i) {
    const bool starts = is_alpha(text[i]) && is_alpha(text[i + 1]) && is_digit(text[i + 2]) &&
                        is_digit(text[i + 3]) && (i == 0 || !is_alnum(text[i - 1]));
    if (!starts) continue;
    const IbanRun run = collect_iban(text, i);
    const int known = iban_length(upper(text[i]), upper(text[i + 1]));
    const std::size_t longest = known ? static_cast<std::size_t>(known) : run.chars.size();
    const std::size_t shortest = known ? longest : kIbanMin;
    for (std::size_t length = std::min(longest, run.chars.size()); length >= shortest; --length) {
      if (length < kIbanMin) break;
      if (!run.boundary[length - 1]) continue;
      if (!iban_checksum_ok(std::string_view(run.chars).substr(0, length))) continue;
      out.push_back({i, run.ends[length - 1]});
      i = run.ends[length - 1] - 1;
      break;
    }
  }
  return out;
}

std::vector<Span> iban_shaped(std::string_view text) {
  std::vector<Span> out;
  for (std::size_t i = 0; i + 4 <= text.size(); ++i) {
    const bool starts = is_alpha(text[i]) && is_alpha(text[i + 1]) && is_digit(text[i + 2]) &&
                        is_digit(text[i + 3]) && (i == 0 || !is_alnum(text[i - 1]));
    if (!starts) continue;
    const IbanRun run = collect_iban(text, i);
    if (run.chars.size() < kIbanMin) continue;
    out.push_back({i, run.ends.back()});
    i = run.ends.back() - 1;
  }
  return out;
}

std::vector<Span> cards(std::string_view text) {
  std::vector<Span> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!card_may_start(text, i)) continue;
    std::string digits;
    std::size_t j = i;
    std::size_t end = i;
    while (j < text.size() && digits.size() <= kCardMax) {
      if (is_digit(text[j])) {
        digits.push_back(text[j]);
        end = ++j;
      } else if ((text[j] == ' ' || text[j] == '-') && is_digit(at(text, j + 1))) {
        ++j;
      } else {
        break;
      }
    }
    const bool fits = digits.size() >= kCardMin && digits.size() <= kCardMax &&
                      !is_alpha(at(text, end)) && digits[0] >= '2' && digits[0] <= '6';
    if (fits && luhn_ok(digits)) out.push_back({i, end});
    i = end > i ? end - 1 : i;  // never restart inside a digit run
  }
  return out;
}

std::vector<Span> phones(std::string_view text) {
  std::vector<Span> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    PhoneStart start;
    if (!phone_may_start(text, i) || !phone_start(text, i, start)) continue;
    const PhoneWalk walk = walk_phone(text, start, i);
    if (walk.end == 0 || is_alnum(at(text, walk.end))) continue;
    if (!phone_counts_ok(start, walk) && !compact_mobile(text, start, walk)) continue;
    out.push_back({i, walk.end});
    i = walk.end - 1;
  }
  return out;
}

std::vector<Span> tokens(std::string_view text, const std::vector<std::string>& kinds,
                         std::vector<std::string>& kind_out) {
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  constexpr std::size_t kMaxToken = 320;
  std::vector<Span> out;
  for (std::size_t open = text.find('['); open != std::string_view::npos;
       open = text.find('[', open + 1)) {
    std::size_t i = open + 1;
    while (i < text.size() && (is_alnum(text[i]) || text[i] == '_')) ++i;
    const std::string_view kind = text.substr(open + 1, i - open - 1);
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
    std::size_t close = i;
    if (text.substr(i).starts_with(":" + std::string(kEllipsis))) {
      close = text.find(']', i);
      const std::size_t newline = text.find('\n', i);
      if (close == std::string_view::npos || close - open > kMaxToken || newline < close) continue;
    } else if (at(text, i) != ']') {
      continue;
    }
    out.push_back({open, close + 1});
    kind_out.emplace_back(kind);
    open = close;
  }
  return out;
}

}  // namespace handover::privacy::detect

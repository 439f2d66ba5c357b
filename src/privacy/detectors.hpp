// The built-in PII detectors. Each scans UTF-8 text byte by byte (only ASCII bytes can be part
// of a match) and returns the ranges it recognises, by position. Private to src/privacy.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace handover::privacy::detect {

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;  // one past the last byte

  bool operator==(const Span&) const = default;
};

// local@domain.tld with a dotted domain whose last label has 2 or more letters.
std::vector<Span> emails(std::string_view text);

// IBANs, compact or in groups of four separated by single spaces, whose mod-97 check holds and
// whose length fits the country (where known).
std::vector<Span> ibans(std::string_view text);

// Runs that look like IBANs (two letters, two digits, 11 or more letters and digits) whatever
// their check digits: an account number with a typo is no phone or card number.
std::vector<Span> iban_shaped(std::string_view text);

// 13 to 19 digits (single spaces or '-' between groups) starting with 2 to 6 and passing the
// Luhn check; a longer digit run is not a card number.
std::vector<Span> cards(std::string_view text);

// International (+49 30 1234567, 0049 ..., +1 (415) 555-2671) and German national numbers
// (030 1234567, 0171/1234567, (030) 123 456 78), with 9 to 15 digits after the international
// prefix or 7 to 13 digits in national form.
std::vector<Span> phones(std::string_view text);

// Masks this server wrote before: "[kind]" or "[kind:…hint]" for a kind in `kinds`. Sets
// `kind_out` (parallel to the result) to the kind of each.
std::vector<Span> tokens(std::string_view text, const std::vector<std::string>& kinds,
                         std::vector<std::string>& kind_out);

// The check digits of a compact upper-case IBAN (mod 97 == 1).
bool iban_checksum_ok(std::string_view compact);
// The Luhn check of a digit string.
bool luhn_ok(std::string_view digits);

}  // namespace handover::privacy::detect

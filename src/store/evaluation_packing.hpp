// Trigger evaluations as the turns table keeps them: compressed against a dictionary of
// typical evaluations, about a sixth of their JSON text.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace handover::store {

// The longest evaluation text that is packed. Longer ones (an evaluation lists every cue it
// matched, so a long text under a raised text limit can give megabytes) stay text, and a
// packed value that claims more is refused as damaged rather than allocated.
inline constexpr std::size_t kMaxEvaluationBytes = 4 * 1024 * 1024;

// An evaluation's JSON text packed for the turns table's evaluation_packed column: a format
// byte, then the text compressed against that format's dictionary with a checksum (the formats
// are listed in evaluation_packing.cpp). "" for "" and for text over kMaxEvaluationBytes,
// which the row then keeps as text. Safe to call from any thread.
std::string pack_evaluation(std::string_view json);

// The JSON text of a packed evaluation, of any format ever written, into `json`. False, with
// `json` cleared, when `packed` is not one: an unknown format byte, a damaged value (its
// checksum does not match), or more than kMaxEvaluationBytes.
bool unpack_evaluation(std::string_view packed, std::string& json);

// Defines the SQL function turn_evaluation(text, packed [, turn id]) on `db`: `packed`
// unpacked when it is not NULL, else `text`, so that every read of a turn's evaluation sees
// JSON text however the row keeps it. A packed value that does not unpack reads as '' (no
// evaluation) and is logged, with the turn's row id when given. Returns SQLite's result code.
int define_evaluation_function(sqlite3* db);

// The bytes formats 1 and 2 compress against (evaluation_dictionary.cpp).
std::string_view evaluation_dictionary_v1();

}  // namespace handover::store

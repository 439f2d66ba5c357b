// Reads the parts of a stored trigger evaluation that the snapshot uses, without building the
// rest: a scan that skips unwanted members as raw text and parses only the kept ones.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace handover::snapshot {

// Of a stored evaluation (a JSON object), "evidence" and "signals" with only its "sentiment",
// "anger", "uncertainty" and "value" members, as an object holding those that are present.
// Null when `text` is empty or not a JSON object.
nlohmann::json read_stored_evaluation(std::string_view text);

}  // namespace handover::snapshot

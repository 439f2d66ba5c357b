// Plain-text helpers for the extractive summary: sentences, folded words, stop words and
// clipping at code point boundaries. English and German; no outside service.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace handover::snapshot {

// The sentences of `text`, trimmed, in order. A sentence ends at '.', '!', '?' or '…' followed
// by white space or the end, and at every line break. Views point into `text`.
std::vector<std::string_view> split_sentences(std::string_view text);

// The words of `text`, lower-cased, with ä, ö, ü and ß spelled out (ae, oe, ue, ss), as the
// trigger engine spells its evidence. Words are runs of letters and digits.
std::vector<std::string> folded_words(std::string_view text);

// `text` folded like folded_words, words joined by single spaces.
std::string folded_text(std::string_view text);

// True for English and German function words, greetings and courtesies ("the", "und",
// "hallo", "thanks"), given folded.
bool is_stop_word(std::string_view folded_word);

// True when the sentence asks something: it ends with '?' or opens with an English or German
// question word ("how", "warum", ...).
bool is_question(std::string_view sentence);

// `text` cut to at most `max_bytes` bytes at a code point boundary, with "…" appended (within
// the limit) when it was cut. `max_bytes` must be at least 3.
std::string clip(std::string_view text, std::size_t max_bytes);

}  // namespace handover::snapshot

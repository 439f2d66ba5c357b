// The dotted fields rule expressions may read, with their types and accessors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "handover/triggers/engine.hpp"
#include "handover/triggers/signals.hpp"

namespace handover::triggers {

enum class ValueType : std::uint8_t { kNumber, kString, kBool, kNumberList, kStringList };

const char* value_type_name(ValueType type);

// A field's value for one turn. Bools are numbers 0 or 1.
struct FieldValue {
  double number = 0.0;
  std::string_view string;
};

struct FieldSource {
  const Signals& signals;
  const ConversationInfo& info;
};

struct FieldDef {
  std::string_view name;
  ValueType type;
  std::optional<SignalFamily> family;  // whose evidence explains this field
  FieldValue (*get)(const FieldSource&);
};

std::span<const FieldDef> field_defs();

// Index into field_defs(), or -1.
int find_field(std::string_view name);

// The known field closest to `name` by edit distance, for "did you mean" hints; "" if none.
std::string_view closest_field(std::string_view name);

}  // namespace handover::triggers

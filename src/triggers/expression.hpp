// The rule expression language: parsed and type-checked once, then evaluated per turn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fields.hpp"

namespace handover::triggers {

// Where and why an expression was rejected; `offset` is a byte offset into the source.
struct ExpressionError {
  std::size_t offset = 0;
  std::string message;
};

// One comparison (or bare bool field) over a field, reported with fired rules.
struct CheckSite {
  std::size_t offset = 0;
  std::size_t length = 0;
  int field = -1;
};

// Grammar, lowest precedence first:
//   expr    := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | compare
//   compare := unary (('=='|'!='|'<'|'<='|'>'|'>=') unary | 'not'? 'in' list)?
//   unary   := '-' unary | number | string | 'true' | 'false' | field | list | '(' expr ')'
// Fields are dotted names from field_defs(). The whole expression must be a bool.
class Expression {
 public:
  // Compiles `source`; false with `error` set on a syntax, name or type error.
  static bool compile(std::string_view source, Expression& out, ExpressionError& error);

  // `fields` is indexed like field_defs(); only fields() need to be filled in.
  bool evaluate(const FieldValue* fields) const { return truth(root_, fields); }

  const std::vector<int>& fields() const { return fields_; }
  const std::vector<CheckSite>& checks() const { return checks_; }

 private:
  enum class Op : std::uint8_t {
    kField,
    kNumber,
    kString,
    kBool,
    kList,
    kNot,
    kNeg,
    kAnd,
    kOr,
    kEq,
    kNe,
    kLt,
    kLe,
    kGt,
    kGe,
    kIn,
    kNotIn,
  };
  struct Node {
    Op op = Op::kNumber;
    ValueType type = ValueType::kNumber;
    int a = -1;
    int b = -1;
    int field = -1;
    double number = 0.0;
    std::string string;
    std::vector<double> numbers;
    std::vector<std::string> strings;
  };
  friend class ExpressionParser;

  bool truth(int node, const FieldValue* fields) const;
  double number(int node, const FieldValue* fields) const;
  std::string_view string(int node, const FieldValue* fields) const;
  bool compare(const Node& node, const FieldValue* fields) const;
  bool contains(const Node& node, const FieldValue* fields) const;

  std::vector<Node> nodes_;
  int root_ = -1;
  std::vector<int> fields_;
  std::vector<CheckSite> checks_;
};

}  // namespace handover::triggers

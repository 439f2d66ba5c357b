// Lexer, recursive-descent parser, type checker and evaluator of rule expressions.
#include "expression.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>

namespace handover::triggers {
namespace {

enum class Kind : std::uint8_t { kEnd, kNumber, kString, kName, kSymbol, kError };

struct Lexeme {
  Kind kind = Kind::kEnd;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;  // the symbol, the name, or the unescaped string
  double number = 0.0;
};

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '.'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string_view source) : source_(source) {}

  Lexeme next() {
    while (pos_ < source_.size() && (source_[pos_] == ' ' || source_[pos_] == '\t' ||
                                     source_[pos_] == '\n' || source_[pos_] == '\r')) {
      ++pos_;
    }
    Lexeme lexeme;
    lexeme.begin = pos_;
    if (pos_ >= source_.size()) return finish(lexeme, Kind::kEnd);
    const char c = source_[pos_];
    if (is_digit(c) || (c == '.' && pos_ + 1 < source_.size() && is_digit(source_[pos_ + 1]))) {
      return number(lexeme);
    }
    if (is_name_start(c)) {
      while (pos_ < source_.size() && is_name_char(source_[pos_])) ++pos_;
      lexeme.text = std::string(source_.substr(lexeme.begin, pos_ - lexeme.begin));
      return finish(lexeme, Kind::kName);
    }
    if (c == '"' || c == '\'') return quoted(lexeme, c);
    return symbol(lexeme);
  }

 private:
  Lexeme finish(Lexeme& lexeme, Kind kind) {
    lexeme.kind = kind;
    lexeme.end = pos_;
    return lexeme;
  }

  Lexeme number(Lexeme& lexeme) {
    while (pos_ < source_.size() && (is_digit(source_[pos_]) || source_[pos_] == '.' ||
                                     source_[pos_] == 'e' || source_[pos_] == 'E' ||
                                     ((source_[pos_] == '-' || source_[pos_] == '+') &&
                                      (source_[pos_ - 1] == 'e' || source_[pos_ - 1] == 'E')))) {
      ++pos_;
    }
    const char* first = source_.data() + lexeme.begin;
    const char* last = source_.data() + pos_;
    const auto [ptr, ec] = std::from_chars(first, last, lexeme.number);
    if (ec != std::errc() || ptr != last) {
      lexeme.text = "malformed number";
      return finish(lexeme, Kind::kError);
    }
    return finish(lexeme, Kind::kNumber);
  }

  Lexeme quoted(Lexeme& lexeme, char quote) {
    ++pos_;
    while (pos_ < source_.size() && source_[pos_] != quote) {
      if (source_[pos_] == '\\' && pos_ + 1 < source_.size()) ++pos_;
      lexeme.text.push_back(source_[pos_++]);
    }
    if (pos_ >= source_.size()) {
      lexeme.text = "unterminated string";
      return finish(lexeme, Kind::kError);
    }
    ++pos_;
    return finish(lexeme, Kind::kString);
  }

  Lexeme symbol(Lexeme& lexeme) {
    static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (source_.substr(pos_, 2) == op) {
        pos_ += 2;
        lexeme.text = std::string(op);
        return finish(lexeme, Kind::kSymbol);
      }
    }
    const char c = source_[pos_];
    if (std::string_view("<>()[],-").find(c) == std::string_view::npos) {
      lexeme.text = c == '=' ? "'=' is not an operator; use '=='"
                             : "unexpected character '" + std::string(1, c) + "'";
      ++pos_;
      return finish(lexeme, Kind::kError);
    }
    ++pos_;
    lexeme.text = std::string(1, c);
    return finish(lexeme, Kind::kSymbol);
  }

  std::string_view source_;
  std::size_t pos_ = 0;
};

}  // namespace

// Bounds the recursion of the parser, so a hostile file cannot exhaust the stack.
constexpr int kMaxDepth = 64;
// Bounds the tree, whose depth is at most its size: evaluation recurses along it, and a long
// chain of 'and' or 'or' nests as deeply as it has terms.
constexpr std::size_t kMaxNodes = 1000;

struct DepthGuard {
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  int& depth_;
};

class ExpressionParser {
 public:
  using Node = Expression::Node;
  using Op = Expression::Op;

  ExpressionParser(std::string_view source, Expression& out, ExpressionError& error)
      : lexer_(source), out_(out), error_(error) {
    advance();
  }

  bool parse() {
    const int root = parse_or();
    if (root < 0) return false;
    if (current_.kind != Kind::kEnd) return fail(current_.begin, unexpected());
    if (out_.nodes_[static_cast<std::size_t>(root)].type != ValueType::kBool) {
      return fail(
          0, "the expression must be a bool, not a " +
                 std::string(value_type_name(out_.nodes_[static_cast<std::size_t>(root)].type)));
    }
    out_.root_ = root;
    add_bool_check(root);
    std::sort(out_.fields_.begin(), out_.fields_.end());
    out_.fields_.erase(std::unique(out_.fields_.begin(), out_.fields_.end()), out_.fields_.end());
    return true;
  }

 private:
  struct Span {
    std::size_t begin = 0;
    std::size_t end = 0;
  };

  void advance() { current_ = lexer_.next(); }
  bool is_name(std::string_view name) const {
    return current_.kind == Kind::kName && current_.text == name;
  }
  bool is_symbol(std::string_view s) const {
    return current_.kind == Kind::kSymbol && current_.text == s;
  }

  // What is wrong with the current lexeme where it cannot continue the expression.
  std::string unexpected() const {
    if (current_.kind == Kind::kError) return current_.text;  // the lexer's own message
    if (current_.kind == Kind::kEnd) return "unexpected end of expression";
    return "unexpected '" + current_.text + "'";
  }

  bool fail(std::size_t offset, std::string message) {
    if (!failed_) error_ = {offset, std::move(message)};
    failed_ = true;
    return false;
  }
  int fail_node(std::size_t offset, std::string message) {
    fail(offset, std::move(message));
    return -1;
  }

  // The new node's index, or -1 (and a failure) when the tree would grow too large.
  int add(Node node, Span span) {
    if (out_.nodes_.size() >= kMaxNodes) {
      return fail_node(span.begin, "expression too long: more than " + std::to_string(kMaxNodes) +
                                       " values, fields and operators; split the rule");
    }
    out_.nodes_.push_back(std::move(node));
    spans_.push_back(span);
    return static_cast<int>(out_.nodes_.size() - 1);
  }
  const Node& node(int index) const { return out_.nodes_[static_cast<std::size_t>(index)]; }
  Span span(int index) const { return spans_[static_cast<std::size_t>(index)]; }

  // A bare bool field used as a condition is reported like a comparison.
  void add_bool_check(int index) {
    if (node(index).op == Op::kField)
      out_.checks_.push_back(
          {span(index).begin, span(index).end - span(index).begin, node(index).field});
  }

  int parse_or() { return parse_binary(Op::kOr, "or", &ExpressionParser::parse_and); }
  int parse_and() { return parse_binary(Op::kAnd, "and", &ExpressionParser::parse_not); }

  int parse_binary(Op op, std::string_view word, int (ExpressionParser::*operand)()) {
    int left = (this->*operand)();
    while (left >= 0 && is_name(word)) {
      advance();
      const int right = (this->*operand)();
      if (right < 0) return -1;
      for (int side : {left, right}) {
        if (node(side).type != ValueType::kBool) {
          std::string message(1, '\'');
          message.append(word)
              .append("' needs bools, got a ")
              .append(value_type_name(node(side).type));
          return fail_node(span(side).begin, std::move(message));
        }
        add_bool_check(side);
      }
      Node n;
      n.op = op;
      n.type = ValueType::kBool;
      n.a = left;
      n.b = right;
      left = add(std::move(n), {span(left).begin, span(right).end});
    }
    return left;
  }

  int parse_not() {
    const DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail_node(current_.begin, "expression nested too deeply");
    if (!is_name("not")) return parse_compare();
    const std::size_t begin = current_.begin;
    advance();
    const int operand = parse_not();
    if (operand < 0) return -1;
    if (node(operand).type != ValueType::kBool) {
      return fail_node(span(operand).begin, std::string("'not' needs a bool, got a ") +
                                                value_type_name(node(operand).type));
    }
    add_bool_check(operand);
    Node n;
    n.op = Op::kNot;
    n.type = ValueType::kBool;
    n.a = operand;
    return add(std::move(n), {begin, span(operand).end});
  }

  static bool comparison_op(std::string_view s, Op& op) {
    static constexpr std::pair<std::string_view, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe},
                                                               {"<", Op::kLt},  {"<=", Op::kLe},
                                                               {">", Op::kGt},  {">=", Op::kGe}};
    for (const auto& [text, value] : kOps) {
      if (s == text) {
        op = value;
        return true;
      }
    }
    return false;
  }

  int parse_compare() {
    const int left = parse_unary();
    if (left < 0) return -1;
    Op op = Op::kEq;
    if (current_.kind == Kind::kSymbol && comparison_op(current_.text, op)) {
      const std::size_t at = current_.begin;
      advance();
      const int right = parse_unary();
      if (right < 0) return -1;
      return make_comparison(op, left, right, at);
    }
    if (is_name("in") || is_name("not")) return parse_in(left);
    return left;
  }

  int make_comparison(Op op, int left, int right, std::size_t at) {
    const ValueType lt = node(left).type;
    const ValueType rt = node(right).type;
    const bool ordering = op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe;
    if (lt != rt) {
      return fail_node(at, std::string("cannot compare a ") + value_type_name(lt) + " with a " +
                               value_type_name(rt));
    }
    if (ordering && lt != ValueType::kNumber) {
      return fail_node(
          at, std::string("'<', '<=', '>' and '>=' need numbers, got a ") + value_type_name(lt));
    }
    if (lt == ValueType::kNumberList || lt == ValueType::kStringList) {
      return fail_node(at, "lists can only appear on the right of 'in'");
    }
    if (lt == ValueType::kString &&
        (!literal_fits(left, right) || !literal_fits(right, left))) {
      return -1;
    }
    Node n;
    n.op = op;
    n.type = ValueType::kBool;
    n.a = left;
    n.b = right;
    const int index = add(std::move(n), {span(left).begin, span(right).end});
    if (index >= 0) record_check(index, left, right);
    return index;
  }

  // A string literal compared with a field whose values are known (a role, a state, a
  // language code) must be one of them: `turn.role == "usr"` would load and never be true.
  // False (after recording the failure) when `literal` is a string or list of strings that
  // `field_side`, a field with such known values, never takes.
  bool literal_fits(int field_side, int literal) {
    const Node& f = node(field_side);
    const Node& l = node(literal);
    if (f.op != Op::kField || (l.op != Op::kString && l.op != Op::kList)) return true;
    const std::string_view name = field_defs()[static_cast<std::size_t>(f.field)].name;
    const std::vector<std::string> one = {l.string};
    for (const std::string& value : l.op == Op::kString ? one : l.strings) {
      std::string problem = literal_problem(name, value);
      if (!problem.empty()) {
        fail(span(literal).begin, std::move(problem));
        return false;
      }
    }
    return true;
  }

  static std::string literal_problem(std::string_view field, const std::string& value) {
    auto one_of = [&](std::initializer_list<std::string_view> known) -> std::string {
      if (std::find(known.begin(), known.end(), value) != known.end()) return {};
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "'" : ", '") + std::string(k) + "'";
      return std::string(field) + " is never '" + value + "': it is one of " + list;
    };
    if (field == "turn.role") return one_of({"user", "bot"});
    if (field == "conversation.state") return one_of({"bot", "queued", "agent"});
    if (field == "language") {
      const bool canonical = std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
      if (!canonical) {
        return "language is never '" + value +
               "': language tags are compared in lower case with '-', such as 'de' or 'de-ch'";
      }
    }
    return {};
  }

  void record_check(int index, int left, int right) {
    const int field_side = node(left).op == Op::kField    ? left
                           : node(right).op == Op::kField ? right
                                                          : -1;
    if (field_side < 0) return;
    out_.checks_.push_back(
        {span(index).begin, span(index).end - span(index).begin, node(field_side).field});
  }

  int parse_in(int left) {
    const bool negate = is_name("not");
    const std::size_t at = current_.begin;
    advance();
    if (negate) {
      if (!is_name("in")) return fail_node(current_.begin, "expected 'in' after 'not'");
      advance();
    }
    const int list = parse_unary();
    if (list < 0) return -1;
    const ValueType lt = node(left).type;
    const ValueType rt = node(list).type;
    const bool ok = (lt == ValueType::kNumber && rt == ValueType::kNumberList) ||
                    (lt == ValueType::kString && rt == ValueType::kStringList);
    if (!ok) {
      return fail_node(
          at, std::string("'in' needs a number or string on the left and a list of the same "
                          "type on the right, got a ") +
                  value_type_name(lt) + " and a " + value_type_name(rt));
    }
    if (lt == ValueType::kString && !literal_fits(left, list)) return -1;
    Node n;
    n.op = negate ? Op::kNotIn : Op::kIn;
    n.type = ValueType::kBool;
    n.a = left;
    n.b = list;
    const int index = add(std::move(n), {span(left).begin, span(list).end});
    if (index >= 0) record_check(index, left, list);
    return index;
  }

  int parse_unary() {
    const DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail_node(current_.begin, "expression nested too deeply");
    const Lexeme lexeme = current_;
    if (lexeme.kind == Kind::kError || lexeme.kind == Kind::kEnd)
      return fail_node(lexeme.begin, unexpected());
    if (lexeme.kind == Kind::kSymbol && lexeme.text == "-") return parse_negative();
    if (lexeme.kind == Kind::kSymbol && lexeme.text == "(") return parse_group();
    if (lexeme.kind == Kind::kSymbol && lexeme.text == "[") return parse_list();
    advance();
    Node n;
    if (lexeme.kind == Kind::kNumber) {
      n.op = Op::kNumber;
      n.number = lexeme.number;
    } else if (lexeme.kind == Kind::kString) {
      n.op = Op::kString;
      n.type = ValueType::kString;
      n.string = lexeme.text;
    } else if (lexeme.kind == Kind::kName && (lexeme.text == "true" || lexeme.text == "false")) {
      n.op = Op::kBool;
      n.type = ValueType::kBool;
      n.number = lexeme.text == "true" ? 1.0 : 0.0;
    } else if (lexeme.kind == Kind::kName) {
      return parse_field(lexeme);
    } else {
      return fail_node(lexeme.begin, "unexpected '" + lexeme.text + "'");
    }
    return add(std::move(n), {lexeme.begin, lexeme.end});
  }

  int parse_field(const Lexeme& lexeme) {
    static constexpr std::string_view kKeywords[] = {"and", "or", "not", "in"};
    if (std::find(std::begin(kKeywords), std::end(kKeywords), lexeme.text) != std::end(kKeywords)) {
      return fail_node(lexeme.begin, "unexpected '" + lexeme.text + "'");
    }
    const int field = find_field(lexeme.text);
    if (field < 0) {
      const std::string_view hint = closest_field(lexeme.text);
      return fail_node(lexeme.begin,
                       "unknown field '" + lexeme.text + "'" +
                           (hint.empty() ? "" : " (did you mean '" + std::string(hint) + "'?)"));
    }
    Node n;
    n.op = Op::kField;
    n.field = field;
    n.type = field_defs()[static_cast<std::size_t>(field)].type;
    out_.fields_.push_back(field);
    return add(std::move(n), {lexeme.begin, lexeme.end});
  }

  int parse_negative() {
    const std::size_t begin = current_.begin;
    advance();
    const int operand = parse_unary();
    if (operand < 0) return -1;
    if (node(operand).type != ValueType::kNumber) {
      return fail_node(
          begin, std::string("'-' needs a number, got a ") + value_type_name(node(operand).type));
    }
    if (node(operand).op == Op::kNumber) {
      out_.nodes_[static_cast<std::size_t>(operand)].number = -node(operand).number;
      spans_[static_cast<std::size_t>(operand)].begin = begin;
      return operand;
    }
    Node n;
    n.op = Op::kNeg;
    n.a = operand;
    return add(std::move(n), {begin, span(operand).end});
  }

  int parse_group() {
    const std::size_t begin = current_.begin;
    advance();
    const int inner = parse_or();
    if (inner < 0) return -1;
    // At the end of the text the open '(' is the place to look; elsewhere what stands
    // instead of the ')'.
    if (current_.kind == Kind::kEnd) return fail_node(begin, "expected ')' to close this '('");
    if (!is_symbol(")")) {
      return fail_node(current_.begin, current_.kind == Kind::kError
                                           ? current_.text
                                           : "expected ')' instead of '" + current_.text + "'");
    }
    spans_[static_cast<std::size_t>(inner)] = {begin, current_.end};
    advance();
    return inner;
  }

  int parse_list() {
    const std::size_t begin = current_.begin;
    advance();
    Node n;
    n.op = Op::kList;
    bool strings = false;
    bool numbers = false;
    while (!is_symbol("]")) {
      if (!n.numbers.empty() || !n.strings.empty()) {
        if (!is_symbol(",")) return fail_node(current_.begin, "expected ',' or ']' in the list");
        advance();
      }
      const bool negative = is_symbol("-");
      if (negative) advance();
      if (current_.kind == Kind::kNumber) {
        n.numbers.push_back(negative ? -current_.number : current_.number);
        numbers = true;
      } else if (current_.kind == Kind::kString && !negative) {
        n.strings.push_back(current_.text);
        strings = true;
      } else {
        return fail_node(current_.begin, "list elements must be number or string literals");
      }
      if (strings && numbers)
        return fail_node(current_.begin, "a list cannot mix numbers and strings");
      advance();
    }
    const std::size_t end = current_.end;
    advance();
    if (!strings && !numbers)
      return fail_node(begin, "an empty list is never matched; remove the test");
    n.type = strings ? ValueType::kStringList : ValueType::kNumberList;
    return add(std::move(n), {begin, end});
  }

  Lexer lexer_;
  Lexeme current_;
  Expression& out_;
  ExpressionError& error_;
  std::vector<Span> spans_;
  bool failed_ = false;
  int depth_ = 0;
};

bool Expression::compile(std::string_view source, Expression& out, ExpressionError& error) {
  out = Expression{};
  ExpressionParser parser(source, out, error);
  return parser.parse();
}

double Expression::number(int index, const FieldValue* fields) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  switch (n.op) {
    case Op::kField:
      return fields[n.field].number;
    case Op::kNeg:
      return -number(n.a, fields);
    default:
      return n.number;
  }
}

std::string_view Expression::string(int index, const FieldValue* fields) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  return n.op == Op::kField ? fields[n.field].string : std::string_view(n.string);
}

bool Expression::compare(const Node& n, const FieldValue* fields) const {
  const ValueType type = nodes_[static_cast<std::size_t>(n.a)].type;
  if (type == ValueType::kString) {
    const bool equal = string(n.a, fields) == string(n.b, fields);
    return n.op == Op::kEq ? equal : !equal;
  }
  const double a =
      type == ValueType::kBool ? (truth(n.a, fields) ? 1.0 : 0.0) : number(n.a, fields);
  const double b =
      type == ValueType::kBool ? (truth(n.b, fields) ? 1.0 : 0.0) : number(n.b, fields);
  switch (n.op) {
    case Op::kEq:
      return a == b;
    case Op::kNe:
      return a != b;
    case Op::kLt:
      return a < b;
    case Op::kLe:
      return a <= b;
    case Op::kGt:
      return a > b;
    default:
      return a >= b;
  }
}

bool Expression::contains(const Node& n, const FieldValue* fields) const {
  const Node& list = nodes_[static_cast<std::size_t>(n.b)];
  bool found = false;
  if (list.type == ValueType::kStringList) {
    const std::string_view value = string(n.a, fields);
    found = std::find(list.strings.begin(), list.strings.end(), value) != list.strings.end();
  } else {
    const double value = number(n.a, fields);
    found = std::find(list.numbers.begin(), list.numbers.end(), value) != list.numbers.end();
  }
  return n.op == Op::kIn ? found : !found;
}

bool Expression::truth(int index, const FieldValue* fields) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  switch (n.op) {
    case Op::kField:
      return fields[n.field].number != 0.0;
    case Op::kBool:
      return n.number != 0.0;
    case Op::kNot:
      return !truth(n.a, fields);
    case Op::kAnd:
      return truth(n.a, fields) && truth(n.b, fields);
    case Op::kOr:
      return truth(n.a, fields) || truth(n.b, fields);
    case Op::kIn:
    case Op::kNotIn:
      return contains(n, fields);
    default:
      return compare(n, fields);
  }
}

}  // namespace handover::triggers

// The rule expression language: evaluation, and rejection of bad expressions.
#include "expression.hpp"

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

namespace handover::triggers {
namespace {

// Field values for one pretend turn.
std::array<FieldValue, 64> sample_fields() {
  std::array<FieldValue, 64> values{};
  values[static_cast<std::size_t>(find_field("sentiment.mean"))].number = -0.6;
  values[static_cast<std::size_t>(find_field("turns.user"))].number = 3;
  values[static_cast<std::size_t>(find_field("customer.tier"))].string = "gold";
  values[static_cast<std::size_t>(find_field("request.human"))].number = 1;
  values[static_cast<std::size_t>(find_field("complexity.score"))].number = 0.65;
  return values;
}

struct EvalCase {
  std::string_view source;
  bool expected;
};

TEST(Expression, EvaluatesComparisonsLogicAndLists) {
  const EvalCase cases[] = {
      {"sentiment.mean <= -0.5 and turns.user >= 2", true},
      {"sentiment.mean <= -0.5 and turns.user >= 4", false},
      {"customer.tier in [\"gold\", \"platinum\"] and complexity.score >= 0.6", true},
      {"customer.tier not in ['gold']", false},
      {"turns.user in [1, 2, 3]", true},
      {"not request.human or turns.user == 3", true},
      {"not (request.human and turns.user > 3)", true},
      {"request.human == true", true},
      {"-sentiment.mean > 0.5", true},
      {"customer.tier != \"silver\"", true},
      {"true", true},
      {"false or (turns.user < 1)", false},
  };
  const auto values = sample_fields();
  for (const EvalCase& c : cases) {
    SCOPED_TRACE(c.source);
    Expression expression;
    ExpressionError error;

    const bool compiled = Expression::compile(c.source, expression, error);

    ASSERT_TRUE(compiled) << error.message;
    EXPECT_EQ(expression.evaluate(values.data()), c.expected);
  }
}

struct ErrorCase {
  std::string_view source;
  std::size_t offset;
  std::string_view message_part;
};

TEST(Expression, RejectsSyntaxNameAndTypeErrorsWithTheirOffset) {
  const ErrorCase cases[] = {
      {"sentiment.maen <= -0.5", 0, "did you mean 'sentiment.mean'"},
      {"turns.user >= 2 and foo", 20, "unknown field 'foo'"},
      {"customer.tier >= 2", 14, "cannot compare a string with a number"},
      {"customer.tier < \"gold\"", 14, "need numbers"},
      {"sentiment.mean", 0, "must be a bool"},
      {"turns.user and request.human", 0, "'and' needs bools"},
      {"not turns.user", 4, "'not' needs a bool"},
      {"turns.user in [\"a\"]", 11, "list of the same type"},
      {"customer.tier in [\"a\", 1]", 23, "cannot mix"},
      {"turns.user in []", 14, "empty list"},
      {"turns.user = 2", 11, "use '=='"},
      {"(turns.user > 2", 0, "expected ')' to close this '('"},
      {"(turns.user > 2 turns.bot)", 16, "expected ')' instead of 'turns.bot'"},
      {"turns.user > ", 13, "unexpected end"},
      {"customer.tier == \"gold", 17, "unterminated string"},
      {"turns.user > 2 turns.bot", 15, "unexpected"},
      {"", 0, "unexpected end"},
      // Literals a field with known values never takes: they would load and never be true.
      {"turn.role == \"usr\"", 13, "turn.role is never 'usr': it is one of 'user', 'bot'"},
      {"\"usr\" != turn.role", 0, "turn.role is never 'usr'"},
      {"conversation.state in [\"bot\", \"bott\"]", 22, "conversation.state is never 'bott'"},
      {"language == \"DE\"", 12, "compared in lower case"},
      {"language not in [\"de_ch\"]", 16, "compared in lower case"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.source);
    Expression expression;
    ExpressionError error;

    const bool compiled = Expression::compile(c.source, expression, error);

    EXPECT_FALSE(compiled);
    EXPECT_EQ(error.offset, c.offset);
    EXPECT_NE(error.message.find(c.message_part), std::string::npos) << error.message;
  }
}

TEST(Expression, TakesTheValuesFieldsWithKnownValuesHave) {
  for (std::string_view source :
       {"turn.role == \"user\" or turn.role == \"bot\"",
        "conversation.state in [\"bot\", \"queued\", \"agent\"]",
        "language in [\"de\", \"de-ch\", \"en\", \"\"]", "customer.tier == \"Gold\""}) {
    SCOPED_TRACE(source);
    Expression expression;
    ExpressionError error;
    EXPECT_TRUE(Expression::compile(source, expression, error)) << error.message;
  }
}

TEST(Expression, RejectsDeepNestingInsteadOfOverflowingTheStack) {
  const std::string deep = std::string(10000, '(') + "true" + std::string(10000, ')');
  const std::string negations = [] {
    std::string s;
    for (int i = 0; i < 10000; ++i) s += "not ";
    return s + "true";
  }();
  Expression expression;
  ExpressionError error;

  const bool parens = Expression::compile(deep, expression, error);
  const std::string parens_message = error.message;
  const bool nots = Expression::compile(negations, expression, error);

  EXPECT_FALSE(parens);
  EXPECT_NE(parens_message.find("nested too deeply"), std::string::npos);
  EXPECT_FALSE(nots);
  EXPECT_TRUE(Expression::compile("not not (true)", expression, error));
}

TEST(Expression, GivesTheLexersMessageWithoutWrappingIt) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"request.human & turns.user > 1", "unexpected character '&'"},
      {"turns.user = 2", "'=' is not an operator; use '=='"},
      {"(turns.user > 2 & request.human)", "unexpected character '&'"},
  };
  for (const auto& [source, message] : cases) {
    SCOPED_TRACE(source);
    Expression expression;
    ExpressionError error;

    const bool compiled = Expression::compile(source, expression, error);

    EXPECT_FALSE(compiled);
    EXPECT_EQ(error.message, message);
  }
}

TEST(Expression, RejectsALongFlatChainInsteadOfOverflowingTheStack) {
  std::string chain = "request.human";
  for (int i = 1; i < 300'000; ++i) chain += " and request.human";
  std::string fits = "request.human";
  for (int i = 1; i < 200; ++i) fits += " or turns.user > 5";
  Expression expression;
  ExpressionError error;

  const bool long_chain = Expression::compile(chain, expression, error);
  const std::string message = error.message;
  const bool short_chain = Expression::compile(fits, expression, error);

  EXPECT_FALSE(long_chain);
  EXPECT_NE(message.find("expression too long"), std::string::npos) << message;
  ASSERT_TRUE(short_chain) << error.message;
  EXPECT_TRUE(expression.evaluate(sample_fields().data()));
}

TEST(Expression, ReportsTheComparisonsItMadeForEvidence) {
  Expression expression;
  ExpressionError error;

  ASSERT_TRUE(Expression::compile("request.human or (sentiment.mean <= -0.5 and turns.user >= 2)",
                                  expression, error));

  ASSERT_EQ(expression.checks().size(), 3U);
  EXPECT_EQ(expression.fields().size(), 3U);
  const std::string source = "request.human or (sentiment.mean <= -0.5 and turns.user >= 2)";
  bool found = false;
  for (const CheckSite& check : expression.checks()) {
    found |= source.substr(check.offset, check.length) == "sentiment.mean <= -0.5";
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace handover::triggers

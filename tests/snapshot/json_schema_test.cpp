// The test-side JSON Schema validator: each supported keyword accepts and rejects, unknown
// keywords are refused, and docs/snapshot.schema.json uses only what it supports.
#include "support/json_schema.hpp"

#include <gtest/gtest.h>

#include <string>

#include "snapshot/snapshot_test_support.hpp"

namespace handover::testing {
namespace {

using nlohmann::json;

struct Case {
  const char* what;
  json schema;
  json instance;
  bool valid;
};

TEST(JsonSchema, EachKeywordAcceptsAndRejects) {
  const json person = {
      {"type", "object"},
      {"required", {"name"}},
      {"additionalProperties", false},
      {"properties", {{"name", {{"type", "string"}}}, {"age", {{"type", "integer"}}}}}};
  const Case cases[] = {
      {"type", {{"type", "string"}}, "x", true},
      {"type mismatch", {{"type", "string"}}, 1, false},
      {"type list", {{"type", {"string", "null"}}}, nullptr, true},
      {"type list mismatch", {{"type", {"string", "null"}}}, false, false},
      {"integer as 2.0", {{"type", "integer"}}, 2.0, true},
      {"integer as 2.5", {{"type", "integer"}}, 2.5, false},
      {"required present", person, {{"name", "a"}}, true},
      {"required missing", person, {{"age", 3}}, false},
      {"additional property", person, {{"name", "a"}, {"nick", "b"}}, false},
      {"property type", person, {{"name", "a"}, {"age", "three"}}, false},
      {"additional schema", {{"additionalProperties", {{"type", "number"}}}}, {{"a", "x"}}, false},
      {"items", {{"items", {{"type", "number"}}}}, {1, 2, "3"}, false},
      {"maxItems", {{"maxItems", 2}}, {1, 2, 3}, false},
      {"minItems", {{"minItems", 1}}, json::array(), false},
      {"enum", {{"enum", {"a", "b"}}}, "b", true},
      {"enum miss", {{"enum", {"a", "b"}}}, "c", false},
      {"const", {{"const", 2}}, 2, true},
      {"const miss", {{"const", 2}}, 3, false},
      {"minimum", {{"minimum", 0}}, -0.5, false},
      {"maximum", {{"maximum", 1}}, 1, true},
      {"maximum miss", {{"maximum", 1}}, 1.01, false},
      {"maxLength counts code points", {{"maxLength", 3}}, "äöü", true},
      {"maxLength miss", {{"maxLength", 2}}, "äöü", false},
      {"minLength", {{"minLength", 1}}, "", false},
      {"bounds ignore other types", {{"minimum", 5}, {"maxLength", 1}}, json::array(), true},
      {"ref", {{"$defs", {{"n", {{"type", "number"}}}}}, {"$ref", "#/$defs/n"}}, "x", false},
      {"false schema", {{"properties", {{"a", false}}}}, {{"a", 1}}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);

    const auto errors = JsonSchema(c.schema).validate(c.instance);

    EXPECT_EQ(errors.empty(), c.valid) << (errors.empty() ? "" : errors.front());
  }
}

TEST(JsonSchema, ErrorsPointIntoTheInstance) {
  const json schema = {{"properties", {{"list", {{"items", {{"type", "string"}}}}}}}};

  const auto errors = JsonSchema(schema).validate({{"list", {"a", 2}}});

  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "/list/1: expected type \"string\", got number");
}

TEST(JsonSchema, UnsupportedKeywordsAndUnresolvedRefsAreReported) {
  const json schema = {{"properties", {{"a", {{"pattern", "^x"}}}}}, {"$ref", "#/$defs/none"}};

  const auto lint = JsonSchema(schema).lint();
  const auto errors = JsonSchema(schema).validate({{"a", "x"}});

  ASSERT_EQ(lint.size(), 2u);
  EXPECT_NE(lint[0].find("unresolved $ref"), std::string::npos) << lint[0];
  EXPECT_NE(lint[1].find("unsupported keyword 'pattern'"), std::string::npos) << lint[1];
  EXPECT_EQ(errors.size(), 2u);
}

TEST(SnapshotSchema, UsesOnlyWhatTheValidatorSupports) {
  const auto& schema = snapshot::testing::snapshot_schema();

  const auto problems = schema.lint();

  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(SnapshotSchema, RejectsABrokenSnapshot) {
  snapshot::testing::ConversationBuilder c;
  c.user("My parcel 12345 is lost, please help me find it.");
  json s = snapshot::build_snapshot(c.input(), {});
  ASSERT_TRUE(snapshot::testing::snapshot_schema().validate(s).empty());

  s["history"][0]["role"] = "robot";
  s["summary"].erase("text");
  s["snapshot_version"] = 1;
  const auto errors = snapshot::testing::snapshot_schema().validate(s);

  EXPECT_EQ(errors.size(), 3u) << snapshot::testing::schema_errors(s);
}

}  // namespace
}  // namespace handover::testing

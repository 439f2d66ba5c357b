// A JSON Schema (draft 2020-12) validator for the subset of keywords our schemas in docs/
// use, so tests can check documents against them without a validator package.
//
// Supported: type (a name or a list), properties, required, additionalProperties (boolean or
// schema), items, enum, const, minimum, maximum, minLength, maxLength (in code points),
// minItems, maxItems, $ref to "#/$defs/<name>", and the annotations $schema, $id, $comment,
// title, description, examples and format (not asserted, as 2020-12 says by default). Any
// other keyword is reported as an error, so a schema cannot silently outgrow the validator.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace handover::testing {

class JsonSchema {
 public:
  explicit JsonSchema(nlohmann::json schema) : root_(std::move(schema)) {}

  // Every violation, as "<JSON pointer into the instance>: <what is wrong>"; empty when
  // `instance` is valid. Schema problems (an unsupported keyword, an unresolved $ref) come
  // back the same way, prefixed with "schema".
  std::vector<std::string> validate(const nlohmann::json& instance) const;

  // The schema's own problems, found without an instance: unsupported keywords and
  // unresolved $refs anywhere in it, each as "schema at <pointer into the schema>: ...".
  std::vector<std::string> lint() const;

 private:
  void lint_schema(const nlohmann::json& schema, const std::string& at,
                   std::vector<std::string>& errors) const;
  void check(const nlohmann::json& schema, const nlohmann::json& instance, const std::string& at,
             std::vector<std::string>& errors, int depth) const;
  void check_object(const nlohmann::json& schema, const nlohmann::json& instance,
                    const std::string& at, std::vector<std::string>& errors, int depth) const;
  void check_array(const nlohmann::json& schema, const nlohmann::json& instance,
                   const std::string& at, std::vector<std::string>& errors, int depth) const;
  void check_scalar(const nlohmann::json& schema, const nlohmann::json& instance,
                    const std::string& at, std::vector<std::string>& errors) const;
  const nlohmann::json* resolve(const std::string& ref) const;

  nlohmann::json root_;
};

}  // namespace handover::testing

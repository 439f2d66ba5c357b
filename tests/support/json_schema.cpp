// The JSON Schema subset validator: one recursive walk over schema and instance.
#include "support/json_schema.hpp"

#include <cmath>
#include <set>

namespace handover::testing {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;  // a $ref cycle without progress stops here

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> kKnown = {
      "$schema",
      "$id",
      "$comment",
      "$defs",
      "$ref",
      "title",
      "description",
      "examples",
      "format",
      "type",
      "properties",
      "required",
      "additionalProperties",
      "items",
      "enum",
      "const",
      "minimum",
      "maximum",
      "minLength",
      "maxLength",
      "minItems",
      "maxItems",
  };
  return kKnown;
}

bool is_integer(const json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  const double d = value.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(const json& value, const std::string& type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") return is_integer(value);
  return false;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string where(const std::string& at) { return at.empty() ? "(root)" : at; }

}  // namespace

std::vector<std::string> JsonSchema::validate(const json& instance) const {
  std::vector<std::string> errors;
  check(root_, instance, "", errors, 0);
  return errors;
}

std::vector<std::string> JsonSchema::lint() const {
  std::vector<std::string> errors;
  lint_schema(root_, "", errors);
  return errors;
}

void JsonSchema::lint_schema(const json& schema, const std::string& at,
                             std::vector<std::string>& errors) const {
  if (schema.is_boolean()) return;
  if (!schema.is_object()) {
    errors.push_back("schema at " + where(at) + ": not a schema object");
    return;
  }
  for (const auto& [keyword, value] : schema.items()) {
    const std::string here = at + "/" + pointer_token(keyword);
    if (!known_keywords().contains(keyword)) {
      errors.push_back("schema at " + where(at) + ": unsupported keyword '" + keyword + "'");
    } else if (keyword == "$ref" && (!value.is_string() || !resolve(value.get<std::string>()))) {
      errors.push_back("schema at " + where(at) + ": unresolved $ref " + value.dump());
    } else if ((keyword == "properties" || keyword == "$defs") && value.is_object()) {
      for (const auto& [name, sub] : value.items()) {
        lint_schema(sub, here + "/" + pointer_token(name), errors);
      }
    } else if (keyword == "items" || keyword == "additionalProperties") {
      lint_schema(value, here, errors);
    }
  }
}

const json* JsonSchema::resolve(const std::string& ref) const {
  static const std::string kPrefix = "#/$defs/";
  if (!ref.starts_with(kPrefix)) return nullptr;
  const auto defs = root_.find("$defs");
  if (defs == root_.end() || !defs->is_object()) return nullptr;
  const auto it = defs->find(ref.substr(kPrefix.size()));
  return it == defs->end() ? nullptr : &*it;
}

void JsonSchema::check(const json& schema, const json& instance, const std::string& at,
                       std::vector<std::string>& errors, int depth) const {
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) errors.push_back(where(at) + ": no value is allowed here");
    return;
  }
  if (!schema.is_object() || depth > kMaxDepth) {
    errors.push_back("schema at " + where(at) + ": not a schema object, or $ref too deep");
    return;
  }
  for (const auto& [keyword, value] : schema.items()) {
    if (!known_keywords().contains(keyword)) {
      errors.push_back("schema at " + where(at) + ": unsupported keyword '" + keyword + "'");
    }
  }
  if (const auto ref = schema.find("$ref"); ref != schema.end()) {
    const json* target = ref->is_string() ? resolve(ref->get<std::string>()) : nullptr;
    if (target == nullptr) {
      errors.push_back("schema at " + where(at) + ": unresolved $ref " + ref->dump());
    } else {
      check(*target, instance, at, errors, depth + 1);
    }
  }
  if (const auto type = schema.find("type"); type != schema.end()) {
    const json types = type->is_array() ? *type : json::array({*type});
    bool matched = false;
    for (const auto& t : types) matched = matched || (t.is_string() && has_type(instance, t));
    if (!matched) {
      errors.push_back(where(at) + ": expected type " + type->dump() + ", got " +
                       instance.type_name());
      return;
    }
  }
  check_scalar(schema, instance, at, errors);
  if (instance.is_object()) check_object(schema, instance, at, errors, depth);
  if (instance.is_array()) check_array(schema, instance, at, errors, depth);
}

void JsonSchema::check_object(const json& schema, const json& instance, const std::string& at,
                              std::vector<std::string>& errors, int depth) const {
  const json empty = json::object();
  const auto props = schema.find("properties");
  const json& properties = props != schema.end() && props->is_object() ? *props : empty;
  if (const auto required = schema.find("required"); required != schema.end()) {
    for (const auto& name : *required) {
      if (name.is_string() && !instance.contains(name.get<std::string>())) {
        errors.push_back(where(at) + ": missing required member '" + name.get<std::string>() + "'");
      }
    }
  }
  const auto additional = schema.find("additionalProperties");
  for (const auto& [key, value] : instance.items()) {
    const std::string child = at + "/" + pointer_token(key);
    if (const auto p = properties.find(key); p != properties.end()) {
      check(*p, value, child, errors, depth + 1);
    } else if (additional != schema.end()) {
      check(*additional, value, child, errors, depth + 1);
    }
  }
}

void JsonSchema::check_array(const json& schema, const json& instance, const std::string& at,
                             std::vector<std::string>& errors, int depth) const {
  if (const auto min = schema.find("minItems"); min != schema.end() && instance.size() < *min) {
    errors.push_back(where(at) + ": fewer than " + min->dump() + " items");
  }
  if (const auto max = schema.find("maxItems"); max != schema.end() && instance.size() > *max) {
    errors.push_back(where(at) + ": more than " + max->dump() + " items");
  }
  const auto items = schema.find("items");
  if (items == schema.end()) return;
  for (std::size_t i = 0; i < instance.size(); ++i) {
    check(*items, instance[i], at + "/" + std::to_string(i), errors, depth + 1);
  }
}

void JsonSchema::check_scalar(const json& schema, const json& instance, const std::string& at,
                              std::vector<std::string>& errors) const {
  if (const auto c = schema.find("const"); c != schema.end() && *c != instance) {
    errors.push_back(where(at) + ": expected " + c->dump() + ", got " + instance.dump());
  }
  if (const auto e = schema.find("enum"); e != schema.end()) {
    bool listed = false;
    for (const auto& option : *e) listed = listed || option == instance;
    if (!listed)
      errors.push_back(where(at) + ": " + instance.dump() + " is not one of " + e->dump());
  }
  if (instance.is_number()) {
    const double value = instance.get<double>();
    const auto min = schema.find("minimum");
    if (min != schema.end() && value < min->get<double>()) {
      errors.push_back(where(at) + ": " + instance.dump() + " is below " + min->dump());
    }
    const auto max = schema.find("maximum");
    if (max != schema.end() && value > max->get<double>()) {
      errors.push_back(where(at) + ": " + instance.dump() + " is above " + max->dump());
    }
  }
  if (instance.is_string()) {
    const std::size_t length = code_points(instance.get<std::string>());
    const auto min = schema.find("minLength");
    if (min != schema.end() && length < min->get<std::size_t>()) {
      errors.push_back(where(at) + ": shorter than " + min->dump() + " characters");
    }
    const auto max = schema.find("maxLength");
    if (max != schema.end() && length > max->get<std::size_t>()) {
      errors.push_back(where(at) + ": longer than " + max->dump() + " characters");
    }
  }
}

}  // namespace handover::testing

// Keeps docs/openapi.yaml and docs/api.md in step with the code: every route of the router
// is documented, every $ref resolves, and every problem type the server can send is
// described in the guide.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "router.hpp"

namespace handover::api {
namespace {

namespace fs = std::filesystem;

const std::string kSourceDir = HANDOVER_SOURCE_DIR;
const std::string kOpenApiPath = kSourceDir + "/docs/openapi.yaml";
const std::string kGuidePath = kSourceDir + "/docs/api.md";

// Problem type slugs found in src/ when the docs were written. The scan below finds new ones.
const std::vector<std::string> kKnownSlugs = {
    // src/http/server.cpp: the network layer
    "bad-framing", "bad-request", "header-too-large", "body-too-large", "request-timeout",
    "too-many-connections",
    // src/api/api.cpp: target, routing, readiness
    "bad-target", "not-found", "method-not-allowed", "not-ready",
    // src/api/auth.cpp
    "unauthenticated", "forbidden",
    // src/api/validation.cpp: body parsing and field validation
    "unsupported-media-type", "invalid-utf8", "invalid-unicode", "malformed-json",
    "duplicate-member", "validation-error",
    // src/api/conversations.cpp: store results
    "conflict", "turn-id-conflict", "unavailable", "internal",
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Problem type slugs used in the source files under src/: "/problems/<slug>" literals and
// the slug argument of problem(status, "slug", ...) and bad_body("slug", ...).
std::set<std::string> scan_source_slugs() {
  static const std::regex kLiteral(R"re("/problems/([a-z0-9][a-z0-9-]*))re");
  static const std::regex kCall(
      R"re((?:^|[^A-Za-z0-9_])(?:problem|bad_body)\s*\(\s*)re"
      R"re((?:[0-9]{3}\s*,\s*)?"([a-z0-9][a-z0-9-]*)")re");
  std::set<std::string> slugs;
  for (const auto& entry : fs::recursive_directory_iterator(kSourceDir + "/src")) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc") continue;
    const std::string text = read_text(entry.path().string());
    for (const std::regex* re : {&kLiteral, &kCall}) {
      for (std::sregex_iterator it(text.begin(), text.end(), *re), end; it != end; ++it) {
        slugs.insert((*it)[1].str());
      }
    }
  }
  return slugs;
}

// True when `text` contains "/problems/<slug>" not followed by another slug character.
bool mentions_slug(const std::string& text, const std::string& slug) {
  const std::string needle = "/problems/" + slug;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    const std::size_t after = pos + needle.size();
    const bool boundary =
        after == text.size() ||
        !(std::islower(static_cast<unsigned char>(text[after])) ||
          std::isdigit(static_cast<unsigned char>(text[after])) || text[after] == '-');
    if (boundary) return true;
  }
  return false;
}

YAML::Node walk(const YAML::Node& node, const std::vector<std::string>& tokens, std::size_t i) {
  if (i == tokens.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[tokens[i]];
  if (!child) return YAML::Node(YAML::NodeType::Undefined);
  return walk(child, tokens, i + 1);
}

// Resolves a local reference such as "#/components/schemas/Problem" (RFC 6901 tokens).
// Read-only: yaml-cpp's Node assignment would rebind nodes of the tree, so none is used.
YAML::Node resolve(const YAML::Node& root, const std::string& ref) {
  if (!ref.starts_with("#/")) return YAML::Node(YAML::NodeType::Undefined);
  std::vector<std::string> tokens;
  std::size_t pos = 2;
  while (pos <= ref.size()) {
    const std::size_t next = std::min(ref.find('/', pos), ref.size());
    std::string token = ref.substr(pos, next - pos);
    for (std::size_t i; (i = token.find("~1")) != std::string::npos;) token.replace(i, 2, "/");
    for (std::size_t i; (i = token.find("~0")) != std::string::npos;) token.replace(i, 2, "~");
    tokens.push_back(std::move(token));
    pos = next + 1;
  }
  return walk(root, tokens, 0);
}

void collect_refs(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.as<std::string>() == "$ref" && kv.second.IsScalar()) {
        out.push_back(kv.second.as<std::string>());
      } else {
        collect_refs(kv.second, out);
      }
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect_refs(item, out);
  }
}

// Follows a $ref, if the node is one.
YAML::Node deref(const YAML::Node& root, const YAML::Node& node) {
  if (node.IsMap() && node["$ref"]) return resolve(root, node["$ref"].as<std::string>());
  return node;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kOpenApiPath)) << kOpenApiPath;
    ASSERT_NO_THROW(doc_ = YAML::LoadFile(kOpenApiPath)) << kOpenApiPath;
    ASSERT_TRUE(doc_.IsMap());
  }

  YAML::Node doc_;
};

TEST_F(OpenApiTest, VersionIs31) {
  ASSERT_TRUE(doc_["openapi"]) << "no 'openapi' key";
  EXPECT_TRUE(doc_["openapi"].as<std::string>().starts_with("3.1"))
      << doc_["openapi"].as<std::string>();
}

TEST_F(OpenApiTest, EveryRouteIsDocumented) {
  const Router router;
  const auto routes = router.routes();
  ASSERT_FALSE(routes.empty());
  const YAML::Node paths = doc_["paths"];
  ASSERT_TRUE(paths && paths.IsMap());

  for (const auto& [method, path] : routes) {
    SCOPED_TRACE(method + " " + path);
    const YAML::Node item = paths[path];
    ASSERT_TRUE(item && item.IsMap()) << "path missing from docs/openapi.yaml";
    const YAML::Node op = item[lower(method)];
    EXPECT_TRUE(op && op.IsMap()) << "operation missing from docs/openapi.yaml";
    if (!op || !op.IsMap()) continue;
    EXPECT_TRUE(op["responses"] && op["responses"].IsMap()) << "operation without responses";

    // Each {placeholder} of the template is declared as a path parameter.
    static const std::regex kPlaceholder(R"(\{([^}]+)\})");
    for (std::sregex_iterator it(path.begin(), path.end(), kPlaceholder), end; it != end; ++it) {
      const std::string name = (*it)[1].str();
      bool declared = false;
      for (const YAML::Node& list : {item["parameters"], op["parameters"]}) {
        if (!list || !list.IsSequence()) continue;
        for (const auto& p : list) {
          const YAML::Node param = deref(doc_, p);
          declared = declared || (param["in"] && param["in"].as<std::string>() == "path" &&
                                  param["name"] && param["name"].as<std::string>() == name);
        }
      }
      EXPECT_TRUE(declared) << "path parameter '" << name << "' not declared";
    }
  }
}

TEST_F(OpenApiTest, EveryDocumentedOperationIsARoute) {
  std::set<std::pair<std::string, std::string>> known;
  std::set<std::string> known_paths;
  for (const auto& [method, path] : Router().routes()) {
    known.emplace(lower(method), path);
    known_paths.insert(path);
  }
  for (const auto& kv : doc_["paths"]) {
    const std::string path = kv.first.as<std::string>();
    SCOPED_TRACE(path);
    EXPECT_TRUE(known_paths.count(path)) << "documented path is not in the router";
    for (const auto& op : kv.second) {
      const std::string method = op.first.as<std::string>();
      // OPTIONS is answered on every routed path; HEAD on every GET route.
      if (method == "options") continue;
      if (method == "head") {
        EXPECT_TRUE(known.count({"get", path})) << "HEAD documented without a GET route";
        continue;
      }
      if (method != "get" && method != "post" && method != "put" && method != "patch" &&
          method != "delete") {
        continue;  // parameters, summary, description, ...
      }
      EXPECT_TRUE(known.count({method, path})) << method << " is not routed";
    }
  }
}

TEST_F(OpenApiTest, EveryLocalRefResolves) {
  std::vector<std::string> refs;
  collect_refs(doc_, refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& ref : refs) {
    EXPECT_TRUE(ref.starts_with("#/")) << "non-local $ref " << ref;
    EXPECT_TRUE(resolve(doc_, ref)) << "unresolved $ref " << ref;
  }
}

TEST(ProblemTypes, SourceScanFindsTheKnownSlugs) {
  // Guards the scanner: if it stopped matching, the next test would pass vacuously.
  const std::set<std::string> found = scan_source_slugs();
  for (const auto& slug : kKnownSlugs) {
    EXPECT_TRUE(found.count(slug)) << "'" << slug << "' is no longer used in src/ (or the scan"
                                   << " missed it): update kKnownSlugs and docs/api.md";
  }
}

TEST(ProblemTypes, EverySlugIsDescribedInTheGuide) {
  ASSERT_TRUE(fs::exists(kGuidePath)) << kGuidePath;
  const std::string guide = read_text(kGuidePath);
  std::set<std::string> slugs(kKnownSlugs.begin(), kKnownSlugs.end());
  const std::set<std::string> scanned = scan_source_slugs();
  slugs.insert(scanned.begin(), scanned.end());
  for (const auto& slug : slugs) {
    EXPECT_TRUE(mentions_slug(guide, slug))
        << "docs/api.md does not mention /problems/" << slug;
  }
}

}  // namespace
}  // namespace handover::api

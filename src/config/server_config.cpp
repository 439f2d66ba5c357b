// Loads the server configuration: defaults, then the YAML file, then HANDOVER_* environment
// variables, then command-line flags. Every value is validated where it enters.
#include "handover/config/server_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "handover/util/ip_network.hpp"
#include "integrations_config.hpp"
#include "yaml_util.hpp"

extern "C" {
extern char** environ;  // POSIX; declared here so no feature-test macro is needed
}

namespace handover::config {
namespace {

constexpr std::string_view kEnvPrefix = "HANDOVER_";
constexpr std::string_view kEnvListen = "HANDOVER_LISTEN";
constexpr std::string_view kEnvDb = "HANDOVER_DB";
constexpr std::string_view kEnvCorsOrigins = "HANDOVER_CORS_ALLOWED_ORIGINS";
constexpr std::string_view kEnvTrustedProxies = "HANDOVER_HTTP_TRUSTED_PROXIES";
constexpr std::string_view kEnvApiKeys = "HANDOVER_AUTH_API_KEYS";

constexpr std::int64_t kKiB = 1024;
constexpr std::int64_t kMiB = 1024 * kKiB;
constexpr std::int64_t kMinTimeoutMs = 100;
constexpr std::int64_t kMaxTimeoutMs = 60 * 60 * 1000;
constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxKeyNameLength = 64;
constexpr std::size_t kSha256HexLength = 64;

// Letters, digits, '.', '-' and '_': host names and API key names.
constexpr std::string_view kNameChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

constexpr char kListenExpectation[] = "host:port such as 127.0.0.1:8080 or [::1]:8080";
constexpr char kHostExpectation[] = "a host name or IP address (IPv6 without brackets)";
constexpr char kOriginExpectation[] = "\"*\" or an origin such as https://example.com:8443";
constexpr char kNetworkExpectation[] = "an IP network such as 10.0.0.0/8 or ::1/128, or an address";
constexpr char kKeyNameExpectation[] = "a name of at most 64 letters, digits, '.', '_' or '-'";
constexpr char kSha256Expectation[] =
    "64 lower-case hex digits, the SHA-256 of the key (printf %s KEY | sha256sum)";

std::vector<std::string> scope_names() { return {"bot", "widget", "read", "admin"}; }

// ---- Hosts, listen addresses and origins -------------------------------------------------

struct HostPort {
  std::string_view host;
  std::optional<std::string_view> port;  // the text after ':', if there was one
  bool bracketed = false;
};

// Splits "host", "host:port", "[v6]" or "[v6]:port". Returns why it cannot, or "" on success.
std::string_view split_host_port(std::string_view text, HostPort& out) {
  std::string_view rest;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return "the '[' has no matching ']'";
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "only ':port' may follow ']'";
  } else {
    std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return "an IPv6 address needs brackets, e.g. [::1]:8080";
    }
    out.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!rest.empty()) out.port = rest.substr(1);
  return {};
}

// Why `host` (IPv6 without brackets) is unusable, or "" if it is a plausible host.
std::string_view host_problem(std::string_view host) {
  if (host.empty()) return "the host is empty";
  if (host.find_first_of("[]") != std::string_view::npos) {
    return "brackets belong only around an IPv6 address followed by a port";
  }
  if (host.find(':') != std::string_view::npos) {
    bool v6_chars = host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos;
    return v6_chars ? std::string_view() : "not a valid IPv6 address";
  }
  if (host.size() > kMaxHostLength ||
      host.find_first_not_of(kNameChars) != std::string_view::npos) {
    return "not a valid host name or IP address";
  }
  // Digits and dots only can be nothing but an IPv4 address (no host name is all numeric).
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    in_addr parsed{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &parsed) != 1) {
      return "not a valid IPv4 address";
    }
  }
  return {};
}

// InvalidArgument "expected <expected>, got '<text>': <problem>".
Status rejected(std::string_view expected, std::string_view text, std::string_view problem) {
  return expected_got(expected, quote_for_message(text) + ": " + std::string(problem));
}

Status check_listen_address(std::string_view text) {
  std::string_view problem = host_problem(text);
  return problem.empty() ? Status::ok() : rejected(kHostExpectation, text, problem);
}

Status bad_origin(std::string_view text, std::string_view problem) {
  return rejected(kOriginExpectation, text, problem);
}

bool is_scheme(std::string_view scheme) {
  return !scheme.empty() && std::islower(static_cast<unsigned char>(scheme.front())) &&
         scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-") ==
             std::string_view::npos;
}

bool is_default_port(std::string_view scheme, std::int64_t port) {
  return (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
}

// Origins are compared as text with what browsers send, so the port must be spelled as they
// spell it: no default port for the scheme and no leading zeros.
Status check_origin_port(std::string_view text, std::string_view scheme, std::string_view port) {
  Result<std::int64_t> number = parse_integer(port, 1, 65535);
  if (!number) return bad_origin(text, "the port must be an integer from 1 to 65535");
  if (is_default_port(scheme, *number)) {
    return bad_origin(text, "leave out the default port, as browsers do");
  }
  if (std::to_string(*number) != port)
    return bad_origin(text, "write the port without leading zeros");
  return Status::ok();
}

Status check_origin_authority(std::string_view text, std::string_view scheme,
                              std::string_view authority) {
  HostPort parts;
  std::string_view problem = split_host_port(authority, parts);
  if (problem.empty()) problem = host_problem(parts.host);
  if (!problem.empty()) return bad_origin(text, problem);
  auto is_upper = [](unsigned char c) { return std::isupper(c) != 0; };
  if (std::any_of(parts.host.begin(), parts.host.end(), is_upper)) {
    return bad_origin(text, "write it in lower case, as browsers send it");
  }
  return parts.port ? check_origin_port(text, scheme, *parts.port) : Status::ok();
}

Status check_origin(std::string_view text) {
  if (text == "*") return Status::ok();
  std::size_t separator = text.find("://");
  if (separator == std::string_view::npos || !is_scheme(text.substr(0, separator))) {
    return bad_origin(text, "it needs a lower-case scheme such as http:// or https://");
  }
  std::string_view authority = text.substr(separator + 3);
  if (authority.find_first_of("/?#") != std::string_view::npos) {
    return bad_origin(text, "an origin has no path, query or fragment, not even a final '/'");
  }
  return check_origin_authority(text, text.substr(0, separator), authority);
}

std::string_view trim_spaces(std::string_view text) {
  std::size_t first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// Parses a comma-separated list (spaces around commas allowed) of items that pass `check`
// into `out`. An empty or all-space text is an empty list.
Status parse_comma_list(std::string_view text, std::string_view expected,
                        const StringCheck& check, std::vector<std::string>& out) {
  std::vector<std::string> items;
  bool more = !trim_spaces(text).empty();
  while (more) {
    std::size_t comma = text.find(',');
    std::string_view item = trim_spaces(text.substr(0, comma));
    Status status = item.empty() ? rejected(expected, item, "an empty entry") : check(item);
    if (!status.is_ok()) return status;
    items.emplace_back(item);
    more = comma != std::string_view::npos;
    text.remove_prefix(more ? comma + 1 : text.size());
  }
  out = std::move(items);
  return Status::ok();
}

// ---- Trusted proxies ----------------------------------------------------------------------

Status check_network(std::string_view text) {
  Result<ip::Network> network = ip::parse_network(text);
  if (network) return Status::ok();
  return rejected(kNetworkExpectation, text, network.status().message());
}

// ---- API keys -----------------------------------------------------------------------------

Status check_key_name(std::string_view name) {
  if (name.size() <= kMaxKeyNameLength &&
      name.find_first_not_of(kNameChars) == std::string_view::npos) {
    return Status::ok();
  }
  return expected_got(kKeyNameExpectation, quote_for_message(name));
}

// The value is not echoed: someone may have pasted the key itself instead of its hash.
Status check_sha256(std::string_view hash) {
  std::string got;
  if (hash.size() != kSha256HexLength) {
    got = std::to_string(hash.size()) + " characters";
  } else if (hash.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    got = "characters other than 0-9 and a-f";
  } else {
    return Status::ok();
  }
  return expected_got(kSha256Expectation, got);
}

Status check_scope(std::string_view scope) {
  std::vector<std::string> scopes = scope_names();
  if (std::find(scopes.begin(), scopes.end(), scope) != scopes.end()) return Status::ok();
  return expected_got("one of bot, widget, read, admin", quote_for_message(scope));
}

bool read_scopes(MapReader& reader, std::vector<std::string>& scopes, Diagnostics& diag) {
  std::optional<YAML::Node> node = reader.take_required("scopes");
  if (!node) return false;

  std::string path = reader.path_of("scopes");
  std::optional<std::vector<std::string>> read =
      read_string_list(*node, path, "one of bot, widget, read, admin", check_scope, diag);
  if (!read) return false;
  if (read->empty()) {
    diag.add_at(reader.key_mark("scopes"), "expected at least one scope", path);
    return false;
  }
  scopes = std::move(*read);
  return true;
}

// One item of auth.api_keys as read, with which of its fields were valid.
struct ReadKey {
  ApiKeyConfig key;
  bool name_ok = false;
  bool hash_ok = false;
  bool scopes_ok = false;
};

ReadKey read_api_key(const YAML::Node& item, const std::string& path, Diagnostics& diag) {
  ReadKey read;
  MapReader reader(item, item.Mark(), path, diag);
  // Read every field even after a bad one, so all of their problems are reported.
  read.name_ok = reader.read_required(
      "name", string_binding(read.key.name, kKeyNameExpectation, check_key_name));
  read.hash_ok = reader.read_required(
      "sha256", string_binding(read.key.sha256, kSha256Expectation, check_sha256));
  read.scopes_ok = read_scopes(reader, read.key.scopes, diag);
  reader.finish();
  return read;
}

// Names and hashes seen so far, each with the line of its first use.
struct SeenKeys {
  std::map<std::string, int> names;
  std::map<std::string, int> hashes;
};

// Records `value` in `seen`; reports it at `mark` and returns false if it was there already.
bool check_unique(const std::string& value, const YAML::Mark& mark, std::string_view what,
                  const std::string& key_path, std::map<std::string, int>& seen,
                  Diagnostics& diag) {
  auto [first, is_new] = seen.emplace(value, mark.line + 1);
  if (!is_new) {
    diag.add_at(mark,
                "duplicate API key " + std::string(what) + ", first used at line " +
                    std::to_string(first->second),
                key_path);
  }
  return is_new;
}

// True if the key is complete and neither its name nor its hash was used before. Checks each
// valid field even when another is bad, so a repeated name is reported along with a bad hash.
bool check_api_key(const ReadKey& read, const YAML::Node& item, const std::string& path,
                   SeenKeys& seen, Diagnostics& diag) {
  bool name_unique = read.name_ok && check_unique(read.key.name, item["name"].Mark(), "name",
                                                  path + ".name", seen.names, diag);
  bool hash_unique = read.hash_ok && check_unique(read.key.sha256, item["sha256"].Mark(), "hash",
                                                  path + ".sha256", seen.hashes, diag);
  return name_unique && hash_unique && read.scopes_ok;
}

void read_auth(MapReader& auth, ServerConfig& config, Diagnostics& diag) {
  std::optional<YAML::Node> node = auth.take("api_keys");
  if (!node) return;

  SeenKeys seen;
  auto read_item = [&](const YAML::Node& item, const std::string& path) {
    ReadKey read = read_api_key(item, path, diag);
    if (check_api_key(read, item, path, seen, diag)) {
      config.auth.api_keys.push_back(std::move(read.key));
    }
  };
  for_each_item(*node, auth.path_of("api_keys"), diag, read_item);
}

void read_cors(MapReader& cors, ServerConfig& config, Diagnostics& diag) {
  std::optional<YAML::Node> node = cors.take("allowed_origins");
  if (!node) return;

  std::optional<std::vector<std::string>> origins = read_string_list(
      *node, cors.path_of("allowed_origins"), kOriginExpectation, check_origin, diag);
  if (origins) config.cors.allowed_origins = std::move(*origins);
}

void read_http(MapReader& http, ServerConfig& config, Diagnostics& diag) {
  std::optional<YAML::Node> node = http.take("trusted_proxies");
  if (!node) return;

  std::optional<std::vector<std::string>> networks = read_string_list(
      *node, http.path_of("trusted_proxies"), kNetworkExpectation, check_network, diag);
  if (networks) config.http.trusted_proxies = std::move(*networks);
}

void read_web(MapReader& web, ServerConfig& config, Diagnostics& diag) {
  std::optional<YAML::Node> node = web.take("frame_ancestors");
  if (!node) return;

  std::optional<std::vector<std::string>> origins = read_string_list(
      *node, web.path_of("frame_ancestors"), kOriginExpectation, check_origin, diag);
  if (origins) config.web.frame_ancestors = std::move(*origins);
}

// ---- Scalar settings, shared by the file, the environment and the flags -------------------

// One scalar setting: its place in the YAML file and how its text is parsed into the config.
struct Setting {
  std::string_view section;
  std::string_view key;
  ScalarBinding binding;
};

void add_listen_settings(ListenConfig& c, std::vector<Setting>& out) {
  out.push_back(
      {"listen", "address", string_binding(c.address, kHostExpectation, check_listen_address)});
  out.push_back({"listen", "port", integer_binding(c.port, 0, 65535)});
}

void add_http_settings(HttpConfig& c, std::vector<Setting>& out) {
  out.push_back({"http", "threads", integer_binding(c.threads, 1, 64)});
  out.push_back({"http", "max_connections", integer_binding(c.max_connections, 1, 1'000'000)});
  out.push_back({"http", "header_limit", integer_binding(c.header_limit, kKiB, kMiB)});
  out.push_back({"http", "body_limit", integer_binding(c.body_limit, kKiB, 64 * kMiB)});
  out.push_back({"http", "read_timeout_ms",
                 integer_binding(c.read_timeout_ms, kMinTimeoutMs, kMaxTimeoutMs)});
  out.push_back({"http", "idle_timeout_ms",
                 integer_binding(c.idle_timeout_ms, kMinTimeoutMs, kMaxTimeoutMs)});
  out.push_back({"http", "shutdown_grace_ms",
                 integer_binding(c.shutdown_grace_ms, kMinTimeoutMs, kMaxTimeoutMs)});
}

void add_websocket_settings(WebSocketConfig& c, std::vector<Setting>& out) {
  out.push_back({"websocket", "ping_interval_ms",
                 integer_binding(c.ping_interval_ms, kMinTimeoutMs, kMaxTimeoutMs)});
  out.push_back({"websocket", "pong_timeout_ms",
                 integer_binding(c.pong_timeout_ms, kMinTimeoutMs, kMaxTimeoutMs)});
  out.push_back({"websocket", "max_message_bytes",
                 integer_binding(c.max_message_bytes, kKiB, 16 * kMiB)});
  out.push_back({"websocket", "max_queued_messages",
                 integer_binding(c.max_queued_messages, 1, 1'000'000)});
  out.push_back({"websocket", "max_queued_bytes",
                 integer_binding(c.max_queued_bytes, kKiB, 1024 * kMiB)});
}

void add_store_settings(StoreConfig& c, std::vector<Setting>& out) {
  out.push_back({"store", "path", string_binding(c.path, "a database file path")});
  out.push_back({"store", "synchronous", enum_binding(c.synchronous, {"full", "normal"})});
  out.push_back({"store", "read_connections", integer_binding(c.read_connections, 1, 64)});
  out.push_back({"store", "max_batch", integer_binding(c.max_batch, 1, 10'000)});
}

void add_other_settings(ServerConfig& c, std::vector<Setting>& out) {
  out.push_back({"cors", "max_age_s", integer_binding(c.cors.max_age_s, 0, 86'400)});
  out.push_back({"limits", "max_text_bytes", integer_binding(c.limits.max_text_bytes, 1, kMiB)});
  out.push_back(
      {"limits", "max_metadata_bytes", integer_binding(c.limits.max_metadata_bytes, 1, 16 * kMiB)});
  out.push_back({"limits", "max_actions", integer_binding(c.limits.max_actions, 0, 1'000)});
  out.push_back({"limits", "max_page", integer_binding(c.limits.max_page, 1, 10'000)});
  out.push_back({"snapshot", "max_bytes",
                 integer_binding(c.snapshot.max_bytes, kKiB, 16 * kMiB)});
  out.push_back({"snapshot", "max_turns", integer_binding(c.snapshot.max_turns, 1, 10'000)});
  out.push_back({"log", "level",
                 enum_binding(c.log.level, {"trace", "debug", "info", "warn", "error", "off"})});
  out.push_back({"log", "format", enum_binding(c.log.format, {"text", "json"})});
  out.push_back({"log", "access_log", boolean_binding(c.log.access_log)});
  out.push_back({"web", "enabled", boolean_binding(c.web.enabled)});
  out.push_back({"web", "root", string_binding(c.web.root, "a directory path")});
}

// Every scalar setting, bound to the fields of `config`, which must outlive the result.
std::vector<Setting> scalar_settings(ServerConfig& config) {
  std::vector<Setting> settings;
  add_listen_settings(config.listen, settings);
  add_http_settings(config.http, settings);
  add_websocket_settings(config.websocket, settings);
  add_store_settings(config.store, settings);
  add_other_settings(config, settings);
  return settings;
}

const Setting& find_setting(const std::vector<Setting>& settings, std::string_view section,
                            std::string_view key) {
  auto it = std::find_if(settings.begin(), settings.end(),
                         [&](const Setting& s) { return s.section == section && s.key == key; });
  assert(it != settings.end() && "no such setting");
  return *it;
}

// ---- The file -----------------------------------------------------------------------------

// A top-level section, with a reader for its keys that are not scalar settings.
struct Section {
  std::string_view name;
  void (*read_lists)(MapReader&, ServerConfig&, Diagnostics&);
};

constexpr std::array<Section, 10> kSections = {{
    {"listen", nullptr},
    {"http", read_http},
    {"websocket", nullptr},
    {"store", nullptr},
    {"auth", read_auth},
    {"cors", read_cors},
    {"limits", nullptr},
    {"snapshot", nullptr},
    {"log", nullptr},
    {"web", read_web},
}};

void read_section(const Section& section, MapReader& top, const std::vector<Setting>& settings,
                  ServerConfig& config, Diagnostics& diag) {
  std::optional<YAML::Node> node = top.take(section.name);
  if (!node) return;

  MapReader reader(*node, top.key_mark(section.name), std::string(section.name), diag);
  for (const Setting& setting : settings) {
    if (setting.section == section.name) reader.read(setting.key, setting.binding);
  }
  if (section.read_lists != nullptr) section.read_lists(reader, config, diag);
  reader.finish();
}

// The bots per channel and the webhook receivers: sections with their own shapes.
void read_integrations(MapReader& top, const std::string& config_dir,
                       const std::map<std::string, std::string>& env, ServerConfig& config,
                       Diagnostics& diag) {
  if (std::optional<YAML::Node> node = top.take("connectors")) {
    read_connectors(*node, top.key_mark("connectors"), config_dir, config.connectors, diag);
  }
  if (std::optional<YAML::Node> node = top.take("webhooks")) {
    read_webhooks(*node, env, config.webhooks, diag);
  }
}

void read_file_settings(const YAML::Node& root, const std::string& config_dir,
                        const std::map<std::string, std::string>& env, ServerConfig& config,
                        Diagnostics& diag) {
  try {
    std::vector<Setting> settings = scalar_settings(config);
    MapReader top(root, root.Mark(), "", diag);
    for (const Section& section : kSections) read_section(section, top, settings, config, diag);
    read_integrations(top, config_dir, env, config, diag);
    top.finish();
  } catch (const YAML::Exception& e) {
    // Reading only inspects types it has checked, so this would be a yaml-cpp surprise.
    diag.add_at(e.mark, "cannot read the YAML: " + e.msg, "");
  }
}

// ---- The environment ----------------------------------------------------------------------

std::string env_name(std::string_view section, std::string_view key) {
  std::string name = std::string(kEnvPrefix) + std::string(section) + "_" + std::string(key);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

Status unknown_variable(std::string_view name, const std::vector<Setting>& settings) {
  std::vector<std::string> known = {std::string(kEnvListen), std::string(kEnvDb),
                                    std::string(kEnvCorsOrigins),
                                    std::string(kEnvTrustedProxies)};
  for (const Setting& setting : settings) known.push_back(env_name(setting.section, setting.key));

  std::string message = "unknown variable; every HANDOVER_* variable must name a setting";
  if (std::optional<std::string> suggestion = closest_match(name, known)) {
    message += ", did you mean " + *suggestion + "?";
  }
  return Status::invalid_argument(std::move(message));
}

Status apply_env_variable(std::string_view name, std::string_view value,
                          const std::vector<Setting>& settings, ServerConfig& config) {
  if (name == kEnvListen) return parse_listen(std::string(value), config.listen);
  if (name == kEnvDb) return find_setting(settings, "store", "path").binding.assign(value);
  if (name == kEnvCorsOrigins) {
    return parse_comma_list(value, kOriginExpectation, check_origin, config.cors.allowed_origins);
  }
  if (name == kEnvTrustedProxies) {
    return parse_comma_list(value, kNetworkExpectation, check_network,
                            config.http.trusted_proxies);
  }
  if (name == kEnvApiKeys) {
    return Status::invalid_argument("API keys can be set only in the config file (auth.api_keys)");
  }
  for (const Setting& setting : settings) {
    if (env_name(setting.section, setting.key) == name) return setting.binding.assign(value);
  }
  if (std::optional<Status> secret = apply_webhook_secret(name, value, config.webhooks)) {
    return *secret;
  }
  return unknown_variable(name, settings);
}

// A shortcut and the specific variable it stands for must not both be set.
void report_env_conflicts(const std::map<std::string, std::string>& env, Diagnostics& diag) {
  const std::array<std::pair<std::string_view, std::string>, 3> kPairs = {{
      {kEnvListen, env_name("listen", "address")},
      {kEnvListen, env_name("listen", "port")},
      {kEnvDb, env_name("store", "path")},
  }};
  for (const auto& [shortcut, specific] : kPairs) {
    if (env.contains(std::string(shortcut)) && env.contains(specific)) {
      diag.add(std::string(shortcut) + ": conflicts with " + specific + "; set only one");
    }
  }
}

void apply_environment(const std::map<std::string, std::string>& env, ServerConfig& config,
                       Diagnostics& diag) {
  std::vector<Setting> settings = scalar_settings(config);
  for (const auto& [name, value] : env) {
    if (!name.starts_with(kEnvPrefix)) continue;
    Status status = apply_env_variable(name, value, settings, config);
    if (!status.is_ok()) diag.add(name + ": " + status.message());
  }
  report_env_conflicts(env, diag);
}

// ---- Flags --------------------------------------------------------------------------------

void report_flag(std::string_view flag, const Status& status, Diagnostics& diag) {
  if (!status.is_ok()) diag.add(std::string(flag) + ": " + status.message());
}

void apply_flags(const FlagOverrides& flags, ServerConfig& config, Diagnostics& diag) {
  std::vector<Setting> settings = scalar_settings(config);
  if (flags.listen) report_flag("--listen", parse_listen(*flags.listen, config.listen), diag);
  if (flags.db) {
    report_flag("--db", find_setting(settings, "store", "path").binding.assign(*flags.db), diag);
  }
  if (flags.log_format) {
    const Setting& format = find_setting(settings, "log", "format");
    report_flag("--log-format", format.binding.assign(*flags.log_format), diag);
  }
  if (flags.log_level) {
    const Setting& level = find_setting(settings, "log", "level");
    report_flag("--log-level", level.binding.assign(*flags.log_level), diag);
  }
}

// Settings that are fine alone but not together.
void check_combinations(const ServerConfig& config, Diagnostics& diag) {
  // An offer frame carries the snapshot: with its other parts it must fit the agent's send
  // queue, or the agent would be cut off as a client that does not read.
  if (config.snapshot.max_bytes > config.websocket.max_queued_bytes / 2) {
    diag.add(diag.file() + ": snapshot.max_bytes (" + std::to_string(config.snapshot.max_bytes) +
             ") must be at most half of websocket.max_queued_bytes (" +
             std::to_string(config.websocket.max_queued_bytes) +
             "), so that an offer fits an agent's send queue");
  }
}

// A relative web.root (from any source) names a directory beside the config file's.
void resolve_web_root(const std::string& config_path, WebConfig& web) {
  const std::filesystem::path root(web.root);
  if (root.empty() || root.is_absolute()) return;
  web.root = (std::filesystem::path(config_path).parent_path() / root).lexically_normal().string();
}

}  // namespace

Result<ServerConfig> load_server_config(const std::string& path,
                                        const std::map<std::string, std::string>& env,
                                        const FlagOverrides& flags) {
  ServerConfig config;
  config.source_path = path;
  Diagnostics diag(path);

  if (std::optional<YAML::Node> root = load_yaml_file(path, diag)) {
    const std::string config_dir = std::filesystem::path(path).parent_path().string();
    read_file_settings(*root, config_dir, env, config, diag);
  }
  apply_environment(env, config, diag);
  apply_flags(flags, config, diag);
  if (diag.empty()) check_combinations(config, diag);
  resolve_web_root(path, config.web);

  if (!diag.empty()) return diag.to_status();
  return config;
}

Status parse_listen(const std::string& text, ListenConfig& out) {
  HostPort parts;
  std::string_view problem = split_host_port(text, parts);
  if (problem.empty()) problem = host_problem(parts.host);
  if (problem.empty() && parts.bracketed && parts.host.find(':') == std::string_view::npos) {
    problem = "brackets are only for IPv6 addresses";
  }
  if (problem.empty() && (!parts.port || parts.port->empty())) problem = "the port is missing";
  if (!problem.empty()) return rejected(kListenExpectation, text, problem);

  Result<std::int64_t> port = parse_integer(*parts.port, 0, 65535);
  if (!port) {
    return rejected(kListenExpectation, text, "the port must be an integer from 0 to 65535");
  }
  out.address = std::string(parts.host);
  out.port = static_cast<std::uint16_t>(*port);
  return Status::ok();
}

std::map<std::string, std::string> handover_environment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::size_t equals = text.find('=');
    if (!text.starts_with(kEnvPrefix) || equals == std::string_view::npos) continue;
    out.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return out;
}

}  // namespace handover::config

// Reads the bot connectors per channel and the outbound webhook receivers.
#include "integrations_config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <set>

#include "handover/util/crypto.hpp"
#include "handover/util/url.hpp"

namespace handover::config {
namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::size_t kMinSecretBytes = 24;
constexpr std::size_t kMaxSecretBytes = 64;
constexpr std::string_view kSecretVariablePrefix = "HANDOVER_WEBHOOKS_";
constexpr std::string_view kSecretVariableSuffix = "_SECRET";
constexpr char kDefaultBotFile[] = "demo-bot.yaml";

constexpr char kChannelExpectation[] =
    "a channel name of at most 64 letters, digits, '-', '_', '.' or ':'";
constexpr char kWebhookNameExpectation[] =
    "a name of at most 64 lower-case letters, digits or '_'";
constexpr char kUrlExpectation[] = "an http:// URL such as http://127.0.0.1:5005/webhook";
constexpr char kSecretExpectation[] =
    "'whsec_' followed by the base64 of 24 to 64 random bytes (see docs/webhooks.md)";

// The public event types a webhook may subscribe to (docs/webhooks.md).
constexpr std::array<std::string_view, 11> kEventTypes = {
    "turn.created",        "handover.requested", "handover.accepted",  "handover.transferred",
    "handover.requeued",   "handover.returned",  "handover.resolved",  "handover.cancelled",
    "handover.no_agent",   "handover.wait_limit", "handover.rated",
};

Status check_channel(std::string_view name) {
  const bool ok = name.size() <= kMaxNameLength &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) {
                    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == ':';
                  });
  return ok ? Status::ok() : expected_got(kChannelExpectation, quote_for_message(name));
}

Status check_webhook_name(std::string_view name) {
  const bool ok = name.size() <= kMaxNameLength &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                  });
  return ok ? Status::ok() : expected_got(kWebhookNameExpectation, quote_for_message(name));
}

Status check_url(std::string_view text) {
  Result<url::HttpUrl> parsed = url::parse_http_url(text);
  if (parsed) return Status::ok();
  return expected_got(kUrlExpectation, quote_for_message(text) + ": " + parsed.status().message());
}

Status check_event_type(std::string_view type) {
  if (std::find(kEventTypes.begin(), kEventTypes.end(), type) != kEventTypes.end()) {
    return Status::ok();
  }
  std::vector<std::string> known(kEventTypes.begin(), kEventTypes.end());
  std::string got = quote_for_message(type);
  if (std::optional<std::string> close = closest_match(type, known)) {
    got += " (did you mean " + *close + "?)";
  }
  return expected_got("an event type such as handover.requested or turn.created", got);
}

// ---- Connectors ---------------------------------------------------------------------------

void read_connector_fields(MapReader& reader, ConnectorConfig& c) {
  reader.read("type", enum_binding(c.type, {"builtin", "webhook", "none"}));
  reader.read("file", string_binding(c.file, "a file path"));
  reader.read("url", string_binding(c.url, kUrlExpectation, check_url));
  reader.read("format", enum_binding(c.format, {"handover", "rasa"}));
  reader.read("timeout_ms", integer_binding(c.timeout_ms, 100, 60'000));
  reader.read("retries", integer_binding(c.retries, 0, 10));
  reader.read("retry_backoff_ms", integer_binding(c.retry_backoff_ms, 10, 60'000));
}

// Fields that only make sense for one type must not appear with another.
void check_connector_type(const YAML::Node& item, const std::string& path,
                          const ConnectorConfig& c, Diagnostics& diag) {
  const bool webhook = c.type == "webhook";
  if (webhook && c.url.empty() && !item["url"]) {
    diag.add_at(item.Mark(), "a webhook connector needs 'url'", path);
  }
  if (!webhook && item["url"]) {
    diag.add_at(item["url"].Mark(), "'url' is only for type webhook", path + ".url");
  }
  if (c.type != "builtin" && item["file"]) {
    diag.add_at(item["file"].Mark(), "'file' is only for type builtin", path + ".file");
  }
  for (const char* key : {"format", "timeout_ms", "retries", "retry_backoff_ms"}) {
    if (!webhook && item[key]) {
      diag.add_at(item[key].Mark(), "'" + std::string(key) + "' is only for type webhook",
                  path + "." + key);
    }
  }
}

std::string resolve_file(const std::string& file, const std::string& config_dir) {
  const std::filesystem::path path(file.empty() ? kDefaultBotFile : file);
  if (path.is_absolute() || config_dir.empty()) return path.string();
  return (std::filesystem::path(config_dir) / path).string();
}

}  // namespace

void read_connectors(const YAML::Node& node, const YAML::Mark& mark, const std::string& config_dir,
                     std::vector<ConnectorConfig>& out, Diagnostics& diag) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    diag.add_at(mark, "expected a mapping of channel name to connector", "connectors");
    return;
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    ConnectorConfig c;
    const std::string name = key.IsScalar() ? key.Scalar() : std::string();
    const std::string path = "connectors." + name;
    if (!read_scalar(key, key.Mark(), "connectors",
                     string_binding(c.channel, kChannelExpectation, check_channel), diag)) {
      continue;
    }
    if (!seen.insert(c.channel).second) {
      diag.add_at(key.Mark(), "channel '" + c.channel + "' is configured twice", path);
      continue;
    }
    MapReader reader(entry.second, key.Mark(), path, diag);
    read_connector_fields(reader, c);
    reader.finish();
    if (entry.second.IsMap()) check_connector_type(entry.second, path, c, diag);
    if (c.type == "builtin") c.file = resolve_file(c.file, config_dir);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const ConnectorConfig& a, const ConnectorConfig& b) {
    return a.channel < b.channel;
  });
}

// ---- Webhooks -----------------------------------------------------------------------------

Status check_webhook_secret(std::string_view secret) {
  if (!secret.starts_with(kSecretPrefix)) return expected_got(kSecretExpectation, "another prefix");
  std::optional<std::string> bytes = crypto::base64_decode(secret.substr(kSecretPrefix.size()));
  if (!bytes) return expected_got(kSecretExpectation, "text after 'whsec_' that is not base64");
  if (bytes->size() < kMinSecretBytes || bytes->size() > kMaxSecretBytes) {
    return expected_got(kSecretExpectation, std::to_string(bytes->size()) + " bytes");
  }
  return Status::ok();
}

std::string webhook_secret_variable(std::string_view name) {
  std::string variable = std::string(kSecretVariablePrefix);
  for (char c : name) {
    variable.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return variable + std::string(kSecretVariableSuffix);
}

namespace {

void read_events(MapReader& reader, WebhookConfig& w, Diagnostics& diag) {
  std::optional<YAML::Node> node = reader.take_required("events");
  if (!node) return;
  std::optional<std::vector<std::string>> events = read_string_list(
      *node, reader.path_of("events"), "an event type", check_event_type, diag);
  if (!events) return;
  if (events->empty()) {
    diag.add_at(reader.key_mark("events"), "expected at least one event type",
                reader.path_of("events"));
    return;
  }
  std::sort(events->begin(), events->end());
  events->erase(std::unique(events->begin(), events->end()), events->end());
  w.events = std::move(*events);
}

void read_webhook(const YAML::Node& item, const std::string& path,
                  const std::map<std::string, std::string>& env, WebhookConfig& w,
                  Diagnostics& diag) {
  MapReader reader(item, item.Mark(), path, diag);
  reader.read_required("name",
                       string_binding(w.name, kWebhookNameExpectation, check_webhook_name));
  reader.read_required("url", string_binding(w.url, kUrlExpectation, check_url));
  const bool from_env = !w.name.empty() && env.contains(webhook_secret_variable(w.name));
  if (from_env) {
    reader.read("secret", string_binding(w.secret, kSecretExpectation, check_webhook_secret));
  } else {
    reader.read_required("secret",
                         string_binding(w.secret, kSecretExpectation, check_webhook_secret));
  }
  read_events(reader, w, diag);
  reader.read("max_attempts", integer_binding(w.max_attempts, 1, 100));
  reader.read("timeout_ms", integer_binding(w.timeout_ms, 100, 60'000));
  reader.read("initial_backoff_ms", integer_binding(w.initial_backoff_ms, 10, 3'600'000));
  reader.read("max_backoff_ms", integer_binding(w.max_backoff_ms, 10, 86'400'000));
  reader.finish();
  if (w.max_backoff_ms < w.initial_backoff_ms) {
    diag.add_at(item.Mark(), "max_backoff_ms must not be below initial_backoff_ms", path);
  }
}

}  // namespace

void read_webhooks(const YAML::Node& node, const std::map<std::string, std::string>& env,
                   std::vector<WebhookConfig>& out, Diagnostics& diag) {
  std::map<std::string, int> names;  // name -> line of its first use
  auto read_item = [&](const YAML::Node& item, const std::string& path) {
    WebhookConfig w;
    read_webhook(item, path, env, w, diag);
    if (w.name.empty()) return;
    auto [first, is_new] = names.emplace(w.name, item.Mark().line + 1);
    if (!is_new) {
      diag.add_at(item["name"].Mark(),
                  "duplicate webhook name, first used at line " + std::to_string(first->second),
                  path + ".name");
      return;
    }
    out.push_back(std::move(w));
  };
  for_each_item(node, "webhooks", diag, read_item);
}

std::optional<Status> apply_webhook_secret(std::string_view variable, std::string_view value,
                                           std::vector<WebhookConfig>& webhooks) {
  if (!variable.starts_with(kSecretVariablePrefix) || !variable.ends_with(kSecretVariableSuffix) ||
      variable.size() <= kSecretVariablePrefix.size() + kSecretVariableSuffix.size()) {
    return std::nullopt;
  }
  for (WebhookConfig& w : webhooks) {
    if (webhook_secret_variable(w.name) != variable) continue;
    if (Status s = check_webhook_secret(value); !s.is_ok()) return s;
    w.secret = std::string(value);
    return Status::ok();
  }
  return Status::invalid_argument("no webhook in the config file has this name");
}

}  // namespace handover::config

// The `connectors:` and `webhooks:` sections of the server configuration: bots per channel
// and outbound webhook receivers. Private to the config loader.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handover/config/server_config.hpp"
#include "yaml_util.hpp"

namespace handover::config {

// Reads `connectors:`, a mapping of channel name to connector, into `out` (sorted by
// channel). Relative builtin files are resolved against `config_dir`; a builtin connector
// without a file gets `config_dir`/demo-bot.yaml. Problems go to `diag`.
void read_connectors(const YAML::Node& node, const YAML::Mark& mark, const std::string& config_dir,
                     std::vector<ConnectorConfig>& out, Diagnostics& diag);

// Reads `webhooks:`, a list of receivers. An endpoint may leave out `secret` only when `env`
// holds its HANDOVER_WEBHOOKS_<NAME>_SECRET variable.
void read_webhooks(const YAML::Node& node, const std::map<std::string, std::string>& env,
                   std::vector<WebhookConfig>& out, Diagnostics& diag);

// The variable that holds the secret of the webhook named `name`.
std::string webhook_secret_variable(std::string_view name);

// Applies HANDOVER_WEBHOOKS_<NAME>_SECRET to the webhook it names. Returns nullopt when
// `variable` does not have that shape (some other setting), else the outcome: OK, or
// InvalidArgument for an unknown webhook or a malformed secret.
std::optional<Status> apply_webhook_secret(std::string_view variable, std::string_view value,
                                           std::vector<WebhookConfig>& webhooks);

// OK for "whsec_" followed by the standard base64 of 24 to 64 bytes; otherwise says what is
// wrong without echoing the value.
Status check_webhook_secret(std::string_view secret);

}  // namespace handover::config

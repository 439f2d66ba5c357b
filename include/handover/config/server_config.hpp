// Typed server configuration: defaults, then config/server.yaml, then HANDOVER_* environment
// variables, then command-line flags. One function parses and validates it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "handover/util/status.hpp"

namespace handover::config {

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port (tests)

  bool operator==(const ListenConfig&) const = default;
};

struct HttpConfig {
  int threads = 1;                     // network threads
  std::size_t max_connections = 10000;
  std::size_t header_limit = 8192;     // bytes of request line + headers; over it: 431
  std::size_t body_limit = 65536;      // bytes; over it: 413
  int read_timeout_ms = 10000;         // to receive a whole request once it has started
  int idle_timeout_ms = 60000;         // keep-alive connection with no request
  int shutdown_grace_ms = 10000;       // in-flight requests get this long on SIGTERM
  // Networks ("10.0.0.0/8", "::1/128", or one address) of reverse proxies whose
  // X-Forwarded-For names the client; empty: the socket peer is the client.
  std::vector<std::string> trusted_proxies;

  bool operator==(const HttpConfig&) const = default;
};

// The agent WebSocket (/v1/agents/ws).
struct WebSocketConfig {
  int ping_interval_ms = 15000;          // ping a peer that was silent this long
  int pong_timeout_ms = 10000;           // no answer in time: the peer is dead, close
  std::size_t max_message_bytes = 65536;  // larger incoming messages close with 1009
  std::size_t max_queued_messages = 1024;  // a client that does not read is cut off past this
  std::size_t max_queued_bytes = 8u << 20;  // ... or past this many queued bytes

  bool operator==(const WebSocketConfig&) const = default;
};

struct StoreConfig {
  std::string path = "data/handover.db";
  std::string synchronous = "full";    // "full" or "normal"
  int read_connections = 4;
  std::size_t max_batch = 512;

  bool operator==(const StoreConfig&) const = default;
};

struct ApiKeyConfig {
  std::string name;                    // shown in logs, never the key itself
  std::string sha256;                  // lower-case hex SHA-256 of the key
  std::vector<std::string> scopes;     // see docs/api.md: "bot", "widget", "read", "admin"

  bool operator==(const ApiKeyConfig&) const = default;
};

struct AuthConfig {
  std::vector<ApiKeyConfig> api_keys;

  bool operator==(const AuthConfig&) const = default;
};

struct CorsConfig {
  std::vector<std::string> allowed_origins;  // exact origins, or "*" for any
  int max_age_s = 600;

  bool operator==(const CorsConfig&) const = default;
};

struct LimitsConfig {
  std::size_t max_text_bytes = 8192;
  std::size_t max_metadata_bytes = 16384;  // serialised size of metadata/customer/bot/actions
  std::size_t max_actions = 50;
  std::size_t max_page = 500;              // largest ?limit= for listing turns

  bool operator==(const LimitsConfig&) const = default;
};

// The context snapshot frozen at escalation (docs/snapshot.schema.json).
struct SnapshotConfig {
  std::size_t max_bytes = 65536;  // serialised history; older turns are left out beyond it
  std::size_t max_turns = 200;    // newest turns taken in; the first user turn comes on top

  bool operator==(const SnapshotConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, off
  std::string format = "text";  // "text" or "json"
  bool access_log = true;

  bool operator==(const LogConfig&) const = default;
};

// The browser pages the server serves from a directory: the agent console (/console/) and the
// demo chat widget (/widget/).
struct WebConfig {
  bool enabled = true;
  // The directory holding console/ and widget/. A relative path is resolved against the
  // directory of the config file, so the default finds web/ beside config/ in the repository.
  std::string root = "../web";
  // Origins that may show /widget/ in a frame ("*" for any); empty: only the server's own.
  std::vector<std::string> frame_ancestors;

  bool operator==(const WebConfig&) const = default;
};

// The bot answering one channel's conversations (docs/connectors.md).
struct ConnectorConfig {
  std::string channel;              // the conversations' "channel"
  std::string type = "none";        // "builtin", "webhook" or "none"
  std::string file;                 // builtin: FAQ file, resolved against the config's directory
  std::string url;                  // webhook: http:// URL of the bot
  std::string format = "handover";  // webhook: "handover" or "rasa"
  int timeout_ms = 5000;            // webhook: per attempt, connect included
  int retries = 2;                  // webhook: more attempts after a network error or 5xx
  int retry_backoff_ms = 500;       // webhook: pause before the first retry; doubles

  bool operator==(const ConnectorConfig&) const = default;
};

// One receiver of outbound webhooks (docs/webhooks.md).
struct WebhookConfig {
  std::string name;                 // unique; names the delivery cursor and the secret's variable
  std::string url;                  // http:// URL events are POSTed to
  std::string secret;               // "whsec_" + base64 of 24 to 64 random bytes
  std::vector<std::string> events;  // event types to send
  int max_attempts = 8;             // deliveries of one event before it is given up
  int timeout_ms = 5000;            // per attempt, connect included
  int initial_backoff_ms = 1000;    // pause before the first retry; doubles, with jitter
  int max_backoff_ms = 300000;      // longest pause between attempts

  bool operator==(const WebhookConfig&) const = default;
};

// The whole configuration. The allowed range of each value is documented beside its key in
// config/server.yaml; load_server_config() enforces them.
struct ServerConfig {
  ListenConfig listen;
  HttpConfig http;
  WebSocketConfig websocket;
  StoreConfig store;
  AuthConfig auth;
  CorsConfig cors;
  LimitsConfig limits;
  SnapshotConfig snapshot;
  LogConfig log;
  WebConfig web;
  std::vector<ConnectorConfig> connectors;  // by channel, sorted by channel name
  std::vector<WebhookConfig> webhooks;      // in file order
  std::string source_path;  // the file this came from, for messages

  bool operator==(const ServerConfig&) const = default;
};

// Values given on the command line; each one set wins over file and environment. They are
// validated like file values; problems are reported under the flag names shown.
struct FlagOverrides {
  std::optional<std::string> listen;      // --listen: "host:port", "[::1]:port"
  std::optional<std::string> db;          // --db: store.path
  std::optional<std::string> log_format;  // --log-format: log.format
  std::optional<std::string> log_level;   // --log-level: log.level
};

// Loads `path`, applies `env` and `flags`, and validates the result. Returns the config, with
// `source_path` set to `path`; an empty file (or one with only comments) gives the defaults.
//
// `env` holds HANDOVER_<SECTION>_<KEY> variables (upper case, e.g. HANDOVER_HTTP_BODY_LIMIT),
// plus the shortcuts HANDOVER_LISTEN ("host:port") and HANDOVER_DB (store.path);
// HANDOVER_CORS_ALLOWED_ORIGINS and HANDOVER_HTTP_TRUSTED_PROXIES are comma-separated; API
// keys come only from the file; HANDOVER_WEBHOOKS_<NAME>_SECRET sets the secret of the webhook
// named <name>. Entries
// without the HANDOVER_ prefix are ignored. Every HANDOVER_* entry must name a setting: there
// is no allow-list, so an unknown name (a typo) is an error, and so is setting a shortcut
// together with the variable it stands for.
//
// On failure the Status is InvalidArgument and its message lists every problem found, one per
// line: "file:line:column: what is wrong (key 'http.body_limit')" for the file (sorted by
// position; "file: ..." when the file is missing or unreadable), then "HANDOVER_X: ..." and
// "--flag: ..." lines. Pure apart from reading `path`; any thread may call it.
Result<ServerConfig> load_server_config(const std::string& path,
                                        const std::map<std::string, std::string>& env,
                                        const FlagOverrides& flags);

// Parses "host:port", "[v6]:port" or "name:port" (port 0..65535) into `out`, storing the host
// without brackets. InvalidArgument on anything else (missing or bad port, empty host, IPv6
// without brackets), leaving `out` untouched.
Status parse_listen(const std::string& text, ListenConfig& out);

// The HANDOVER_* entries of the process environment, by name. Reads `environ`, so it must not
// run while another thread calls setenv() or putenv().
std::map<std::string, std::string> handover_environment();

}  // namespace handover::config

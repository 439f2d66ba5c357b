// handover-server: loads the configuration, opens the store and serves the API until
// SIGINT or SIGTERM, then shuts down gracefully.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "handover/agents/agent_service.hpp"
#include "handover/api/api.hpp"
#include "handover/config/server_config.hpp"
#include "handover/connector/connector.hpp"
#include "handover/connector/faq_bot.hpp"
#include "handover/feed/feed.hpp"
#include "handover/http/client.hpp"
#include "handover/http/server.hpp"
#include "handover/logging/log.hpp"
#include "handover/messages/catalog.hpp"
#include "handover/messages/narrator.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/privacy/masker.hpp"
#include "handover/privacy/privacy_config.hpp"
#include "handover/privacy/retention.hpp"
#include "handover/routing/routing_config.hpp"
#include "handover/store/store.hpp"
#include "handover/triggers/rule_set.hpp"
#include "handover/triggers/rule_set_holder.hpp"
#include "handover/triggers/trigger_service.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/ip_network.hpp"
#include "handover/util/open_file_limit.hpp"
#include "handover/util/thread_name.hpp"
#include "handover/webhooks/webhooks.hpp"
#include "shutdown_watch.hpp"

#ifndef HANDOVER_VERSION
#define HANDOVER_VERSION "0.0.0"
#endif

#ifdef HANDOVER_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace {

using namespace handover;

// Exit statuses, the same for a start and for --check-config (documented in --help and the
// README): a supervisor can restart on 1 but should not on 2, which no retry will fix.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // a runtime failure: the store, the listen socket
constexpr int kExitConfig = 2;   // a bad flag, setting, environment variable or config file

// What the stop after the network threads (services, the store's last commits and its final
// checkpoint) may take beyond http.shutdown_grace_ms. A healthy store stops in milliseconds;
// one that waits for a lock another process holds would wait out SQLite's busy timeout for
// each write and the checkpoint, while a supervisor's kill is coming.
constexpr std::chrono::milliseconds kStopAllowance{3000};

// Past the deadline: say what the stop was stuck in, and end the process as a crash would.
// Nothing acknowledged is lost (answers follow commits) and SQLite recovers from its WAL at the
// next start; writes still queued and the final checkpoint are given up.
[[noreturn]] void give_up_stopping(const std::string& step, std::chrono::milliseconds waited) {
  spdlog::error("shutdown: gave up after {} ms waiting for {}; exiting without a clean stop "
                "(writes not yet committed are dropped, the database recovers at the next start)",
                waited.count(), step);
  spdlog::default_logger()->flush();
  std::_Exit(kExitFailure);
}

// The malloc this process really runs, for handover_build_info: "jemalloc <version>" when
// jemalloc answers, else "system".
std::string allocator_name() {
#ifdef HANDOVER_WITH_JEMALLOC
  const char* version = nullptr;
  std::size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    return std::string("jemalloc ") + version;
  }
#endif
  return "system";
}

struct Options {
  std::string config_path = "config/server.yaml";
  std::string routing_path;  // empty: routing.yaml next to the server config
  std::string rules_path;    // empty: triggers.yaml next to the server config
  std::string privacy_path;  // empty: privacy.yaml next to the server config, if it exists
  std::string messages_path;  // empty: messages.yaml next to the server config, if it exists
  config::FlagOverrides flags;
  bool check_config = false;
  std::string port_file;  // written with the bound port once listening
};

void print_usage() {
  std::cout << "usage: handover-server [options]\n"
               "  --config PATH        configuration file (default config/server.yaml)\n"
               "  --routing PATH       routing queues (default: routing.yaml beside the config)\n"
               "  --rules PATH         trigger rules (default: triggers.yaml beside the config)\n"
               "  --privacy PATH       masking, retention and access rules (default:\n"
               "                       privacy.yaml beside the config; built-in defaults\n"
               "                       when that file does not exist)\n"
               "  --messages PATH      what the user is told (default: messages.yaml beside\n"
               "                       the config; built-in texts when it does not exist)\n"
               "  --listen HOST:PORT   listen address (overrides config and HANDOVER_LISTEN)\n"
               "  --db PATH            SQLite file (overrides store.path and HANDOVER_DB)\n"
               "  --log-format F       text or json\n"
               "  --log-level L        trace, debug, info, warn, error or off\n"
               "  --check-config       validate the configuration and exit 0 (valid) or 2\n"
               "  --port-file PATH     write the bound port to PATH once listening\n"
               "  --version            print the version and exit\n"
               "\n"
               "exit status:\n"
               "  0  stopped after SIGINT or SIGTERM, or --check-config found no problem\n"
               "  1  runtime failure: the store cannot be opened, the address cannot be bound\n"
               "  2  usage or configuration error: an unknown flag, a bad setting, environment\n"
               "     variable or config file (rules, routing, privacy, messages, FAQ)\n";
}

// Returns the exit code to stop with, or nullopt to go on.
std::optional<int> parse_args(int argc, char** argv, Options& out) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        std::cerr << "error: " << name << " needs a value\n";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--help" || arg == "-h") {
      print_usage();
      return kExitOk;
    } else if (arg == "--version") {
      std::cout << "handover-server " << HANDOVER_VERSION << "\n";
      return kExitOk;
    } else if (arg == "--check-config") {
      out.check_config = true;
      continue;
    } else if (arg == "--config") {
      if (!(v = value("--config"))) return kExitConfig;
      out.config_path = *v;
    } else if (arg == "--rules") {
      if (!(v = value("--rules"))) return kExitConfig;
      out.rules_path = *v;
    } else if (arg == "--privacy") {
      if (!(v = value("--privacy"))) return kExitConfig;
      out.privacy_path = *v;
    } else if (arg == "--messages") {
      if (!(v = value("--messages"))) return kExitConfig;
      out.messages_path = *v;
    } else if (arg == "--routing") {
      if (!(v = value("--routing"))) return kExitConfig;
      out.routing_path = *v;
    } else if (arg == "--listen") {
      if (!(v = value("--listen"))) return kExitConfig;
      out.flags.listen = *v;
    } else if (arg == "--db") {
      if (!(v = value("--db"))) return kExitConfig;
      out.flags.db = *v;
    } else if (arg == "--log-format") {
      if (!(v = value("--log-format"))) return kExitConfig;
      out.flags.log_format = *v;
    } else if (arg == "--log-level") {
      if (!(v = value("--log-level"))) return kExitConfig;
      out.flags.log_level = *v;
    } else if (arg == "--port-file") {
      if (!(v = value("--port-file"))) return kExitConfig;
      out.port_file = *v;
    } else {
      std::cerr << "error: unknown option '" << arg << "' (see --help)\n";
      return kExitConfig;
    }
  }
  return std::nullopt;
}

// Blocks SIGINT, SIGTERM and SIGHUP in every thread; a dedicated thread waits for them.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

// One log line per reload attempt, whether the watcher, SIGHUP or the admin API asked.
void log_rules_reload(const Result<triggers::ReloadOutcome>& reloaded) {
  if (!reloaded) {
    // One line per error: a log collector reads lines, and only the first of a multi-line
    // message would carry the time and level.
    const std::string& errors = reloaded.status().message();
    const auto count =
        1 + static_cast<std::size_t>(std::count(errors.begin(), errors.end(), '\n'));
    spdlog::error("trigger rules not reloaded, previous rules stay active: {} error{}", count,
                  count == 1 ? "" : "s");
    for (std::size_t begin = 0; begin <= errors.size();) {
      std::size_t end = errors.find('\n', begin);
      if (end == std::string::npos) end = errors.size();
      spdlog::error("trigger rules: {}", std::string_view(errors).substr(begin, end - begin));
      begin = end + 1;
    }
    return;
  }
  if (!reloaded->changed) {
    spdlog::debug("trigger rules reloaded, unchanged version={}", reloaded->hash);
    return;
  }
  spdlog::info("trigger rules reloaded version={} previous={}", reloaded->hash,
               reloaded->previous_hash);
  for (const std::string& warning : reloaded->warnings) spdlog::warn("trigger rules: {}", warning);
}

// Reloads, and whether the rules file as it is now would load: a failed last reload means the
// next start fails too (open() refuses bad rules), something to alert on before a restart.
void export_rules_metrics(metrics::Registry& registry, const triggers::RuleSetHolder& rules) {
  registry.callback_counter("handover_rules_reloads_total",
                            "Trigger rule reloads that succeeded (a new or unchanged version)",
                            [&rules] { return static_cast<double>(rules.status().reloads_ok); });
  registry.callback_counter(
      "handover_rules_reload_failures_total",
      "Trigger rule reloads refused; the previous rules stayed active",
      [&rules] { return static_cast<double>(rules.status().reloads_failed); });
  registry.callback_gauge(
      "handover_rules_reload_failing",
      "1 while the last reload of the trigger rules failed (the next start would fail too)",
      [&rules] { return rules.status().last_error ? 1.0 : 0.0; });
  registry.callback_gauge(
      "handover_rules_loaded_timestamp_seconds",
      "When the active trigger rule version was loaded, in seconds since the epoch",
      [&rules] { return static_cast<double>(rules.status().active.loaded_at_ms) / 1000.0; });
}

// Every queue the rules escalate to should exist in the routing config.
Status check_rule_queues(const triggers::RuleSet& rules, const routing::RoutingConfig& routing) {
  std::string errors;
  for (const auto& rule : rules.rules()) {
    if (rule.queue.empty() || routing.find_queue(rule.queue)) continue;
    errors += rule.queue_location + ": rule '" + rule.id + "': queue '" + rule.queue +
              "' is not defined in the routing configuration (routing.yaml is read at "
              "start-up only: a queue added to it since needs a restart)\n";
  }
  if (errors.empty()) return Status::ok();
  errors.pop_back();
  return Status::invalid_argument(errors);
}

Status check_rule_queues(const std::string& rules_path, const routing::RoutingConfig& routing) {
  auto rules = triggers::load_rule_set(rules_path, SystemClock::instance().now_ms());
  if (!rules) return rules.status();
  return check_rule_queues(**rules, routing);
}

// Every builtin connector's FAQ file must load.
Status check_bot_files(const config::ServerConfig& cfg) {
  std::string errors;
  for (const auto& c : cfg.connectors) {
    if (c.type != "builtin") continue;
    if (auto bot = connector::FaqBot::load(c.file); !bot) errors += bot.status().message() + "\n";
  }
  if (errors.empty()) return Status::ok();
  errors.pop_back();
  return Status::invalid_argument(errors);
}

bool write_port_file(const std::string& path, std::uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

http::ServerOptions server_options(const config::ServerConfig& c) {
  http::ServerOptions o;
  o.address = c.listen.address;
  o.port = c.listen.port;
  o.threads = c.http.threads;
  o.max_connections = c.http.max_connections;
  o.probe_paths = {"/livez", "/healthz", "/readyz"};
  o.header_limit = c.http.header_limit;
  o.body_limit = c.http.body_limit;
  o.read_timeout_ms = c.http.read_timeout_ms;
  o.idle_timeout_ms = c.http.idle_timeout_ms;
  for (const std::string& text : c.http.trusted_proxies) {
    // load_server_config() checked each one.
    o.trusted_proxies.push_back(ip::parse_network(text).value());
  }
  return o;
}

http::WebSocketOptions websocket_options(const config::WebSocketConfig& c) {
  http::WebSocketOptions o;
  o.ping_interval_ms = c.ping_interval_ms;
  o.pong_timeout_ms = c.pong_timeout_ms;
  o.max_message_bytes = c.max_message_bytes;
  o.max_queued_messages = c.max_queued_messages;
  o.max_queued_bytes = c.max_queued_bytes;
  return o;
}

// The privacy settings: the file named by --privacy (which must exist), else privacy.yaml
// beside the server config, else the built-in defaults (masking and retention are on).
Result<privacy::PrivacyConfig> load_privacy(Options& opts) {
  if (!opts.privacy_path.empty()) return privacy::load_privacy_config(opts.privacy_path);
  const auto beside = std::filesystem::path(opts.config_path).parent_path() / "privacy.yaml";
  std::error_code error;
  if (!std::filesystem::exists(beside, error)) return privacy::PrivacyConfig();
  opts.privacy_path = beside.string();
  return privacy::load_privacy_config(opts.privacy_path);
}

struct PrivacyParts {
  privacy::PrivacyConfig config;
  std::shared_ptr<const privacy::Masker> masker;
};

// The user-facing texts: the file named by --messages (which must exist), else messages.yaml
// beside the server config, else the texts built into the server.
Result<messages::Catalog> load_messages(Options& opts) {
  if (opts.messages_path.empty()) {
    const auto beside = std::filesystem::path(opts.config_path).parent_path() / "messages.yaml";
    std::error_code error;
    if (!std::filesystem::exists(beside, error)) return messages::Catalog::built_in();
    opts.messages_path = beside.string();
  }
  return messages::Catalog::load(opts.messages_path);
}

// The bot connectors and outbound webhooks, each fed by its own Hub subscription. Members
// are destroyed in reverse: the subscriptions end before the services go.
struct Integrations {
  std::unique_ptr<connector::ConnectorService> connectors;
  std::unique_ptr<webhooks::WebhookService> webhooks;
  feed::Hub::Subscription connector_feed;
  feed::Hub::Subscription webhook_feed;

  void stop() {
    connector_feed.reset();
    webhook_feed.reset();
    if (connectors) connectors->stop();
    if (webhooks) webhooks->stop();
  }
};

Result<std::unique_ptr<connector::ConnectorService>> start_connectors(
    const config::ServerConfig& cfg, store::Store& store, api::TurnPoster& poster,
    http::Client& client, metrics::Registry& registry, const messages::Catalog& catalog) {
  const bool any = std::any_of(cfg.connectors.begin(), cfg.connectors.end(),
                               [](const auto& c) { return c.type != "none"; });
  if (!any) return std::unique_ptr<connector::ConnectorService>();
  connector::ConnectorDeps deps{
      poster,
      [&store](const std::string& id) { return store.get_conversation(id); },
      registry,
      &client,
      [&catalog](std::string_view language) { return catalog.render("bot_unavailable", language); },
      cfg.limits.max_text_bytes};
  return connector::ConnectorService::create(cfg.connectors, std::move(deps));
}

Result<std::unique_ptr<Integrations>> start_integrations(
    const config::ServerConfig& cfg, store::Store& store, feed::Hub& feed, api::TurnPoster& poster,
    http::Client& client, metrics::Registry& registry, const messages::Catalog& catalog,
    std::shared_ptr<const privacy::Masker> masker) {
  auto out = std::make_unique<Integrations>();
  auto connectors = start_connectors(cfg, store, poster, client, registry, catalog);
  if (!connectors) return connectors.status();
  out->connectors = std::move(connectors).value();
  if (out->connectors) {
    auto* service = out->connectors.get();
    out->connector_feed =
        feed.subscribe("", [service](const feed::Event& e) { service->on_event(e); });
    for (const auto& channel : service->channels())
      spdlog::info("bot connector channel={}", channel);
  }
  if (cfg.webhooks.empty()) return out;

  webhooks::WebhookDeps deps{client, store, registry, SystemClock::instance(),
                             [&feed](std::int64_t after, std::size_t limit) {
                               return feed.history("", after, limit);
                             },
                             {},
                             [masker](nlohmann::json& data) {
                               masker->mask_json(data, privacy::Destination::kWebhook);
                             }};
  auto service = webhooks::WebhookService::create(cfg.webhooks, std::move(deps));
  if (!service) return service.status();
  out->webhooks = std::move(service).value();
  auto* hooks = out->webhooks.get();
  // Subscribed before start(), so nothing falls between the catch-up and the live events.
  out->webhook_feed = feed.subscribe("", [hooks](const feed::Event& e) { hooks->on_event(e); });
  if (Status s = hooks->start(); !s.is_ok()) {
    spdlog::error("webhooks: cannot read the delivery cursors: {}", s.message());
  }
  spdlog::info("webhooks endpoints={}", cfg.webhooks.size());
  return out;
}

// A bot question in flight when the process stopped has no answer; the user would wait for
// ever. Questions of the last ten minutes are asked again; older ones are left (the user has
// most likely gone).
void ask_unanswered_again(store::Store& store, connector::ConnectorService& connectors) {
  constexpr std::int64_t kAskAgainWithinMs = 10 * 60 * 1000;
  constexpr std::size_t kMaxQuestions = 10'000;
  const std::int64_t since = SystemClock::instance().now_ms() - kAskAgainWithinMs;
  auto unanswered = store.list_unanswered_user_turns(since, kMaxQuestions);
  if (!unanswered) {
    spdlog::error("cannot look for unanswered bot questions: {}",
                  unanswered.status().message());
    return;
  }
  if (const std::size_t asked = connectors.ask_again(*unanswered); asked > 0) {
    spdlog::info("unanswered bot questions asked again count={}", asked);
  }
}

// Raises the soft limit on open descriptors to the hard one, and warns when even that cannot
// hold http.max_connections beside what the store and the rest of the server keep open (each
// SQLite connection holds the database, its WAL and its shared memory).
void raise_open_file_limit(const config::ServerConfig& cfg) {
  constexpr std::uint64_t kOtherFiles = 128;  // logs, rule watcher, outbound HTTP, event loop
  auto limit = handover::raise_open_file_limit();
  if (!limit) {
    spdlog::warn("{}", limit.status().message());
    return;
  }
  spdlog::info("open file limit={} hard={} previous={}", limit->soft, limit->hard,
               limit->previous);
  // The readers, the writer and the checkpointer.
  const auto store_files = 3 * (static_cast<std::uint64_t>(cfg.store.read_connections) + 2);
  const std::uint64_t needed = cfg.http.max_connections + store_files + kOtherFiles;
  if (limit->soft < needed) {
    spdlog::warn("open file limit {} is below http.max_connections {} plus {} for the store and "
                 "the server: connections past the limit wait unaccepted; raise the hard limit "
                 "(LimitNOFILE=, ulimit -Hn) or lower http.max_connections",
                 limit->soft, cfg.http.max_connections, needed - cfg.http.max_connections);
  }
}

int serve(const config::ServerConfig& cfg, routing::RoutingConfig routing_cfg,
          const PrivacyParts& privacy_parts, const messages::Catalog& catalog, const Options& opts,
          const sigset_t& signals) {
  // A listen address that cannot be bound fails the start before the database is created.
  if (Status s = http::Server::check_can_listen(cfg.listen.address, cfg.listen.port);
      !s.is_ok()) {
    spdlog::error("{}", s.message());
    return kExitFailure;
  }
  raise_open_file_limit(cfg);
  store::StoreOptions so;
  so.path = cfg.store.path;
  so.synchronous = cfg.store.synchronous;
  so.read_connections = cfg.store.read_connections;
  so.max_batch = cfg.store.max_batch;
  auto opened = store::Store::open(so, SystemClock::instance());
  if (!opened) {
    spdlog::error("cannot open store {}: {}", cfg.store.path, opened.status().message());
    return kExitFailure;
  }
  auto store = std::move(opened).value();
  spdlog::info("store open path={} synchronous={}", cfg.store.path, cfg.store.synchronous);
  feed::Hub feed(*store);

  metrics::Registry registry;
  registry.gauge("handover_build_info", "Build metadata", {"version", "allocator"})
      .with({HANDOVER_VERSION, allocator_name()})
      .set(1);
  // Reloaded rules are checked against the queues as start-up checks the first ones.
  auto queues_for_rules = std::make_shared<const routing::RoutingConfig>(routing_cfg);
  agents::AgentService agents(*store, std::move(routing_cfg), SystemClock::instance(), registry);
  if (Status s = agents.start(); !s.is_ok()) {
    spdlog::error("cannot restore routing state: {}", s.message());
    store->close();
    return kExitFailure;
  }
  // The waiting user's place is not stored; it reaches event streams as it changes.
  agents.set_position_listener([&feed](const std::string& id, const agents::QueuePosition& at) {
    feed::Event event;
    event.type = feed::kQueuePosition;
    event.conversation_id = id;
    event.created_at_ms = SystemClock::instance().now_ms();
    event.data = {{"queue", at.queue},
                  {"position", at.position},
                  {"estimated_wait_s", at.estimated_wait_s < 0
                                           ? nlohmann::json(nullptr)
                                           : nlohmann::json(at.estimated_wait_s)}};
    feed.publish_transient(std::move(event));
  });
  triggers::TriggerServiceOptions trigger_options;
  trigger_options.rules_path = opts.rules_path;
  auto opened_triggers = triggers::TriggerService::open(trigger_options, SystemClock::instance());
  if (!opened_triggers) {
    spdlog::error("{}", opened_triggers.status().message());
    agents.stop();
    store->close();
    return kExitConfig;  // the rules file changed since it was checked
  }
  auto trigger_service = std::move(opened_triggers).value();
  // A reloaded rule naming a queue the routing configuration lacks is refused (the old rules
  // stay): its escalations would go to the default queue while the answers named the other.
  trigger_service->rules().set_reload_check([queues_for_rules](const triggers::RuleSet& rules) {
    return check_rule_queues(rules, *queues_for_rules);
  });
  trigger_service->rules().set_reload_listener(log_rules_reload);
  export_rules_metrics(registry, trigger_service->rules());
  spdlog::info("trigger rules loaded path={} version={}", opts.rules_path,
               trigger_service->rules().current()->version().hash);
  for (const std::string& warning : trigger_service->rules().current()->warnings())
    spdlog::warn("trigger rules: {}", warning);
  triggers::TriggerService* trigger_ptr = trigger_service.get();
  privacy::RetentionJob retention(
      *store, privacy_parts.config.retention, SystemClock::instance(), registry,
      [trigger_ptr](const privacy::RetentionReport& report) {
        for (const auto& id : report.deleted_conversations) trigger_ptr->forget(id);
      });
  if (!store->stats().incremental_vacuum) {
    spdlog::warn("the database was created without incremental auto_vacuum: deleted data frees "
                 "pages for reuse but the file does not shrink (see docs/privacy.md)");
  }
  retention.start();
  spdlog::info("privacy config={} patterns={} retention_interval_s={}",
               opts.privacy_path.empty() ? "built-in defaults" : opts.privacy_path,
               privacy_parts.config.patterns.size(), privacy_parts.config.retention.interval_s);
  api::ApiDeps deps{cfg, *store, registry, SystemClock::instance()};
  deps.agents = &agents;
  deps.triggers = trigger_service.get();
  deps.feed = &feed;
  deps.privacy = &privacy_parts.config;
  deps.masker = privacy_parts.masker;
  deps.retention = &retention;
  auto api = api::make_api(deps);
  http::Client outbound(1);
  auto integrations =
      start_integrations(cfg, *store, feed, api->turns(), outbound, registry, catalog,
                         privacy_parts.masker);
  if (!integrations) {
    spdlog::error("{}", integrations.status().message());
    agents.stop();
    store->close();
    return kExitFailure;
  }
  const privacy::PrivacyConfig& privacy_cfg = privacy_parts.config;
  messages::Narrator narrator(messages::NarratorDeps{
      api->turns(), *store, catalog, &agents,
      [&privacy_cfg](std::string_view language) { return privacy_cfg.handover_notice(language); },
      SystemClock::instance()});
  (void)narrator.start(feed);
  // An escalation that follows its turn's commit as a separate write is lost when the process
  // stops in between; the turn's stored decision still asks for it, so it is done now.
  if (auto resumed = api->resume_escalations(); !resumed) {
    spdlog::error("cannot look for unfinished escalations: {}", resumed.status().message());
  } else if (*resumed > 0) {
    spdlog::info("unfinished escalations resumed count={}", *resumed);
  }
  if (const auto& connectors = (*integrations)->connectors) {
    ask_unanswered_again(*store, *connectors);
  }
  auto telemetry = api::make_request_telemetry(registry, cfg.log.access_log);
  http::Server server(server_options(cfg), *api, telemetry.get());
  server.add_websocket("/v1/agents/ws", agents, websocket_options(cfg.websocket));
  if (Status s = server.listen(); !s.is_ok()) {
    spdlog::error("{}", s.message());
    narrator.stop();
    retention.stop();
    (*integrations)->stop();
    outbound.stop();
    agents.stop();
    store->close();
    return kExitFailure;
  }
  spdlog::info("listening address={} port={} threads={}", cfg.listen.address, server.port(),
               cfg.http.threads);
  if (!opts.port_file.empty() && !write_port_file(opts.port_file, server.port())) {
    spdlog::error("cannot write port file {}", opts.port_file);
  }

  // From the signal on, the whole stop is bounded: the waiter thread watches it.
  handover::server::ShutdownWatch watch("the requests in flight and the open connections to end");
  std::thread waiter([&] {
    set_thread_name("signals");
    int sig = 0;
    // SIGHUP reloads the trigger rules; SIGINT and SIGTERM drain and stop.
    while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading the trigger rules");
      // The holder's listener logs the outcome.
      (void)trigger_service->rules().reload();
    }
    spdlog::info("signal {} received: draining (grace {} ms)", sig, cfg.http.shutdown_grace_ms);
    server.shutdown(cfg.http.shutdown_grace_ms);
    watch.wait(std::chrono::milliseconds(cfg.http.shutdown_grace_ms) + kStopAllowance,
               give_up_stopping);
  });
  server.run();
  // run() also returns if the network threads stop on their own; release the waiter.
  pthread_kill(waiter.native_handle(), SIGTERM);

  watch.step("the narrator to stop");
  narrator.stop();
  watch.step("the retention job to stop");
  retention.stop();
  watch.step("the bot connectors and webhooks to stop");
  (*integrations)->stop();
  watch.step("the outbound HTTP client to stop");
  outbound.stop();
  watch.step("the API's background work to finish");
  api->stop();
  watch.step("the agent service to stop");
  agents.stop();
  watch.step("the store to commit its queued writes and checkpoint (is another process "
             "holding a lock on the database?)");
  store->close();
  watch.done();
  waiter.join();
  spdlog::info("store flushed; stopped");
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = block_shutdown_signals();
  Options opts;
  if (auto code = parse_args(argc, argv, opts)) return *code;

  auto cfg = config::load_server_config(opts.config_path, config::handover_environment(),
                                        opts.flags);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitConfig;
  }
  if (opts.routing_path.empty()) {
    const auto beside = std::filesystem::path(opts.config_path).parent_path() / "routing.yaml";
    opts.routing_path = beside.string();
  }
  if (opts.rules_path.empty()) {
    opts.rules_path =
        (std::filesystem::path(opts.config_path).parent_path() / "triggers.yaml").string();
  }
  auto routing_cfg = routing::load_routing_config(opts.routing_path);
  if (!routing_cfg) {
    std::cerr << routing_cfg.status().message() << "\n";
    return kExitConfig;
  }
  auto privacy_cfg = load_privacy(opts);
  if (!privacy_cfg) {
    std::cerr << privacy_cfg.status().message() << "\n";
    return kExitConfig;
  }
  auto masker = privacy::Masker::create(*privacy_cfg);
  if (!masker) {
    std::cerr << opts.privacy_path << ": " << masker.status().message() << "\n";
    return kExitConfig;
  }
  if (auto rules = triggers::load_rule_set(opts.rules_path, SystemClock::instance().now_ms());
      !rules) {
    std::cerr << rules.status().message() << "\n";
    return kExitConfig;
  }
  // A rule naming a queue the routing lacks still escalates (to the language's default
  // queue), so at start-up this is a warning; --check-config treats it as an error.
  const Status queues_checked = check_rule_queues(opts.rules_path, *routing_cfg);
  if (!queues_checked.is_ok() && opts.check_config) {
    std::cerr << queues_checked.message() << "\n";
    return kExitConfig;
  }
  if (Status s = check_bot_files(*cfg); !s.is_ok()) {
    std::cerr << s.message() << "\n";
    return kExitConfig;
  }
  auto catalog = load_messages(opts);
  if (!catalog) {
    std::cerr << catalog.status().message() << "\n";
    return kExitConfig;
  }
  if (opts.check_config) {
    std::cout << opts.config_path << ": configuration is valid\n";
    std::cout << (opts.privacy_path.empty() ? std::string("privacy (built-in defaults)")
                                            : opts.privacy_path)
              << ": privacy configuration is valid\n";
    for (const auto& c : cfg->connectors) {
      if (c.type == "builtin") std::cout << c.file << ": FAQ bot is valid\n";
    }
    std::cout << (opts.messages_path.empty() ? std::string("messages (built-in texts)")
                                             : opts.messages_path)
              << ": messages are valid\n";
    std::cout << opts.rules_path << ": trigger rules are valid\n";
    std::cout << opts.routing_path << ": routing configuration is valid\n";
    return kExitOk;
  }
  if (Status s = logging::configure(cfg->log.level, cfg->log.format); !s.is_ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return kExitConfig;
  }
  if (!queues_checked.is_ok()) spdlog::warn("{}", queues_checked.message());
  const PrivacyParts privacy_parts{std::move(privacy_cfg).value(), std::move(masker).value()};
  return serve(*cfg, std::move(routing_cfg).value(), privacy_parts, *catalog, opts, signals);
}

// handover-server: loads the configuration, opens the store and serves the API until
// SIGINT or SIGTERM, then shuts down gracefully.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "handover/api/api.hpp"
#include "handover/config/server_config.hpp"
#include "handover/http/server.hpp"
#include "handover/logging/log.hpp"
#include "handover/metrics/registry.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"

#ifndef HANDOVER_VERSION
#define HANDOVER_VERSION "0.0.0"
#endif

namespace {

using namespace handover;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string config_path = "config/server.yaml";
  config::FlagOverrides flags;
  bool check_config = false;
  std::string port_file;  // written with the bound port once listening
};

void print_usage() {
  std::cout << "usage: handover-server [options]\n"
               "  --config PATH        configuration file (default config/server.yaml)\n"
               "  --listen HOST:PORT   listen address (overrides config and HANDOVER_LISTEN)\n"
               "  --db PATH            SQLite file (overrides store.path and HANDOVER_DB)\n"
               "  --log-format F       text or json\n"
               "  --log-level L        trace, debug, info, warn, error or off\n"
               "  --check-config       validate the configuration and exit 0 (valid) or 1\n"
               "  --port-file PATH     write the bound port to PATH once listening\n"
               "  --version            print the version and exit\n";
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
      if (!(v = value("--config"))) return kExitUsage;
      out.config_path = *v;
    } else if (arg == "--listen") {
      if (!(v = value("--listen"))) return kExitUsage;
      out.flags.listen = *v;
    } else if (arg == "--db") {
      if (!(v = value("--db"))) return kExitUsage;
      out.flags.db = *v;
    } else if (arg == "--log-format") {
      if (!(v = value("--log-format"))) return kExitUsage;
      out.flags.log_format = *v;
    } else if (arg == "--log-level") {
      if (!(v = value("--log-level"))) return kExitUsage;
      out.flags.log_level = *v;
    } else if (arg == "--port-file") {
      if (!(v = value("--port-file"))) return kExitUsage;
      out.port_file = *v;
    } else {
      std::cerr << "error: unknown option '" << arg << "' (see --help)\n";
      return kExitUsage;
    }
  }
  return std::nullopt;
}

// Blocks SIGINT/SIGTERM in every thread; a dedicated thread waits for them.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
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
  o.header_limit = c.http.header_limit;
  o.body_limit = c.http.body_limit;
  o.read_timeout_ms = c.http.read_timeout_ms;
  o.idle_timeout_ms = c.http.idle_timeout_ms;
  return o;
}

int serve(const config::ServerConfig& cfg, const Options& opts, const sigset_t& signals) {
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

  metrics::Registry registry;
  registry.gauge("handover_build_info", "Build metadata", {"version"})
      .with({HANDOVER_VERSION})
      .set(1);
  auto api = api::make_api({cfg, *store, registry, SystemClock::instance()});
  auto telemetry = api::make_request_telemetry(registry, cfg.log.access_log);
  http::Server server(server_options(cfg), *api, telemetry.get());
  if (Status s = server.listen(); !s.is_ok()) {
    spdlog::error("{}", s.message());
    store->close();
    return kExitFailure;
  }
  spdlog::info("listening address={} port={} threads={}", cfg.listen.address, server.port(),
               cfg.http.threads);
  if (!opts.port_file.empty() && !write_port_file(opts.port_file, server.port())) {
    spdlog::error("cannot write port file {}", opts.port_file);
  }

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {} received: draining (grace {} ms)", sig, cfg.http.shutdown_grace_ms);
    server.shutdown(cfg.http.shutdown_grace_ms);
  });
  server.run();
  // run() also returns if the network threads stop on their own; release the waiter.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();

  store->close();
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
    return opts.check_config ? kExitFailure : kExitUsage;
  }
  if (opts.check_config) {
    std::cout << opts.config_path << ": configuration is valid\n";
    return kExitOk;
  }
  if (Status s = logging::configure(cfg->log.level, cfg->log.format); !s.is_ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return kExitUsage;
  }
  return serve(*cfg, opts, signals);
}

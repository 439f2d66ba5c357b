// Starts the real handover-server binary on an ephemeral loopback port for
// integration tests, with its own temporary config and database.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace handover::testing {

// Plaintext keys the generated config accepts.
inline constexpr const char* kBotKey = "test-bot-key";
inline constexpr const char* kWidgetKey = "test-widget-key";
inline constexpr const char* kReadKey = "test-read-key";
inline constexpr const char* kAdminKey = "test-admin-key";

// The routing.yaml written beside the generated config: queues for the agent tests, with the
// shortest offer timeouts the config allows.
inline constexpr const char* kTestRoutingYaml = R"(settings:
  decline_cooldown_s: 60
  reconnect_grace_s: 30
  requeue_priority_boost: 10
  position_update_interval_ms: 0
queues:
  - name: general
    offer_timeout_s: 5
    self_pick: true
  - name: support_de
    skills: [support]
    languages: [de]
    offer_timeout_s: 5
  - name: billing_en
    skills: [billing]
    languages: [en]
    offer_timeout_s: 5
  - name: urgent
    priority: 20
    offer_mode: broadcast
    broadcast_size: 3
    offer_timeout_s: 30
  - name: slow
    offer_timeout_s: 120
  - name: limited
    max_wait_s: 1
  - name: vip
    skills: [vip]
    offer_timeout_s: 5
    overflow:
      - after_s: 1
        move_to: general
)";

struct ServerSettings {
  std::string extra_yaml;             // appended to the generated config
  std::vector<std::string> env;       // "HANDOVER_X=y" entries added to the environment
  std::vector<std::string> args;      // extra command-line arguments
  std::string routing_yaml;           // replaces kTestRoutingYaml when not empty

  static ServerSettings yaml(std::string text) {
    ServerSettings s;
    s.extra_yaml = std::move(text);
    return s;
  }
  static ServerSettings with(std::vector<std::string> env, std::vector<std::string> args) {
    ServerSettings s;
    s.env = std::move(env);
    s.args = std::move(args);
    return s;
  }
};

class ServerProcess {
 public:
  // Creates a fresh temporary directory holding config and database.
  explicit ServerProcess(ServerSettings settings = {});
  ~ServerProcess();  // kills the server if it still runs and removes the directory

  // Starts the server and waits (bounded) until it listens. False on failure; the
  // server's stderr is then in log().
  bool start();
  // SIGTERM and wait; returns the exit status (or -1).
  int stop();
  // SIGTERM without waiting; wait() then collects the exit status.
  void terminate();
  int wait();
  // SIGKILL and wait.
  void kill9();

  std::uint16_t port() const { return port_; }
  // Settings used by the next start(); tests may change them before starting.
  ServerSettings& settings() { return settings_; }
  const std::string& dir() const { return dir_; }
  std::string db_path() const { return dir_ + "/handover.db"; }
  std::string config_path() const { return dir_ + "/server.yaml"; }
  std::string routing_path() const { return dir_ + "/routing.yaml"; }
  std::string log() const;  // everything the server wrote to stderr and stdout so far
  // Waits (bounded) until the log contains `text`; returns the log as last read.
  std::string wait_for_log(const std::string& text, int timeout_ms = 5000) const;

  static std::string binary();
  static std::string bearer(const std::string& secret) {
    return "Authorization: Bearer " + secret + "\r\n";
  }

 private:
  void write_config() const;

  ServerSettings settings_;
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  int starts_ = 0;
};

// Runs the server binary with `args` to completion; returns its exit code and output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run_server_binary(const std::vector<std::string>& args,
                            const std::vector<std::string>& env = {});

}  // namespace handover::testing

// Integration-test helper that runs handover-server as a child process.
#include "support/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "handover/util/crypto.hpp"

namespace handover::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr to `log_path`; returns the child pid.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string ServerProcess::binary() {
  return std::string(HANDOVER_BINARY_DIR) + "/handover-server";
}

ServerProcess::ServerProcess(ServerSettings settings) : settings_(std::move(settings)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "handover-it-XXXXXX").string();
  dir_ = ::mkdtemp(tmpl.data());
  write_config();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ServerProcess::write_config() const {
  std::ofstream out(config_path());
  out << "listen:\n  address: 127.0.0.1\n  port: 0\n"
      << "store:\n  path: " << db_path() << "\n"
      << "log:\n  level: info\n"
      << "cors:\n  allowed_origins: [\"http://widget.example\"]\n"
      << "auth:\n  api_keys:\n";
  const std::pair<const char*, const char*> keys[] = {
      {kBotKey, "[bot]"}, {kWidgetKey, "[widget]"}, {kReadKey, "[read]"}, {kAdminKey, "[admin]"}};
  int i = 0;
  for (const auto& [key, scopes] : keys) {
    out << "    - name: key" << i++ << "\n      sha256: " << crypto::sha256_hex(key)
        << "\n      scopes: " << scopes << "\n";
  }
  out << settings_.extra_yaml;
  std::ofstream(routing_path())
      << (settings_.routing_yaml.empty() ? kTestRoutingYaml : settings_.routing_yaml);
}

bool ServerProcess::start() {
  const std::string port_file = dir_ + "/port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {binary(), "--config", config_path(), "--port-file", port_file};
  args.insert(args.end(), settings_.args.begin(), settings_.args.end());
  // The shipped trigger rules, unless a test brings its own.
  if (std::find(args.begin(), args.end(), "--rules") == args.end()) {
    const std::string rules = std::string(HANDOVER_SOURCE_DIR) + "/config/triggers.yaml";
    args.insert(args.end(), {"--rules", rules});
  }
  pid_ = spawn(args, settings_.env, dir_ + "/server.log");
  ++starts_;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_file(port_file);
    if (!text.empty()) {
      port_ = static_cast<std::uint16_t>(std::stoi(text));
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int ServerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const int code = wait_exit(pid_);
  pid_ = -1;
  return code;
}

void ServerProcess::terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

int ServerProcess::wait() {
  if (pid_ <= 0) return -1;
  const int code = wait_exit(pid_);
  pid_ = -1;
  return code;
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_);
  pid_ = -1;
}

std::string ServerProcess::log() const { return read_file(dir_ + "/server.log"); }

std::string ServerProcess::wait_for_log(const std::string& text, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string current = log();
  while (current.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    current = log();
  }
  return current;
}

RunResult run_server_binary(const std::vector<std::string>& args,
                            const std::vector<std::string>& env) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "handover-run-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  std::vector<std::string> full = {ServerProcess::binary()};
  full.insert(full.end(), args.begin(), args.end());
  RunResult r;
  const pid_t pid = spawn(full, env, dir + "/out.log");
  r.exit_code = wait_exit(pid);
  r.output = read_file(dir + "/out.log");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

}  // namespace handover::testing

// handover-replay: replays conversations through trigger rules offline or through a running
// server, and exports a server's conversations and agent feedback for replay.
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "export.hpp"
#include "offline.hpp"
#include "options.hpp"
#include "server_replay.hpp"

#ifndef HANDOVER_VERSION
#define HANDOVER_VERSION "0.0.0"
#endif

namespace {

// This program's file, however it was started (a relative path, through PATH or a symlink).
std::filesystem::path executable_path(const char* argv0) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) return self;
  return std::filesystem::absolute(argv0, error);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace handover::replay;
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto options = parse_options(args);
  if (!options) {
    std::cerr << "handover-replay: " << options.status().message() << "\n" << usage_text();
    return 2;
  }
  if (options->help) {
    std::cout << usage_text();
    return 0;
  }
  if (options->version) {
    std::cout << "handover-replay " << HANDOVER_VERSION << "\n";
    return 0;
  }
  if (auto s = resolve_rules(*options, executable_path(argv[0])); !s.is_ok()) {
    std::cerr << "handover-replay: " << s.message() << "\n";
    return 1;
  }
  if (!options->export_db.empty() || !options->export_feedback.empty()) {
    return run_export(*options, std::cout, std::cerr);
  }
  if (!options->server.empty()) return run_server_replay(*options, std::cout, std::cerr);
  return run_offline(*options, std::cout, std::cerr);
}

// Serves web/console and web/widget: path checks, content types, ETag revalidation and the
// Content-Security-Policy of each page.
#include "static_files.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <utility>

#include "handover/util/crypto.hpp"

namespace handover::api {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxFileBytes = 4u << 20;  // the pages are far smaller; a guard only
constexpr std::size_t kEtagHexDigits = 32;

struct ContentType {
  std::string_view extension;
  std::string_view type;
};

constexpr std::array<ContentType, 10> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
}};

std::optional<std::string_view> content_type_of(const fs::path& path) {
  const std::string extension = path.extension().string();
  for (const auto& entry : kContentTypes) {
    if (entry.extension == extension) return entry.type;
  }
  return std::nullopt;
}

http::Response not_found() {
  return http::problem(404, "not-found", "Not found", "no such resource");
}

// A decoded path segment that may name a file: no traversal, no hidden files, no separators
// that arrived percent-encoded, no control characters.
bool safe_segment(const std::string& segment) {
  if (segment.empty() || segment.front() == '.') return false;
  return std::none_of(segment.begin(), segment.end(), [](char c) {
    return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// True when `path` is `dir` or lies inside it; both canonical.
bool inside(const fs::path& dir, const fs::path& path) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

std::optional<std::string> read_file(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error || size > kMaxFileBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out(static_cast<std::size_t>(size), '\0');
  in.read(out.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(in.gcount()) != size) return std::nullopt;
  return out;
}

// Whether an If-None-Match value ("*", or a list of entity tags, weak or strong) names `etag`.
bool etag_matches(std::string_view header, std::string_view etag) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t comma = std::min(header.find(',', pos), header.size());
    std::string_view item = header.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    pos = comma + 1;
  }
  return false;
}

// The Host header when it is a plain host[:port], for the WebSocket source of the console's
// policy; nullopt for anything that could smuggle policy syntax.
std::optional<std::string> plain_host(const http::Request& request) {
  const std::string* host = request.header("host");
  if (!host || host->empty() || host->size() > 255) return std::nullopt;
  const bool plain = std::all_of(host->begin(), host->end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
  if (!plain) return std::nullopt;
  return *host;
}

std::string path_of_target(const std::string& target) {
  return target.substr(0, std::min(target.find('?'), target.size()));
}

http::Response redirect(int status, std::string location) {
  http::Response r;
  r.status = status;
  r.set_header("Location", std::move(location));
  return r;
}

}  // namespace

StaticFiles::StaticFiles(const config::WebConfig& config) : config_(config) {
  if (!config_.enabled) return;
  std::error_code error;
  const fs::path root = fs::canonical(config_.root, error);
  if (error || !fs::is_directory(root, error)) {
    spdlog::warn("web pages not served: web.root {} is not a directory", config_.root);
    return;
  }
  root_ = root.string();
  spdlog::info("web pages served from {} at /console/ and /widget/", root_);
}

http::Response StaticFiles::home() const {
  if (root_.empty()) return not_found();
  return redirect(302, "/widget/");
}

http::Response StaticFiles::serve(const http::Request& request, std::string_view app,
                                  const std::vector<std::string>& tail) const {
  if (root_.empty()) return not_found();
  const std::string path = path_of_target(request.target);
  if (tail.empty() && !path.ends_with('/')) {
    const std::size_t query = request.target.find('?');
    return redirect(301, path + "/" +
                             (query == std::string::npos ? "" : request.target.substr(query)));
  }
  if (!std::all_of(tail.begin(), tail.end(), safe_segment)) return not_found();

  std::error_code error;
  const fs::path app_dir = fs::canonical(fs::path(root_) / std::string(app), error);
  if (error) return not_found();
  fs::path wanted = app_dir;
  for (const auto& segment : tail) wanted /= segment;
  if (tail.empty()) wanted /= "index.html";
  // Symlinks are followed, but only to files that stay inside the app's directory.
  const fs::path file = fs::canonical(wanted, error);
  if (error || !inside(app_dir, file) || !fs::is_regular_file(file, error)) return not_found();
  const std::optional<std::string_view> type = content_type_of(wanted);
  std::optional<std::string> body = type ? read_file(file) : std::nullopt;
  if (!body) return not_found();

  const std::string etag = "\"" + crypto::sha256_hex(*body).substr(0, kEtagHexDigits) + "\"";
  http::Response r;
  const std::string* if_none_match = request.header("if-none-match");
  if (if_none_match && etag_matches(*if_none_match, etag)) {
    r.status = 304;
  } else {
    r.content_type = std::string(*type);
    r.body = std::move(*body);
  }
  r.set_header("ETag", etag);
  // The files have no version in their names, so the browser asks again each time; the
  // ETag makes that a 304 when nothing changed.
  r.set_header("Cache-Control", "no-cache");
  return security_headers(std::move(r), request, app);
}

http::Response StaticFiles::security_headers(http::Response r, const http::Request& request,
                                             std::string_view app) const {
  std::string connect = "'self'";
  std::string ancestors = "'none'";
  if (app == "console") {
    // The agent socket: 'self' covers ws: only in newer browsers, so name it.
    if (std::optional<std::string> host = plain_host(request)) {
      connect += " ws://" + *host + " wss://" + *host;
    }
    r.set_header("X-Frame-Options", "DENY");
  } else {
    ancestors = "'self'";
    for (const auto& origin : config_.frame_ancestors) ancestors += " " + origin;
    if (config_.frame_ancestors.empty()) r.set_header("X-Frame-Options", "SAMEORIGIN");
  }
  r.set_header("Content-Security-Policy",
               "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src " + connect + "; frame-ancestors " + ancestors +
                   "; base-uri 'none'; form-action 'self'; object-src 'none'");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  return r;
}

}  // namespace handover::api

// The browser pages under web/ (the agent console and the demo chat widget): files read from
// the configured root with their content types, validators and security headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handover/config/server_config.hpp"
#include "handover/http/message.hpp"

namespace handover::api {

class StaticFiles {
 public:
  // Checks the root once and logs a warning when it cannot serve. `config` is copied.
  explicit StaticFiles(const config::WebConfig& config);

  // Answers GET or HEAD for the file `tail` of the page `app` ("console" or "widget"): 200
  // with the file, 304 when If-None-Match names its ETag, 301 from "/console" to "/console/",
  // 404 problem for anything that is not a regular file with a known type inside the app's
  // directory (names with "..", ".", hidden files, encoded slashes or backslashes, symlinks
  // leading out of the root, a disabled or missing root). Reads the file on the calling
  // thread; the pages are small. Thread-safe.
  http::Response serve(const http::Request& request, std::string_view app,
                       const std::vector<std::string>& tail) const;

  // GET /: a redirect to the widget, or 404 when the pages are off.
  http::Response home() const;

 private:
  http::Response security_headers(http::Response r, const http::Request& request,
                                  std::string_view app) const;

  config::WebConfig config_;
  std::string root_;  // canonical root; empty when the pages are not served
};

}  // namespace handover::api

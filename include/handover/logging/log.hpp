// Logging set-up (spdlog), structured log lines, and helpers that keep client data harmless in
// log lines.
#pragma once

#include <spdlog/common.h>

#include <concepts>
#include <memory>
#include <string>
#include <string_view>

#include "handover/util/status.hpp"

namespace spdlog::sinks {
class sink;
}

namespace handover::logging {

// Configures the default spdlog logger. `format` is "text" or "json" (one JSON object per
// line: ts, level, msg, and a Line's fields as keys of their own). `level` is
// trace|debug|info|warn|error|off. Lines go to `sink`, or to stderr when it is null. Lines
// written for a request carry its id (request_context.hpp). Call it before other threads log;
// calling it again replaces the loggers.
Status configure(std::string_view level, std::string_view format,
                 std::shared_ptr<spdlog::sinks::sink> sink = nullptr);

// Whether a line at `level` would be written; check it before building a costly Line.
bool enabled(spdlog::level::level_enum level);

// One log line of fields a collector can filter on: an event name, then fields in the order
// added. In text format it reads "event key=value key=value", values as given; in json format
// the event is "msg" and each field a key of the line's object, numbers as JSON numbers.
// Values are written as they are, so pass client text through sanitize() first. The format is
// the one configured when the Line is made. Lives on one thread; it allocates only for lines
// longer than a few hundred bytes.
class Line {
 public:
  explicit Line(std::string_view event);

  Line& field(std::string_view key, std::string_view value);
  Line& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  Line& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view(value));
  }
  template <std::integral T>
  Line& field(std::string_view key, T value) {
    begin_field(key);
    fmt::format_to(fmt::appender(out_), "{}", value);
    return *this;
  }
  // A number written with `decimals` digits after the point.
  Line& field(std::string_view key, double value, int decimals);

  // The rendered payload: the text line, or the JSON members after "level".
  std::string_view payload() const { return {out_.data(), out_.size()}; }
  bool json() const { return json_; }
  // Whether a "request_id" field was added, which the current request id then does not repeat.
  bool names_request() const { return names_request_; }

 private:
  void begin_field(std::string_view key);

  bool json_;
  bool names_request_ = false;
  fmt::memory_buffer out_;
};

// Writes `line` at `level` through the configured logger, if that level is enabled.
void write(spdlog::level::level_enum level, const Line& line);

// Makes client-supplied text safe for one log line: control characters (newlines
// included) become \n, \r, \t or \xNN; invalid UTF-8 bytes become \xNN; the result is
// cut at max_bytes with "..." appended.
std::string sanitize(std::string_view text, std::size_t max_bytes = 256);

}  // namespace handover::logging

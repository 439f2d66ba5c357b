// spdlog configuration: text or JSON lines, structured Lines, and sanitising of client data.
#include "handover/logging/log.hpp"

#include "handover/logging/request_context.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "handover/util/utf8.hpp"

namespace handover::logging {
namespace {

template <class Buffer>
void append_json_string(std::string_view s, Buffer& out) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(std::string_view(buf));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// Set by RequestScope; read when this thread's lines are formatted.
thread_local std::string_view t_request_id;

// The logger Lines go through. It shares the sink, and so the formatter, of the default one.
constexpr std::string_view kLineLoggerName = "handover.line";

// {"ts":"2026-12-04T14:25:06.123Z","level":"info","msg":"..."}. The payload of a Line, JSON
// members already, goes in place of "msg".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    append_time(msg, dest);
    dest.append(std::string_view(",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    append_json_string(std::string_view(level.data(), level.size()), dest);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    dest.push_back(',');
    if (std::string_view(msg.logger_name.data(), msg.logger_name.size()) == kLineLoggerName) {
      dest.append(payload);
    } else {
      dest.append(std::string_view("\"msg\":"));
      append_json_string(payload, dest);
    }
    if (!t_request_id.empty()) {
      dest.append(std::string_view(",\"request_id\":"));
      append_json_string(t_request_id, dest);
    }
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  static void append_time(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[96];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(std::string_view(ts));
    dest.push_back('"');
  }
};

// " request_id=<id>" after the message while the logging thread works for a request.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_request_id.empty()) return;
    dest.append(std::string_view(" request_id="));
    dest.append(t_request_id);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v%*";

std::unique_ptr<spdlog::formatter> text_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<RequestIdFlag>('*').set_pattern(kTextPattern);
  return formatter;
}

// Set by configure() before other threads log; read without a lock after.
std::shared_ptr<spdlog::logger> g_line_logger;
bool g_json = false;

std::shared_ptr<spdlog::logger> make_logger(std::string name, spdlog::sink_ptr sink,
                                            spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace

Status configure(std::string_view level, std::string_view format,
                 std::shared_ptr<spdlog::sinks::sink> sink) {
  const auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status::invalid_argument("unknown log level '" + std::string(level) + "'");
  }
  if (format != "json" && format != "text") {
    return Status::invalid_argument("unknown log format '" + std::string(format) + "'");
  }
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = make_logger("handover", sink, lvl);
  auto line_logger = make_logger(std::string(kLineLoggerName), sink, lvl);
  g_json = format == "json";
  // A formatter belongs to the sink, which both loggers share.
  if (g_json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(text_formatter());
  }
  spdlog::set_default_logger(std::move(logger));
  g_line_logger = std::move(line_logger);
  return Status::ok();
}

bool enabled(spdlog::level::level_enum level) { return spdlog::should_log(level); }

std::string_view current_request_id() { return t_request_id; }

RequestScope::RequestScope(std::string_view id) : previous_(t_request_id) { t_request_id = id; }

RequestScope::~RequestScope() { t_request_id = previous_; }

Line::Line(std::string_view event) : json_(g_json) {
  if (json_) {
    out_.append(std::string_view("\"msg\":"));
    append_json_string(event, out_);
  } else {
    out_.append(event);
  }
}

void Line::begin_field(std::string_view key) {
  if (key == "request_id") names_request_ = true;
  if (json_) {
    out_.push_back(',');
    append_json_string(key, out_);
    out_.push_back(':');
  } else {
    out_.push_back(' ');
    out_.append(key);
    out_.push_back('=');
  }
}

Line& Line::field(std::string_view key, std::string_view value) {
  begin_field(key);
  if (json_) {
    append_json_string(value, out_);
  } else {
    out_.append(value);
  }
  return *this;
}

Line& Line::field(std::string_view key, double value, int decimals) {
  begin_field(key);
  // JSON has no NaN or infinity; a duration is never either, but a line must stay valid.
  if (json_ && !std::isfinite(value)) value = 0;
  fmt::format_to(fmt::appender(out_), "{:.{}f}", value, decimals);
  return *this;
}

void write(spdlog::level::level_enum level, const Line& line) {
  // A json Line holds JSON members, which only the line logger's formatter splices in; a
  // text Line (made before configure(), say) goes out as a plain message.
  spdlog::logger* logger = line.json() ? g_line_logger.get() : spdlog::default_logger_raw();
  // A line that names its request itself (the access line) gets no second request_id.
  const RequestScope own(line.names_request() ? std::string_view() : current_request_id());
  logger->log(level, spdlog::string_view_t(line.payload().data(), line.payload().size()));
}

std::string sanitize(std::string_view text, std::size_t max_bytes) {
  const bool valid = utf8::is_valid(text);
  const std::size_t keep = valid ? utf8::safe_prefix_length(text, max_bytes)
                                 : std::min(text.size(), max_bytes);
  std::string out;
  out.reserve(keep + 8);
  for (unsigned char c : text.substr(0, keep)) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f || (!valid && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (keep < text.size()) out += "...";
  return out;
}

}  // namespace handover::logging

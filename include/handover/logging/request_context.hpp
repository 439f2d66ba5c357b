// The request a thread is working for, so that the log lines it writes meanwhile name it.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace handover::logging {

// The id (X-Request-Id) of the request this thread works for now, or empty. While it is set,
// every line this thread logs through spdlog carries it as `request_id` (a field of its own
// in JSON, " request_id=<id>" after the text otherwise): the loggers format on the thread that
// logs.
std::string_view current_request_id();

// Makes `id` the current request id of the constructing thread until destroyed, then restores
// the one before; an empty `id` means none. Lives on that thread's stack, and `id` must
// outlive it.
class RequestScope {
 public:
  explicit RequestScope(std::string_view id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string_view previous_;
};

// `fn` wrapped to run with the request id current on the calling thread now, on whatever
// thread calls it later: for callbacks and jobs handed to another thread (the store's writer,
// a work queue), so what they log still names the request. Copyable when `fn` is.
template <class Fn>
auto with_current_request(Fn fn) {
  return [id = std::string(current_request_id()), fn = std::move(fn)](
             auto&&... args) mutable -> decltype(auto) {
    RequestScope scope(id);
    return fn(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace handover::logging

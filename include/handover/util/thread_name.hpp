// Names the calling thread, so that `top -H`, `ps -L`, perf and debuggers tell the server's
// threads apart.
#pragma once

#include <string>
#include <string_view>

namespace handover {

// Sets the calling thread's name; Linux keeps the first 15 bytes. Best effort: a failure
// changes nothing else.
void set_thread_name(std::string_view name);

// The calling thread's name as the system keeps it; "" when it cannot be read.
std::string thread_name();

}  // namespace handover

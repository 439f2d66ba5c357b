// Reading whole configuration files without ever blocking on something that is not a file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "handover/util/status.hpp"

namespace handover::files {

// The content of the regular file at `path` (symbolic links followed). Opens without blocking
// and checks the type before reading, so a FIFO or device there fails at once rather than
// hanging the caller. kNotFound when nothing is at `path`; kInvalidArgument for a directory,
// FIFO, socket or device, or a file of more than `max_bytes`; kInternal when reading fails.
// Messages leave the path for the caller to add ("is a FIFO, not a file"). Thread-safe.
Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace handover::files

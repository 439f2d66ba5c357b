// `handover-replay --server`: the corpus replayed through a running server's REST API while
// simulated agents accept the offers over WebSocket, with end-to-end figures.
#pragma once

#include <ostream>

#include "options.hpp"

namespace handover::replay {

// Returns the process exit status: 0 when every conversation was replayed (errors are
// counted and reported), 1 when the server could not be used at all.
int run_server_replay(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace handover::replay

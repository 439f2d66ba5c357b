// The client turn ids reserved for the server's own turns.
#include <strings.h>

#include "handover/store/store.hpp"

namespace handover::store {

bool is_server_turn_id(std::string_view id) {
  for (std::string_view prefix :
       {kNarratorTurnIdPrefix, kBotReplyTurnIdPrefix, kBotUnavailableTurnIdPrefix}) {
    if (id.size() >= prefix.size() &&
        strncasecmp(id.data(), prefix.data(), prefix.size()) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace handover::store

// The context snapshot frozen at escalation: what an agent needs to take over.
#include <nlohmann/json.hpp>

#include "context.hpp"
#include "views.hpp"

namespace handover::api {
namespace {

constexpr std::size_t kSnapshotTurns = 200;  // newest turns kept in the snapshot

}  // namespace

nlohmann::json context_snapshot(ApiContext& ctx, const store::ConversationRecord& conversation,
                                const nlohmann::json& reasons) {
  nlohmann::json history = nlohmann::json::array();
  const std::int64_t after =
      std::max<std::int64_t>(0, conversation.last_seq - static_cast<std::int64_t>(kSnapshotTurns));
  if (auto turns = ctx.store.list_turns(conversation.id, after, kSnapshotTurns)) {
    for (const auto& t : *turns) {
      nlohmann::json view = turn_view(t);
      // Agents see the agent policy's masks (it can only hide more than the store did).
      view["text"] = ctx.masker.mask(t.text, privacy::Destination::kAgent).text;
      history.push_back(std::move(view));
    }
  }
  return {
      {"snapshot_version", 1},
      {"conversation", conversation_view(conversation)},
      {"history", std::move(history)},
      {"trigger", reasons},
  };
}

}  // namespace handover::api

// The open offers and assignments of an agent's event stream.
#include "agent_stream.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "frames.hpp"

namespace handover::agents {
namespace {

// The offer id in an offer or offer_revoked event; 0 when the data holds none.
std::uint64_t offer_id_of(const store::EventRecord& event) {
  const auto data = nlohmann::json::parse(event.data_json, nullptr, false);
  if (!data.is_object()) return 0;
  const auto id = data.find("offer_id");
  return id != data.end() && id->is_number_integer() ? id->get<std::uint64_t>() : 0;
}

template <class Map>
std::vector<store::EventRecord> by_seq(const Map& events) {
  std::vector<store::EventRecord> out;
  out.reserve(events.size());
  for (const auto& [key, event] : events) out.push_back(event);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

}  // namespace

void AgentStream::apply(const store::EventRecord& event) {
  if (event.id <= newest_) return;
  newest_ = event.id;
  if (event.type == kEventOffer) {
    offers_[offer_id_of(event)] = event;
  } else if (event.type == kEventOfferRevoked) {
    offers_.erase(offer_id_of(event));
  } else if (event.type == kEventAssigned) {
    // An accepted offer ends with the assignment of its conversation, without a revoke.
    std::erase_if(offers_, [&](const auto& entry) {
      return entry.second.conversation_id == event.conversation_id;
    });
    assigned_[event.conversation_id] = event;
  } else if (event.type == kEventUnassigned) {
    assigned_.erase(event.conversation_id);
  }
}

std::vector<store::EventRecord> AgentStream::open_offers() const { return by_seq(offers_); }

std::vector<store::EventRecord> AgentStream::assignments() const { return by_seq(assigned_); }

bool AgentStream::holds(const std::string& conversation) const {
  return assigned_.contains(conversation);
}

bool AgentStream::offer_open(std::int64_t seq) const {
  // An agent has a few offers open at most: a scan costs less than a second index.
  return std::any_of(offers_.begin(), offers_.end(),
                     [seq](const auto& entry) { return entry.second.id == seq; });
}

}  // namespace handover::agents

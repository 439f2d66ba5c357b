// The open offers and assignments an agent's event stream leaves.
#include "agent_stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frames.hpp"

namespace handover::agents {
namespace {

store::EventRecord event(std::int64_t id, const char* type, const std::string& conversation,
                         int offer_id = 0) {
  store::EventRecord record;
  record.id = id;
  record.type = type;
  record.agent_id = "ana";
  record.conversation_id = conversation;
  record.data_json = offer_id ? R"({"offer_id":)" + std::to_string(offer_id) + "}" : "{}";
  return record;
}

std::vector<std::int64_t> ids(const std::vector<store::EventRecord>& events) {
  std::vector<std::int64_t> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

TEST(AgentStream, KeepsTheOffersAndAssignmentsNotYetEnded) {
  AgentStream stream;

  stream.apply(event(1, kEventOffer, "c1", 1));
  stream.apply(event(2, kEventOffer, "c2", 2));
  stream.apply(event(3, kEventOfferRevoked, "c1", 1));
  stream.apply(event(4, kEventAssigned, "c2"));  // the accepted offer ends with it
  stream.apply(event(5, kEventTurn, "c2"));
  stream.apply(event(6, kEventAssigned, "c3"));
  stream.apply(event(7, kEventUnassigned, "c3"));
  stream.apply(event(8, kEventOffer, "c4", 3));

  EXPECT_EQ(stream.newest(), 8);
  EXPECT_EQ(ids(stream.open_offers()), std::vector<std::int64_t>{8});
  EXPECT_EQ(ids(stream.assignments()), std::vector<std::int64_t>{4});
}

TEST(AgentStream, TellsWhichConversationsItHoldsAndWhichOffersAreOpenNow) {
  AgentStream stream;

  stream.apply(event(1, kEventOffer, "c1", 1));
  stream.apply(event(2, kEventAssigned, "c1"));
  stream.apply(event(3, kEventTurn, "c1"));
  stream.apply(event(4, kEventUnassigned, "c1"));
  stream.apply(event(5, kEventOffer, "c2", 2));
  stream.apply(event(6, kEventAssigned, "c2"));
  stream.apply(event(7, kEventOffer, "c3", 3));

  EXPECT_FALSE(stream.holds("c1"));
  EXPECT_TRUE(stream.holds("c2"));
  EXPECT_FALSE(stream.holds("c3"));
  EXPECT_FALSE(stream.offer_open(1));
  EXPECT_FALSE(stream.offer_open(5)) << "accepted: ended by the assignment";
  EXPECT_TRUE(stream.offer_open(7));
  EXPECT_FALSE(stream.offer_open(3)) << "a seq of another event";
}

TEST(AgentStream, IgnoresEventsItHasAlready) {
  AgentStream stream;
  stream.apply(event(4, kEventAssigned, "c1"));
  stream.apply(event(6, kEventUnassigned, "c1"));

  // A delivery that a read of the store already covered comes again.
  stream.apply(event(4, kEventAssigned, "c1"));
  stream.apply(event(5, kEventOffer, "c2", 9));

  EXPECT_EQ(stream.newest(), 6);
  EXPECT_TRUE(stream.assignments().empty());
  EXPECT_TRUE(stream.open_offers().empty());
}

}  // namespace
}  // namespace handover::agents

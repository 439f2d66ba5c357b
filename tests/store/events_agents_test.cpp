// Tests of the store's routing additions: the event log, turns that change state and write
// events atomically, expected-state checks, conversation updates, agents, listing by state,
// erasing a customer, and migrating a version-1 database.
#include "sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "handover/store/database_export.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "evaluation_packing.hpp"
#include "schema.hpp"
#include "sqlite.hpp"
#include "store_test_support.hpp"

namespace handover::store {
namespace {

ConversationRecord conversation(const std::string& id, const std::string& customer_id) {
  ConversationRecord record;
  record.id = id;
  record.channel = "web";
  record.language = "en";
  record.customer_id = customer_id;
  record.metadata_json = R"({"page":"/billing"})";
  record.token_hash = "ab12";
  return record;
}

AppendTurnRequest turn_request(const std::string& conversation_id, const std::string& text,
                               const std::string& client_turn_id = "") {
  AppendTurnRequest request;
  request.turn.conversation_id = conversation_id;
  request.turn.client_turn_id = client_turn_id;
  request.turn.role = "bot";
  request.turn.text = text;
  request.turn.content_hash = "hash-" + text;
  return request;
}

EventRecord event(const std::string& type, const std::string& conversation_id = "",
                  const std::string& agent_id = "") {
  EventRecord record;
  record.type = type;
  record.conversation_id = conversation_id;
  record.agent_id = agent_id;
  record.data_json = R"({"type":")" + type + R"("})";
  return record;
}

AgentRecord agent(const std::string& id, const std::string& token_hash) {
  AgentRecord record;
  record.id = id;
  record.name = "name-" + id;
  record.display_name = "Agent " + id;
  record.token_hash = token_hash;
  record.skills_json = R"(["billing"])";
  record.languages_json = R"(["en","de"])";
  record.capacity = 3;
  return record;
}

std::vector<std::string> types_of(const std::vector<EventRecord>& events) {
  std::vector<std::string> types;
  for (const EventRecord& record : events) types.push_back(record.type);
  return types;
}

std::vector<std::int64_t> ids_of(const std::vector<EventRecord>& events) {
  std::vector<std::int64_t> ids;
  for (const EventRecord& record : events) ids.push_back(record.id);
  return ids;
}

std::vector<std::string> ids_of(const std::vector<ConversationRecord>& conversations) {
  std::vector<std::string> ids;
  for (const ConversationRecord& record : conversations) ids.push_back(record.id);
  return ids;
}

std::vector<std::string> ids_of(const std::vector<AgentRecord>& agents) {
  std::vector<std::string> ids;
  for (const AgentRecord& record : agents) ids.push_back(record.id);
  return ids;
}

class StoreFixture : public StoreTestBase {
 protected:
  Result<ConversationRecord> create(const std::string& id,
                                    const std::string& customer_id = "cust-1") {
    Pending<ConversationRecord> pending;
    store_->create_conversation(conversation(id, customer_id), pending.callback());
    return pending.get();
  }
  Pending<AppendTurnOutcome> append_async(AppendTurnRequest request) {
    Pending<AppendTurnOutcome> pending;
    store_->append_turn(std::move(request), pending.callback());
    return pending;
  }
  Result<AppendTurnOutcome> append(AppendTurnRequest request) {
    return append_async(std::move(request)).get();
  }
  Pending<std::vector<EventRecord>> append_events_async(std::vector<EventRecord> events) {
    Pending<std::vector<EventRecord>> pending;
    store_->append_events(std::move(events), pending.callback());
    return pending;
  }
  Result<std::vector<EventRecord>> append_events(std::vector<EventRecord> events) {
    return append_events_async(std::move(events)).get();
  }
  Pending<ConversationUpdateOutcome> update_async(ConversationUpdate update) {
    Pending<ConversationUpdateOutcome> pending;
    store_->update_conversation(std::move(update), pending.callback());
    return pending;
  }
  Result<ConversationUpdateOutcome> update(ConversationUpdate update) {
    return update_async(std::move(update)).get();
  }
  Result<ConversationUpdateOutcome> move_to(const std::string& id, const std::string& state) {
    ConversationUpdate change;
    change.id = id;
    change.new_state = state;
    return update(std::move(change));
  }
  Result<AgentRecord> create_agent(AgentRecord record) {
    Pending<AgentRecord> pending;
    store_->create_agent(std::move(record), pending.callback());
    return pending.get();
  }
  Result<AgentRecord> update_agent(AgentRecord record) {
    Pending<AgentRecord> pending;
    store_->update_agent(std::move(record), pending.callback());
    return pending.get();
  }
  Pending<ErasureOutcome> delete_customer_async(const std::string& customer_id) {
    Pending<ErasureOutcome> pending;
    ErasureRequest request;
    request.customer_id = customer_id;
    request.audit.actor_kind = "api_key";
    request.audit.actor_id = "test";
    request.audit.action = "customer.erase";
    store_->erase_customer(std::move(request), pending.callback());
    return pending;
  }
  // The number of conversations erased.
  Result<std::int64_t> delete_customer(const std::string& customer_id) {
    Result<ErasureOutcome> outcome = delete_customer_async(customer_id).get();
    if (!outcome) return outcome.status();
    return outcome->conversations;
  }
  std::vector<EventRecord> events(const EventQuery& query = {}) {
    Result<std::vector<EventRecord>> listed = store_->list_events(query);
    EXPECT_TRUE(listed.is_ok()) << listed.status().to_string();
    return listed.is_ok() ? std::move(listed).value() : std::vector<EventRecord>{};
  }
  std::vector<EventRecord> events_of(const std::string& conversation_id) {
    EventQuery query;
    query.conversation_id = conversation_id;
    return events(query);
  }
  std::size_t turn_count(const std::string& conversation_id) {
    Result<std::vector<TurnRecord>> turns = store_->list_turns(conversation_id, 0, 1000);
    EXPECT_TRUE(turns.is_ok()) << turns.status().to_string();
    return turns.is_ok() ? turns->size() : 0;
  }
  std::string state_of(const std::string& conversation_id) {
    Result<ConversationRecord> got = store_->get_conversation(conversation_id);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    return got.is_ok() ? got->state : "";
  }
};

// ---- The event log -----------------------------------------------------------------------

using EventLogTest = StoreFixture;

TEST_F(EventLogTest, AssignsIncreasingIdsAndTimesAcrossBatches) {
  ASSERT_TRUE(create("c_1").is_ok());

  clock_.advance_ms(10);
  Result<std::vector<EventRecord>> first =
      append_events({event("handover.queued", "c_1"), event("agent.online", "", "a_1")});
  std::int64_t first_at = clock_.now_ms();
  clock_.advance_ms(10);
  Result<std::vector<EventRecord>> second = append_events({event("offer.created", "c_1", "a_1")});

  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  ASSERT_EQ(first->size(), 2u);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_GT((*first)[0].id, 0);
  EXPECT_LT((*first)[0].id, (*first)[1].id);
  EXPECT_LT((*first)[1].id, (*second)[0].id);
  EXPECT_EQ((*first)[0].created_at_ms, first_at);
  EXPECT_EQ((*second)[0].created_at_ms, clock_.now_ms());
  EXPECT_EQ(types_of(*first), (std::vector<std::string>{"handover.queued", "agent.online"}));
  std::vector<EventRecord> stored = events();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].conversation_id, "c_1");
  EXPECT_EQ(stored[0].agent_id, "");
  EXPECT_EQ(stored[0].data_json, R"({"type":"handover.queued"})");
  EXPECT_EQ(stored[1].conversation_id, "");
  EXPECT_EQ(stored[1].agent_id, "a_1");
  EXPECT_EQ(stored[2].created_at_ms, clock_.now_ms());
}

TEST_F(EventLogTest, ListsByConversationAgentAfterIdAndLimit) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(create("c_2").is_ok());
  Result<std::vector<EventRecord>> stored = append_events({
      event("a", "c_1", "a_1"),
      event("b", "c_2"),
      event("c", "", "a_1"),
      event("d", "c_1"),
      event("e", "c_1", "a_2"),
  });
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  std::vector<std::int64_t> ids = ids_of(*stored);
  struct Case {
    int after_index;  // -1: from the start
    std::string conversation_id;
    std::string agent_id;
    std::size_t limit;
    std::vector<std::string> expected;
  };
  const Case kCases[] = {
      {-1, "", "", 1000, {"a", "b", "c", "d", "e"}},
      {-1, "c_1", "", 1000, {"a", "d", "e"}},
      {-1, "", "a_1", 1000, {"a", "c"}},
      {-1, "c_1", "a_1", 1000, {"a"}},
      {0, "c_1", "", 1000, {"d", "e"}},
      {2, "", "", 1000, {"d", "e"}},
      {-1, "", "", 2, {"a", "b"}},
      {0, "", "a_1", 1, {"c"}},
      {-1, "c_2", "a_1", 1000, {}},
      {-1, "", "a_unknown", 1000, {}},
      {4, "", "", 1000, {}},
      {-1, "", "", 0, {}},
  };

  for (const Case& c : kCases) {
    SCOPED_TRACE("after #" + std::to_string(c.after_index) + " conversation '" + c.conversation_id +
                 "' agent '" + c.agent_id + "' limit " + std::to_string(c.limit));
    EventQuery query;
    query.after_id = c.after_index < 0 ? 0 : ids[static_cast<std::size_t>(c.after_index)];
    query.conversation_id = c.conversation_id;
    query.agent_id = c.agent_id;
    query.limit = c.limit;
    EXPECT_EQ(types_of(events(query)), c.expected);
  }
}

TEST_F(EventLogTest, WritesNoEventOfACallWhenOneNamesAnUnknownConversation) {
  ASSERT_TRUE(create("c_1").is_ok());

  Result<std::vector<EventRecord>> appended =
      append_events({event("handover.queued", "c_1"), event("offer.created", "c_missing")});

  EXPECT_EQ(appended.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(events().empty());
}

TEST_F(EventLogTest, RejectsAnEventWithoutType) {
  ASSERT_TRUE(create("c_1").is_ok());

  Result<std::vector<EventRecord>> appended =
      append_events({event("handover.queued", "c_1"), event("", "c_1")});

  EXPECT_EQ(appended.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(events().empty());
}

TEST_F(EventLogTest, ListFailsWithNotFoundForUnknownConversation) {
  EventQuery query;
  query.conversation_id = "c_missing";

  Result<std::vector<EventRecord>> listed = store_->list_events(query);

  EXPECT_EQ(listed.status().code(), StatusCode::kNotFound);
}

TEST_F(EventLogTest, NeverReusesIdsOfDeletedNewestEvents) {
  ASSERT_TRUE(create("c_1", "cust-1").is_ok());
  ASSERT_TRUE(create("c_2", "cust-2").is_ok());
  ASSERT_TRUE(append_events({event("kept", "c_2")}).is_ok());
  Result<std::vector<EventRecord>> newest = append_events({event("erased", "c_1")});
  ASSERT_TRUE(newest.is_ok());
  ASSERT_EQ(delete_customer("cust-1").value(), 1);

  Result<std::vector<EventRecord>> next = append_events({event("after", "c_2")});

  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_GT((*next)[0].id, (*newest)[0].id);
}

TEST_F(EventLogTest, FailsTheWholeBatchWhenALaterEventOfACallFails) {
  ASSERT_TRUE(create("c_1").is_ok());
  RawDb other(options_.path);
  other.exec(
      "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.type = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'injected event failure'); END");
  Pending<bool> held = hold_writer();

  Pending<std::vector<EventRecord>> poisoned =
      append_events_async({event("fine", "c_1"), event("poison", "c_1")});
  Pending<AppendTurnOutcome> bystander = append_async(turn_request("c_1", "hello"));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_EQ(poisoned.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(bystander.get().status().code(), StatusCode::kInternal);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(turn_count("c_1"), 0u);
  other.exec("DROP TRIGGER refuse_poison");
}

TEST_F(EventLogTest, FailsOnlyItsOwnCallWhenTheFirstEventFails) {
  ASSERT_TRUE(create("c_1").is_ok());
  RawDb other(options_.path);
  other.exec(
      "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.type = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'injected event failure'); END");
  Pending<bool> held = hold_writer();

  Pending<std::vector<EventRecord>> poisoned = append_events_async({event("poison", "c_1")});
  Pending<std::vector<EventRecord>> fine = append_events_async({event("fine", "c_1")});
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_FALSE(poisoned.get().is_ok());
  EXPECT_TRUE(fine.get().is_ok());
  EXPECT_EQ(types_of(events()), (std::vector<std::string>{"fine"}));
  other.exec("DROP TRIGGER refuse_poison");
}

// ---- Turns with state changes and events -------------------------------------------------

using AtomicTurnTest = StoreFixture;

// get_conversation keeps the rows it read in memory; every commit must show through them.
TEST_F(AtomicTurnTest, ReadsOfAConversationKeptInMemorySeeEachCommit) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(store_->get_conversation("c_1").is_ok());  // kept from here on

  clock_.advance_ms(25);
  AppendTurnRequest request = turn_request("c_1", "I want a person");
  request.new_state = "queued";
  ASSERT_TRUE(append(std::move(request)).is_ok());
  Result<ConversationRecord> after_turn = store_->get_conversation("c_1");
  ASSERT_TRUE(after_turn.is_ok());
  EXPECT_EQ(after_turn->last_seq, 1);
  EXPECT_EQ(after_turn->state, "queued");
  EXPECT_EQ(after_turn->updated_at_ms, clock_.now_ms());

  clock_.advance_ms(25);
  ConversationUpdate change;
  change.id = "c_1";
  change.new_state = "agent";
  change.metadata_json = R"({"page":"/refund"})";
  ASSERT_TRUE(update(std::move(change)).is_ok());
  Result<ConversationRecord> after_update = store_->get_conversation("c_1");
  ASSERT_TRUE(after_update.is_ok());
  EXPECT_EQ(after_update->state, "agent");
  EXPECT_EQ(after_update->metadata_json, R"({"page":"/refund"})");
  EXPECT_EQ(after_update->updated_at_ms, clock_.now_ms());
  EXPECT_EQ(after_update->last_seq, 1);

  // A refused write changes nothing.
  AppendTurnRequest refused = turn_request("c_1", "bot words");
  refused.expected_state = "bot";
  EXPECT_EQ(append(std::move(refused)).status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->get_conversation("c_1")->last_seq, 1);

  // The same row as a fresh store reads from the file.
  ConversationRecord kept = *store_->get_conversation("c_1");
  ASSERT_NO_FATAL_FAILURE(reopen_store());
  Result<ConversationRecord> stored = store_->get_conversation("c_1");
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->state, kept.state);
  EXPECT_EQ(stored->metadata_json, kept.metadata_json);
  EXPECT_EQ(stored->updated_at_ms, kept.updated_at_ms);
  EXPECT_EQ(stored->last_seq, kept.last_seq);
}

TEST_F(AtomicTurnTest, CommitsTurnStateAndEventsTogether) {
  ASSERT_TRUE(create("c_1").is_ok());
  AppendTurnRequest request = turn_request("c_1", "I want a person");
  request.expected_state = "bot";
  request.new_state = "queued";
  request.events = {event("handover.requested"), event("handover.queued", "", "")};
  clock_.advance_ms(25);

  Result<AppendTurnOutcome> appended = append(std::move(request));

  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  EXPECT_EQ(appended->kind, AppendKind::kCreated);
  EXPECT_EQ(appended->conversation_state, "queued");
  // The store logs the turn itself first, then the request's events, in id order.
  ASSERT_EQ(appended->events.size(), 3u);
  EXPECT_EQ(appended->events[0].type, kTurnCreatedEvent);
  EXPECT_EQ(appended->events[0].data_json, R"({"seq":1,"role":"bot","state":"queued"})");
  EXPECT_EQ(appended->events[1].type, "handover.requested");
  EXPECT_GT(appended->events[0].id, 0);
  EXPECT_LT(appended->events[0].id, appended->events[1].id);
  EXPECT_LT(appended->events[1].id, appended->events[2].id);
  for (const EventRecord& stored : appended->events) {
    EXPECT_EQ(stored.conversation_id, "c_1");
    EXPECT_EQ(stored.created_at_ms, appended->turn.created_at_ms);
  }
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->state, "queued");
  EXPECT_EQ(got->last_seq, 1);
  EXPECT_EQ(got->updated_at_ms, clock_.now_ms());
  EXPECT_EQ(ids_of(events_of("c_1")), ids_of(appended->events));
}

TEST_F(AtomicTurnTest, FollowUpSeesTheStoredTurnAndCommitsWithIt) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn_request("c_1", "hello")).is_ok());
  std::int64_t seen_seq = 0;
  std::string seen_state;
  AppendTurnRequest request = turn_request("c_1", "I want a person");
  request.follow_up = [&](const TurnRecord& turn, const std::string& state, AppendFollowUp& out) {
    seen_seq = turn.seq;
    seen_state = state;
    out.new_state = "queued";
    out.events.push_back(event("handover.escalated", "c_other"));
  };

  Result<AppendTurnOutcome> appended = append(std::move(request));

  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  EXPECT_EQ(seen_seq, 2);
  EXPECT_EQ(seen_state, "bot");
  EXPECT_EQ(appended->conversation_state, "queued");
  ASSERT_EQ(appended->events.size(), 2u);
  EXPECT_EQ(appended->events[0].data_json, R"({"seq":2,"role":"bot","state":"queued"})");
  EXPECT_EQ(appended->events[1].type, "handover.escalated");
  EXPECT_EQ(appended->events[1].conversation_id, "c_1");  // always the turn's conversation
  EXPECT_GT(appended->events[1].id, appended->events[0].id);
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->state, "queued");
  EXPECT_EQ(ids_of(events_of("c_1")).back(), appended->events[1].id);
  // The stored log reads as the answer told it, the state after the follow-up included.
  std::vector<EventRecord> stored = events_of("c_1");
  ASSERT_GE(stored.size(), 2u);
  const EventRecord& logged = stored[stored.size() - 2];
  EXPECT_EQ(logged.id, appended->events[0].id);
  EXPECT_EQ(logged.type, "turn.created");
  EXPECT_EQ(logged.conversation_id, "c_1");
  EXPECT_EQ(logged.data_json, appended->events[0].data_json);
  EXPECT_EQ(logged.created_at_ms, appended->events[0].created_at_ms);
}

TEST_F(AtomicTurnTest, FollowUpIsNotAskedForAReplayOrARefusedAppend) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn_request("c_1", "once", "t-1")).is_ok());
  int calls = 0;
  auto count = [&](const TurnRecord&, const std::string&, AppendFollowUp& out) {
    ++calls;
    out.new_state = "queued";
  };
  AppendTurnRequest replay = turn_request("c_1", "once", "t-1");
  replay.follow_up = count;
  AppendTurnRequest refused = turn_request("c_1", "two");
  refused.expected_state = "agent";
  refused.follow_up = count;

  Result<AppendTurnOutcome> replayed = append(std::move(replay));
  Result<AppendTurnOutcome> conflict = append(std::move(refused));

  ASSERT_TRUE(replayed.is_ok());
  EXPECT_EQ(replayed->kind, AppendKind::kReplayed);
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(store_->get_conversation("c_1")->state, "bot");
}

TEST_F(AtomicTurnTest, WritesNothingWhenAnEventNamesAnUnknownConversation) {
  ASSERT_TRUE(create("c_1").is_ok());
  AppendTurnRequest request = turn_request("c_1", "hello");
  request.new_state = "queued";
  request.events = {event("handover.queued"), event("offer.created", "c_missing")};

  Result<AppendTurnOutcome> appended = append(std::move(request));

  EXPECT_EQ(appended.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(turn_count("c_1"), 0u);
  EXPECT_EQ(state_of("c_1"), "bot");
  EXPECT_TRUE(events().empty());
}

TEST_F(AtomicTurnTest, RejectsEmptyNewStateOrEventType) {
  ASSERT_TRUE(create("c_1").is_ok());
  AppendTurnRequest no_state = turn_request("c_1", "one");
  no_state.new_state = "";
  AppendTurnRequest no_type = turn_request("c_1", "two");
  no_type.events = {event("")};

  Result<AppendTurnOutcome> first = append(std::move(no_state));
  Result<AppendTurnOutcome> second = append(std::move(no_type));

  EXPECT_EQ(first.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(second.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(turn_count("c_1"), 0u);
  EXPECT_TRUE(events().empty());
}

TEST_F(AtomicTurnTest, RollsBackTurnStateAndEventsWhenTheCommitFails) {
  ASSERT_TRUE(create("c_1").is_ok());
  store_->set_before_commit_for_test(
      [](std::size_t) { return Status::internal("injected commit failure"); });
  AppendTurnRequest request = turn_request("c_1", "lost");
  request.new_state = "queued";
  request.events = {event("handover.queued")};

  Result<AppendTurnOutcome> appended = append(std::move(request));

  EXPECT_EQ(appended.status().code(), StatusCode::kInternal);
  store_->set_before_commit_for_test(nullptr);
  EXPECT_EQ(turn_count("c_1"), 0u);
  EXPECT_EQ(state_of("c_1"), "bot");
  EXPECT_TRUE(events().empty());
}

TEST_F(AtomicTurnTest, FailsTheWholeBatchWhenAnEventFailsAfterItsTurn) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(create("c_2").is_ok());
  RawDb other(options_.path);
  other.exec(
      "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.type = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'injected event failure'); END");
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> bystander = append_async(turn_request("c_2", "fine"));
  AppendTurnRequest request = turn_request("c_1", "half");
  request.new_state = "queued";
  request.events = {event("poison")};
  Pending<AppendTurnOutcome> poisoned = append_async(std::move(request));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_EQ(poisoned.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(bystander.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(turn_count("c_1"), 0u);
  EXPECT_EQ(turn_count("c_2"), 0u);
  EXPECT_EQ(state_of("c_1"), "bot");
  other.exec("DROP TRIGGER refuse_poison");
  Result<AppendTurnOutcome> next = append(turn_request("c_1", "whole"));
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_EQ(next->turn.seq, 1);
}

TEST_F(AtomicTurnTest, ReplayWritesNoStateOrEvents) {
  ASSERT_TRUE(create("c_1").is_ok());
  auto make_request = [] {
    AppendTurnRequest request = turn_request("c_1", "I want a person", "ct-1");
    request.expected_state = "bot";
    request.new_state = "queued";
    request.events = {event("handover.queued")};
    return request;
  };
  ASSERT_TRUE(append(make_request()).is_ok());
  ASSERT_TRUE(move_to("c_1", "agent").is_ok());

  // The retry expects "bot", which no longer holds; a retry without expectations hits the
  // stored client turn id instead.
  Result<AppendTurnOutcome> retried = append(make_request());
  AppendTurnRequest plain = make_request();
  plain.expected_state.reset();
  Result<AppendTurnOutcome> retried_plain = append(std::move(plain));

  for (const Result<AppendTurnOutcome>* outcome : {&retried, &retried_plain}) {
    ASSERT_TRUE(outcome->is_ok()) << outcome->status().to_string();
    EXPECT_EQ((*outcome)->kind, AppendKind::kReplayed);
    EXPECT_EQ((*outcome)->turn.seq, 1);
    EXPECT_EQ((*outcome)->conversation_state, "agent");
    EXPECT_TRUE((*outcome)->events.empty());
  }
  EXPECT_EQ(state_of("c_1"), "agent");
  EXPECT_EQ(types_of(events_of("c_1")),
            (std::vector<std::string>{kTurnCreatedEvent, "handover.queued"}));
  EXPECT_EQ(turn_count("c_1"), 1u);
}

TEST_F(AtomicTurnTest, ConflictsOnExpectedStateAndWritesNothing) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(move_to("c_1", "agent").is_ok());
  std::int64_t updated_at = store_->get_conversation("c_1")->updated_at_ms;
  clock_.advance_ms(10);
  AppendTurnRequest request = turn_request("c_1", "bot says hi", "ct-new");
  request.expected_state = "bot";
  request.new_state = "bot";
  request.events = {event("bot.replied")};

  Result<AppendTurnOutcome> appended = append(std::move(request));

  EXPECT_EQ(appended.status().code(), StatusCode::kConflict);
  EXPECT_NE(appended.status().message().find("\"agent\""), std::string::npos)
      << appended.status().message();
  EXPECT_NE(appended.status().message().find("\"bot\""), std::string::npos)
      << appended.status().message();
  EXPECT_EQ(turn_count("c_1"), 0u);
  EXPECT_TRUE(events().empty());
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  EXPECT_EQ(got->state, "agent");
  EXPECT_EQ(got->updated_at_ms, updated_at);
}

TEST_F(AtomicTurnTest, ExpectedStateSeesAChangeEarlierInTheSameBatch) {
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  ConversationUpdate take;
  take.id = "c_1";
  take.expected_state = "bot";
  take.new_state = "agent";
  Pending<ConversationUpdateOutcome> taken = update_async(std::move(take));
  AppendTurnRequest bot_turn = turn_request("c_1", "from the bot");
  bot_turn.expected_state = "bot";
  Pending<AppendTurnOutcome> refused = append_async(std::move(bot_turn));
  AppendTurnRequest agent_turn = turn_request("c_1", "from a person");
  agent_turn.turn.role = "agent";
  agent_turn.expected_state = "agent";
  Pending<AppendTurnOutcome> accepted = append_async(std::move(agent_turn));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_TRUE(taken.get().is_ok());
  EXPECT_EQ(refused.get().status().code(), StatusCode::kConflict);
  Result<AppendTurnOutcome> accepted_result = accepted.get();
  ASSERT_TRUE(accepted_result.is_ok()) << accepted_result.status().to_string();
  EXPECT_EQ(accepted_result->turn.seq, 1);
  EXPECT_EQ(batches_.sizes().back(), 3u) << "all three were in one transaction";
  EXPECT_EQ(turn_count("c_1"), 1u);
}

// ---- Updating a conversation ---------------------------------------------------------------

using ConversationUpdateTest = StoreFixture;

TEST_F(ConversationUpdateTest, ChangesStateMetadataAndWritesEvents) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn_request("c_1", "hello")).is_ok());
  clock_.advance_ms(50);
  ConversationUpdate change;
  change.id = "c_1";
  change.expected_state = "bot";
  change.new_state = "queued";
  change.metadata_json = R"({"priority":"high"})";
  change.events = {event("handover.queued")};

  Result<ConversationUpdateOutcome> updated = update(std::move(change));

  ASSERT_TRUE(updated.is_ok()) << updated.status().to_string();
  const ConversationRecord& record = updated->record;
  EXPECT_EQ(record.id, "c_1");
  EXPECT_EQ(record.state, "queued");
  EXPECT_EQ(record.metadata_json, R"({"priority":"high"})");
  EXPECT_EQ(record.updated_at_ms, clock_.now_ms());
  EXPECT_EQ(record.last_seq, 1);
  EXPECT_EQ(record.channel, "web");
  EXPECT_EQ(record.customer_id, "cust-1");
  ASSERT_EQ(updated->events.size(), 1u);
  EXPECT_GT(updated->events[0].id, 0);
  EXPECT_EQ(updated->events[0].conversation_id, "c_1");
  EXPECT_EQ(updated->events[0].created_at_ms, clock_.now_ms());
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->state, "queued");
  EXPECT_EQ(got->metadata_json, R"({"priority":"high"})");
  EXPECT_EQ(got->updated_at_ms, clock_.now_ms());
  EXPECT_EQ(got->last_seq, 1);
  // Besides the turn's own turn.created event, only the update's events are stored.
  std::vector<EventRecord> stored = events_of("c_1");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].type, kTurnCreatedEvent);
  stored.erase(stored.begin());
  EXPECT_EQ(ids_of(stored), ids_of(updated->events));
}

TEST_F(ConversationUpdateTest, KeepsWhatItDoesNotSet) {
  ASSERT_TRUE(create("c_1").is_ok());
  ConversationUpdate change;
  change.id = "c_1";
  change.events = {event("note.added", "", "a_1")};

  Result<ConversationUpdateOutcome> updated = update(std::move(change));

  ASSERT_TRUE(updated.is_ok()) << updated.status().to_string();
  EXPECT_EQ(updated->record.state, "bot");
  EXPECT_EQ(updated->record.metadata_json, R"({"page":"/billing"})");
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  EXPECT_EQ(got->state, "bot");
  EXPECT_EQ(got->metadata_json, R"({"page":"/billing"})");
  EXPECT_EQ(events_of("c_1").at(0).agent_id, "a_1");
}

TEST_F(ConversationUpdateTest, ConflictsOnExpectedStateAndWritesNothing) {
  ASSERT_TRUE(create("c_1").is_ok());
  std::int64_t created_at = clock_.now_ms();
  clock_.advance_ms(10);
  ConversationUpdate change;
  change.id = "c_1";
  change.expected_state = "queued";
  change.new_state = "agent";
  change.events = {event("offer.accepted")};

  Result<ConversationUpdateOutcome> updated = update(std::move(change));

  EXPECT_EQ(updated.status().code(), StatusCode::kConflict);
  EXPECT_NE(updated.status().message().find("\"queued\""), std::string::npos);
  EXPECT_NE(updated.status().message().find("\"bot\""), std::string::npos);
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  EXPECT_EQ(got->state, "bot");
  EXPECT_EQ(got->updated_at_ms, created_at);
  EXPECT_TRUE(events().empty());
}

TEST_F(ConversationUpdateTest, RefusesBadUpdatesWithoutWriting) {
  ASSERT_TRUE(create("c_1").is_ok());
  struct Case {
    const char* name;
    void (*change)(ConversationUpdate&);
    StatusCode expected;
  };
  const Case kCases[] = {
      {"empty id", [](ConversationUpdate& u) { u.id.clear(); }, StatusCode::kInvalidArgument},
      {"unknown id", [](ConversationUpdate& u) { u.id = "c_missing"; }, StatusCode::kNotFound},
      {"empty state", [](ConversationUpdate& u) { u.new_state = ""; },
       StatusCode::kInvalidArgument},
      {"empty metadata", [](ConversationUpdate& u) { u.metadata_json = ""; },
       StatusCode::kInvalidArgument},
      {"event without type", [](ConversationUpdate& u) { u.events.push_back(event("")); },
       StatusCode::kInvalidArgument},
      {"event of unknown conversation",
       [](ConversationUpdate& u) { u.events.push_back(event("x", "c_missing")); },
       StatusCode::kNotFound},
  };

  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ConversationUpdate change;
    change.id = "c_1";
    change.new_state = "queued";
    change.events = {event("handover.queued")};
    c.change(change);
    Result<ConversationUpdateOutcome> updated = update(std::move(change));
    EXPECT_EQ(updated.status().code(), c.expected);
  }
  EXPECT_EQ(state_of("c_1"), "bot");
  EXPECT_TRUE(events().empty());
}

TEST_F(ConversationUpdateTest, MixesWithAppendsInOneBatch) {
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> first = append_async(turn_request("c_1", "one"));
  ConversationUpdate change;
  change.id = "c_1";
  change.new_state = "agent";
  change.metadata_json = R"({"agent":"a_1"})";
  Pending<ConversationUpdateOutcome> updated = update_async(std::move(change));
  Pending<AppendTurnOutcome> second = append_async(turn_request("c_1", "two"));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  ASSERT_TRUE(first.get().is_ok());
  Result<ConversationUpdateOutcome> updated_result = updated.get();
  ASSERT_TRUE(updated_result.is_ok()) << updated_result.status().to_string();
  EXPECT_EQ(updated_result->record.last_seq, 1) << "the record as of the update";
  Result<AppendTurnOutcome> second_result = second.get();
  ASSERT_TRUE(second_result.is_ok());
  EXPECT_EQ(second_result->turn.seq, 2);
  EXPECT_EQ(second_result->conversation_state, "agent");
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  EXPECT_EQ(got->last_seq, 2);
  EXPECT_EQ(got->state, "agent");
  EXPECT_EQ(got->metadata_json, R"({"agent":"a_1"})");
  EXPECT_EQ(batches_.sizes().back(), 3u);
}

// ---- Agents --------------------------------------------------------------------------------

using AgentStoreTest = StoreFixture;

TEST_F(AgentStoreTest, CreatesAndGetsAgentByIdAndTokenHash) {
  Result<AgentRecord> created = create_agent(agent("a_1", "hash-1"));

  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(created->created_at_ms, clock_.now_ms());
  EXPECT_EQ(created->updated_at_ms, clock_.now_ms());
  Result<AgentRecord> by_id = store_->get_agent("a_1");
  ASSERT_TRUE(by_id.is_ok()) << by_id.status().to_string();
  EXPECT_EQ(by_id->name, "name-a_1");
  EXPECT_EQ(by_id->display_name, "Agent a_1");
  EXPECT_EQ(by_id->token_hash, "hash-1");
  EXPECT_EQ(by_id->skills_json, R"(["billing"])");
  EXPECT_EQ(by_id->languages_json, R"(["en","de"])");
  EXPECT_EQ(by_id->capacity, 3);
  EXPECT_FALSE(by_id->disabled);
  EXPECT_EQ(by_id->created_at_ms, clock_.now_ms());
  Result<AgentRecord> by_hash = store_->get_agent_by_token_hash("hash-1");
  ASSERT_TRUE(by_hash.is_ok()) << by_hash.status().to_string();
  EXPECT_EQ(by_hash->id, "a_1");
  EXPECT_EQ(store_->get_agent("a_2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_agent_by_token_hash("hash-2").status().code(), StatusCode::kNotFound);
}

TEST_F(AgentStoreTest, CreateConflictsOnDuplicateIdOrTokenHash) {
  ASSERT_TRUE(create_agent(agent("a_1", "hash-1")).is_ok());

  Result<AgentRecord> same_id = create_agent(agent("a_1", "hash-2"));
  Result<AgentRecord> same_hash = create_agent(agent("a_2", "hash-1"));
  Result<AgentRecord> fresh = create_agent(agent("a_2", "hash-2"));

  EXPECT_EQ(same_id.status().code(), StatusCode::kConflict);
  EXPECT_EQ(same_hash.status().code(), StatusCode::kConflict);
  EXPECT_TRUE(fresh.is_ok()) << fresh.status().to_string();
  EXPECT_EQ(store_->get_agent("a_1")->token_hash, "hash-1");
}

TEST_F(AgentStoreTest, AllowsSeveralAgentsWithoutToken) {
  Result<AgentRecord> first = create_agent(agent("a_1", ""));
  Result<AgentRecord> second = create_agent(agent("a_2", ""));

  EXPECT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(store_->get_agent("a_1")->token_hash, "");
  EXPECT_EQ(store_->get_agent_by_token_hash("").status().code(), StatusCode::kNotFound);
}

TEST_F(AgentStoreTest, UpdateReplacesEverythingButCreationTime) {
  ASSERT_TRUE(create_agent(agent("a_1", "hash-1")).is_ok());
  std::int64_t created_at = clock_.now_ms();
  clock_.advance_ms(100);
  AgentRecord changed = agent("a_1", "hash-9");
  changed.name = "renamed";
  changed.display_name = "Renamed";
  changed.skills_json = R"(["returns"])";
  changed.languages_json = R"(["fr"])";
  changed.capacity = 5;
  changed.disabled = true;
  changed.created_at_ms = 42;  // ignored

  Result<AgentRecord> updated = update_agent(changed);

  ASSERT_TRUE(updated.is_ok()) << updated.status().to_string();
  EXPECT_EQ(updated->created_at_ms, created_at);
  EXPECT_EQ(updated->updated_at_ms, clock_.now_ms());
  Result<AgentRecord> got = store_->get_agent("a_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->name, "renamed");
  EXPECT_EQ(got->display_name, "Renamed");
  EXPECT_EQ(got->token_hash, "hash-9");
  EXPECT_EQ(got->skills_json, R"(["returns"])");
  EXPECT_EQ(got->languages_json, R"(["fr"])");
  EXPECT_EQ(got->capacity, 5);
  EXPECT_TRUE(got->disabled);
  EXPECT_EQ(got->created_at_ms, created_at);
  EXPECT_EQ(got->updated_at_ms, clock_.now_ms());
  EXPECT_EQ(store_->get_agent_by_token_hash("hash-9")->id, "a_1");
  EXPECT_EQ(store_->get_agent_by_token_hash("hash-1").status().code(), StatusCode::kNotFound);
}

TEST_F(AgentStoreTest, UpdateFailsForUnknownIdOrTakenTokenHash) {
  ASSERT_TRUE(create_agent(agent("a_1", "hash-1")).is_ok());
  ASSERT_TRUE(create_agent(agent("a_2", "hash-2")).is_ok());

  Result<AgentRecord> unknown = update_agent(agent("a_missing", "hash-3"));
  Result<AgentRecord> taken = update_agent(agent("a_2", "hash-1"));
  Result<AgentRecord> own = update_agent(agent("a_2", "hash-2"));

  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(taken.status().code(), StatusCode::kConflict);
  EXPECT_TRUE(own.is_ok()) << own.status().to_string();
  EXPECT_EQ(store_->get_agent("a_2")->token_hash, "hash-2");
  EXPECT_EQ(store_->get_agent("a_missing").status().code(), StatusCode::kNotFound);
}

TEST_F(AgentStoreTest, RejectsAgentsWithoutIdOrWithNegativeCapacity) {
  ASSERT_TRUE(create_agent(agent("a_1", "hash-1")).is_ok());
  AgentRecord no_id = agent("", "hash-2");
  AgentRecord negative = agent("a_1", "hash-1");
  negative.capacity = -1;

  for (const AgentRecord& bad : {no_id, negative}) {
    SCOPED_TRACE("agent '" + bad.id + "'");
    EXPECT_EQ(create_agent(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(update_agent(bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(store_->get_agent("a_1")->capacity, 3);
}

TEST_F(AgentStoreTest, ListsAllAgentsById) {
  ASSERT_TRUE(create_agent(agent("b", "hash-b")).is_ok());
  AgentRecord disabled = agent("a", "hash-a");
  disabled.disabled = true;
  ASSERT_TRUE(create_agent(disabled).is_ok());
  ASSERT_TRUE(create_agent(agent("c", "")).is_ok());

  Result<std::vector<AgentRecord>> listed = store_->list_agents();

  ASSERT_TRUE(listed.is_ok()) << listed.status().to_string();
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE((*listed)[0].disabled);
}

// ---- Conversations by state ----------------------------------------------------------------

using ConversationsInStatesTest = StoreFixture;

TEST_F(ConversationsInStatesTest, ListsOldestFirstUpToLimit) {
  const std::pair<const char*, const char*> kConversations[] = {
      {"c_1", "bot"}, {"c_2", "queued"}, {"c_3", "agent"}, {"c_4", "queued"}, {"c_5", "closed"},
  };
  for (const auto& [id, state] : kConversations) {
    ASSERT_TRUE(create(id).is_ok());
    if (std::string(state) != "bot") {
      ASSERT_TRUE(move_to(id, state).is_ok());
    }
  }
  struct Case {
    std::vector<std::string> states;
    std::size_t limit;
    std::vector<std::string> expected;
  };
  const Case kCases[] = {
      {{"queued"}, 10, {"c_2", "c_4"}},
      {{"queued", "agent"}, 10, {"c_2", "c_3", "c_4"}},
      {{"queued", "agent", "queued"}, 10, {"c_2", "c_3", "c_4"}},
      {{"agent", "queued"}, 2, {"c_2", "c_3"}},
      {{"closed", "bot"}, 10, {"c_1", "c_5"}},
      {{"unknown"}, 10, {}},
      {{}, 10, {}},
      {{"queued"}, 0, {}},
  };

  for (const Case& c : kCases) {
    std::string states;
    for (const std::string& state : c.states) states += state + " ";
    SCOPED_TRACE("states " + states + "limit " + std::to_string(c.limit));
    Result<std::vector<ConversationRecord>> listed =
        store_->list_conversations_in_states(c.states, c.limit);
    ASSERT_TRUE(listed.is_ok()) << listed.status().to_string();
    EXPECT_EQ(ids_of(*listed), c.expected);
  }
  Result<std::vector<ConversationRecord>> queued =
      store_->list_conversations_in_states({"queued"}, 1);
  ASSERT_TRUE(queued.is_ok());
  EXPECT_EQ(queued->at(0).state, "queued");
  EXPECT_EQ(queued->at(0).metadata_json, R"({"page":"/billing"})");
}

// ---- Unfinished escalations ----------------------------------------------------------------

class UnfinishedEscalationTest : public StoreFixture {
 protected:
  static constexpr const char* kEscalate =
      R"({"decision":{"action":"escalate","queue":"general","rule":"explicit-request"}})";
  static constexpr const char* kNone = R"({"decision":{"action":"none"}})";

  void turn(const std::string& id, const char* evaluation) {
    AppendTurnRequest request = turn_request(id, "turn " + std::to_string(++turns_));
    request.turn.role = "user";
    request.turn.evaluation_json = evaluation;
    ASSERT_TRUE(append(std::move(request)).is_ok());
  }
  void log(const std::string& id, std::vector<std::string> types) {
    std::vector<EventRecord> records;
    for (const std::string& type : types) records.push_back(event(type, id));
    ASSERT_TRUE(append_events(std::move(records)).is_ok());
  }
  std::vector<std::string> listed(const std::string& after_id, std::size_t limit) {
    Result<std::vector<UnfinishedEscalation>> found =
        store_->list_unfinished_escalations(after_id, limit);
    EXPECT_TRUE(found.is_ok()) << found.status().to_string();
    std::vector<std::string> ids;
    if (found.is_ok()) {
      for (const UnfinishedEscalation& u : *found) ids.push_back(u.conversation.id);
    }
    return ids;
  }

  int turns_ = 0;
};

TEST_F(UnfinishedEscalationTest, ListsConversationsWhoseNewestTurnEscalatedWithoutAHandover) {
  // The escalation that was to follow the turn never committed.
  ASSERT_TRUE(create("c_cut").is_ok());
  turn("c_cut", kNone);
  turn("c_cut", kEscalate);
  // Handed over (without an agent service: handover.requested), then back with the bot.
  ASSERT_TRUE(create("c_done").is_ok());
  turn("c_done", kEscalate);
  log("c_done", {"handover.requested", "routing.cancelled"});
  // Still waiting for a person.
  ASSERT_TRUE(create("c_queued").is_ok());
  turn("c_queued", kEscalate);
  ASSERT_TRUE(move_to("c_queued", "queued").is_ok());
  // An earlier turn escalated; the newest did not.
  ASSERT_TRUE(create("c_earlier").is_ok());
  turn("c_earlier", kEscalate);
  turn("c_earlier", kNone);
  // Handed over and returned before its newest turn, which asked again.
  ASSERT_TRUE(create("c_again").is_ok());
  turn("c_again", kEscalate);
  log("c_again", {"handover.escalated", "routing.returned"});
  turn("c_again", kEscalate);
  // No turn at all.
  ASSERT_TRUE(create("c_empty").is_ok());

  Result<std::vector<UnfinishedEscalation>> found = store_->list_unfinished_escalations("", 10);

  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ(found->at(0).conversation.id, "c_cut");
  EXPECT_EQ(found->at(0).conversation.state, "bot");
  EXPECT_EQ(found->at(0).turn.conversation_id, "c_cut");
  EXPECT_EQ(found->at(0).turn.seq, 2);
  EXPECT_EQ(found->at(0).turn.evaluation_json, kEscalate);
  EXPECT_EQ(found->at(1).conversation.id, "c_again");
  EXPECT_EQ(found->at(1).turn.seq, 2);
}

TEST_F(UnfinishedEscalationTest, PagesAfterTheLastConversationListed) {
  for (const char* id : {"c_1", "c_2", "c_3"}) {
    ASSERT_TRUE(create(id).is_ok());
    turn(id, kEscalate);
  }

  const std::vector<std::string> first = listed("", 2);
  const std::vector<std::string> second = listed("c_2", 2);
  const std::vector<std::string> none = listed("c_1", 0);

  EXPECT_EQ(first, (std::vector<std::string>{"c_1", "c_2"}));
  EXPECT_EQ(second, std::vector<std::string>{"c_3"});
  EXPECT_TRUE(none.empty());
}

// ---- Unanswered user turns -----------------------------------------------------------------

class UnansweredTurnTest : public StoreFixture {
 protected:
  void turn(const std::string& id, const std::string& role) {
    AppendTurnRequest request = turn_request(id, role + " turn " + std::to_string(++turns_));
    request.turn.role = role;
    request.turn.evaluation_json = R"({"decision":{"action":"none"}})";
    ASSERT_TRUE(append(std::move(request)).is_ok());
  }
  int turns_ = 0;
};

TEST_F(UnansweredTurnTest, ListsRecentUserTurnsThatAreTheirConversationsNewest) {
  ASSERT_TRUE(create("c_old").is_ok());
  turn("c_old", "user");  // asked before the window
  clock_.advance_ms(60'000);
  const std::int64_t since = clock_.now_ms();
  ASSERT_TRUE(create("c_open").is_ok());
  turn("c_open", "bot");
  turn("c_open", "user");
  ASSERT_TRUE(create("c_answered").is_ok());
  turn("c_answered", "user");
  turn("c_answered", "bot");
  ASSERT_TRUE(create("c_told").is_ok());
  turn("c_told", "user");
  turn("c_told", "system");
  ASSERT_TRUE(create("c_queued").is_ok());
  turn("c_queued", "user");
  ASSERT_TRUE(move_to("c_queued", "queued").is_ok());
  clock_.advance_ms(1'000);
  ASSERT_TRUE(create("c_later").is_ok());
  turn("c_later", "user");

  auto found = store_->list_unanswered_user_turns(since, 10);
  auto first = store_->list_unanswered_user_turns(since, 1);

  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ(found->at(0).conversation.id, "c_open");
  EXPECT_EQ(found->at(0).conversation.state, "bot");
  EXPECT_EQ(found->at(0).turn.seq, 2);
  EXPECT_EQ(found->at(0).turn.role, "user");
  EXPECT_EQ(found->at(0).turn.text, "user turn 3");
  EXPECT_EQ(found->at(1).conversation.id, "c_later");
  ASSERT_TRUE(first.is_ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->at(0).conversation.id, "c_open");
}

// ---- Erasing a customer --------------------------------------------------------------------

using CustomerErasureTest = StoreFixture;

TEST_F(CustomerErasureTest, DeletesConversationsTurnsAndEventsOfThatCustomerOnly) {
  ASSERT_TRUE(create("c_1", "cust-1").is_ok());
  ASSERT_TRUE(create("c_2", "cust-1").is_ok());
  ASSERT_TRUE(create("c_3", "cust-2").is_ok());
  for (const char* id : {"c_1", "c_2", "c_3"}) {
    AppendTurnRequest request = turn_request(id, "hello");
    request.events = {event("turn.added")};
    ASSERT_TRUE(append(std::move(request)).is_ok());
  }
  ASSERT_TRUE(append_events({event("agent.online", "", "a_1")}).is_ok());

  Result<std::int64_t> deleted = delete_customer("cust-1");

  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(store_->get_conversation("c_1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_conversation("c_2").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_conversation("c_3").is_ok());
  EXPECT_EQ(turn_count("c_3"), 1u);
  std::vector<EventRecord> left = events();
  ASSERT_EQ(left.size(), 3u);  // c_3's turn.created and turn.added, and the agent's event
  EXPECT_EQ(left[0].conversation_id, "c_3");
  EXPECT_EQ(left[1].conversation_id, "c_3");
  EXPECT_EQ(left[2].agent_id, "a_1");
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM conversations"), "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM turns"), "1");
  // c_3's turn.created is its turn's row (schema step 10).
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "2");
}

TEST_F(CustomerErasureTest, ReturnsZeroForUnknownCustomerAndRejectsEmptyId) {
  ASSERT_TRUE(create("c_1", "cust-1").is_ok());

  Result<std::int64_t> unknown = delete_customer("cust-unknown");
  Result<std::int64_t> empty = delete_customer("");

  ASSERT_TRUE(unknown.is_ok()) << unknown.status().to_string();
  EXPECT_EQ(*unknown, 0);
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->get_conversation("c_1").is_ok());
}

TEST_F(CustomerErasureTest, LaterWritesOfTheSameBatchFindNoDeletedConversation) {
  ASSERT_TRUE(create("c_1", "cust-1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> before = append_async(turn_request("c_1", "before"));
  Pending<ErasureOutcome> erased = delete_customer_async("cust-1");
  Pending<AppendTurnOutcome> after = append_async(turn_request("c_1", "after"));
  Pending<std::vector<EventRecord>> late_events = append_events_async({event("x", "c_1")});
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_TRUE(before.get().is_ok());
  Result<ErasureOutcome> erased_result = erased.get();
  ASSERT_TRUE(erased_result.is_ok()) << erased_result.status().to_string();
  EXPECT_EQ(erased_result->conversations, 1);
  EXPECT_EQ(after.get().status().code(), StatusCode::kNotFound);
  EXPECT_EQ(late_events.get().status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_conversation("c_1").status().code(), StatusCode::kNotFound);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM turns"), "0");
}

class ConversationErasureTest : public StoreFixture {
 protected:
  Result<ErasureOutcome> erase_conversation(const std::string& conversation_id,
                                            const std::string& customer_id = "") {
    Pending<ErasureOutcome> pending;
    ErasureRequest request;
    request.conversation_id = conversation_id;
    request.customer_id = customer_id;
    request.audit.actor_kind = "api_key";
    request.audit.actor_id = "test";
    request.audit.action = "conversation.erase";
    store_->erase_customer(std::move(request), pending.callback());
    return pending.get();
  }
};

TEST_F(ConversationErasureTest, DeletesOneConversationWithItsTurnsEventsAndAuditRecords) {
  ASSERT_TRUE(create("c_anon").is_ok());  // no customer id
  ASSERT_TRUE(create("c_other").is_ok());
  for (const char* id : {"c_anon", "c_other"}) {
    AppendTurnRequest request = turn_request(id, "my mail is x@example.org");
    request.events = {event("handover.choice")};
    ASSERT_TRUE(append(std::move(request)).is_ok());
  }
  AuditRecord read;
  read.actor_kind = "api_key";
  read.actor_id = "admin";
  read.action = "snapshot.read";
  read.conversation_id = "c_anon";
  Pending<AuditRecord> audited;
  store_->append_audit(read, audited.callback());
  ASSERT_TRUE(audited.get().is_ok());

  Result<ErasureOutcome> erased = erase_conversation("c_anon");
  Result<ErasureOutcome> again = erase_conversation("c_anon");

  ASSERT_TRUE(erased.is_ok()) << erased.status().to_string();
  EXPECT_EQ(erased->conversations, 1);
  EXPECT_EQ(erased->conversation_ids, std::vector<std::string>{"c_anon"});
  EXPECT_EQ(erased->turns, 1);
  EXPECT_EQ(erased->events, 2);  // the turn's turn.created and handover.choice
  EXPECT_EQ(erased->audit_records, 1);
  EXPECT_GT(erased->audit_id, 0);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->conversations, 0);
  EXPECT_EQ(store_->get_conversation("c_anon").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_conversation("c_other").is_ok());
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM turns"), "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM turns WHERE text LIKE '%example%' AND conversation = "
                      "(SELECT pk FROM conversations WHERE public_id = 'c_other')"),
            "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM audit_log WHERE conversation_id = 'c_anon'"), "0");
}

TEST_F(ConversationErasureTest, RefusesAConversationWithAPersonAndAnAmbiguousRequest) {
  ASSERT_TRUE(create("c_busy", "cust-1").is_ok());
  ASSERT_TRUE(move_to("c_busy", "agent").is_ok());

  Result<ErasureOutcome> busy = erase_conversation("c_busy");
  Result<ErasureOutcome> both = erase_conversation("c_busy", "cust-1");
  Result<ErasureOutcome> neither = erase_conversation("");

  EXPECT_EQ(busy.status().code(), StatusCode::kConflict);
  EXPECT_EQ(both.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(neither.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->get_conversation("c_busy").is_ok());
}

// ---- Schema and persistence ----------------------------------------------------------------

class SchemaUpgradeTest : public StoreFixture {
 protected:
  // Closes the store and points it at a new file `name` holding the schema as release
  // `version` left it, for the test to fill before it opens the store again.
  void reopen_on_file_of_version(const std::string& name, int version) {
    store_.reset();
    options_.path = dir_.file(name);
    Result<Connection> db = Connection::open(options_.path, Connection::Mode::kReadWrite, 1000);
    ASSERT_TRUE(db.is_ok()) << db.status().to_string();
    Status migrated = migrate_for_test(*db, version, clock_.now_ms());
    ASSERT_TRUE(migrated.is_ok()) << migrated.to_string();
  }

  // Writes conversation 'c_old' (pk 1, state bot) into that file as the older release would.
  void insert_old_conversation(RawDb& db, const std::string& language, int last_seq,
                               const std::string& customer_id = "") {
    const std::string customer = customer_id.empty() ? "NULL" : "'" + customer_id + "'";
    db.exec(
        "INSERT INTO conversations (public_id, channel, language, state, customer_id, "
        "token_hash, created_at_ms, updated_at_ms, last_seq) VALUES ('c_old', 'web', '" +
        language + "', 'bot', " + customer + ", 'ab12', 1, " + std::to_string(last_seq + 1) +
        ", " + std::to_string(last_seq) + ")");
  }
};

TEST_F(SchemaUpgradeTest, MigratesVersionOneDatabaseAndKeepsItsData) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v1.db", 1));
  {
    RawDb v1(options_.path);
    insert_old_conversation(v1, "de", 2, "cust-1");
    v1.exec(
        "INSERT INTO turns (conversation, seq, client_turn_id, role, text, content_hash, "
        "created_at_ms) VALUES (1, 1, 'ct-1', 'user', 'Hallo', 'h1', 1), "
        "(1, 2, NULL, 'bot', 'Guten Tag', 'h2', 2)");
    ASSERT_EQ(v1.query("SELECT max(version) FROM schema_migrations"), "1");
    ASSERT_EQ(v1.query("SELECT count(*) FROM sqlite_master WHERE name = 'events'"), "0");
  }

  open_store();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("SELECT count(*) FROM schema_migrations"), std::to_string(kSchemaVersion));
  Result<ConversationRecord> old = store_->get_conversation("c_old");
  ASSERT_TRUE(old.is_ok()) << old.status().to_string();
  EXPECT_EQ(old->language, "de");
  EXPECT_EQ(old->last_seq, 2);
  Result<std::vector<TurnRecord>> turns = store_->list_turns("c_old", 0, 10);
  ASSERT_TRUE(turns.is_ok());
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_EQ((*turns)[0].text, "Hallo");
  AppendTurnRequest request = turn_request("c_old", "Ich möchte eine Person");
  request.new_state = "queued";
  request.events = {event("handover.queued")};
  Result<AppendTurnOutcome> appended = append(std::move(request));
  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  EXPECT_EQ(appended->turn.seq, 3);
  EXPECT_EQ(state_of("c_old"), "queued");
  EXPECT_EQ(types_of(events_of("c_old")),
            (std::vector<std::string>{kTurnCreatedEvent, "handover.queued"}));
}

TEST_F(SchemaUpgradeTest, MovesVersionFourTurnsIntoTheRowidTableWithTheirIndexes) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v4.db", 4));
  {
    RawDb v4(options_.path);
    insert_old_conversation(v4, "en", 2);
    v4.exec(
        "INSERT INTO turns (conversation, seq, client_turn_id, role, text, content_hash, "
        "created_at_ms) VALUES (1, 2, NULL, 'bot', 'second', 'h2', 3), "
        "(1, 1, 'ct-1', 'bot', 'first', 'hash-first', 2)");
  }

  open_store();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE name = 'turns_by_rowid'"), "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                      "'turns' AND name IN ('turns_by_conversation', 'turns_by_client_turn_id', "
                      "'turns_by_age')"),
            "3");
  Result<std::vector<TurnRecord>> turns = store_->list_turns("c_old", 0, 10);
  ASSERT_TRUE(turns.is_ok()) << turns.status().to_string();
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_EQ((*turns)[0].text, "first");
  EXPECT_EQ((*turns)[1].text, "second");
  Result<AppendTurnOutcome> retried = append(turn_request("c_old", "first", "ct-1"));
  ASSERT_TRUE(retried.is_ok()) << retried.status().to_string();
  EXPECT_EQ(retried->kind, AppendKind::kReplayed);
  EXPECT_EQ(retried->turn.seq, 1);
  Result<AppendTurnOutcome> next = append(turn_request("c_old", "third"));
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_EQ(next->turn.seq, 3);
}

// Operators add views for their reports; moving the turns table must not trip over them.
TEST_F(SchemaUpgradeTest, KeepsAnOperatorsViewOfTurnsWorkingAcrossTheMove) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v4-view.db", 4));
  {
    RawDb v4(options_.path);
    insert_old_conversation(v4, "en", 1);
    v4.exec(
        "INSERT INTO turns (conversation, seq, role, text, content_hash, created_at_ms) "
        "VALUES (1, 1, 'user', 'hello', 'h1', 2)");
    v4.exec("CREATE VIEW turns_per_role AS SELECT role, count(*) AS n FROM turns GROUP BY role");
  }

  open_store();

  ASSERT_TRUE(append(turn_request("c_old", "hi there")).is_ok());
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("SELECT n FROM turns_per_role WHERE role = 'user'"), "1");
  EXPECT_EQ(raw.query("SELECT n FROM turns_per_role WHERE role = 'bot'"), "1");
}

// Every turn writes an event. Its insert must not build and drop a temporary table, as
// SQLite does for an IN list in a partial index's WHERE clause.
TEST_F(SchemaUpgradeTest, InsertingAnEventBuildsNoTemporaryTable) {
  RawDb raw(options_.path);
  const std::vector<std::string> program = raw.opcodes(
      "INSERT INTO events (conversation, agent_id, type, data_json, created_at_ms) "
      "VALUES (1, NULL, 'turn.created', '{}', 5)");
  ASSERT_FALSE(program.empty());
  EXPECT_EQ(std::count(program.begin(), program.end(), "IdxInsert"), 6)
      << "one entry per index of events";
  EXPECT_EQ(std::count(program.begin(), program.end(), "OpenEphemeral"), 0);
}

TEST_F(SchemaUpgradeTest, RebuildsTheNotesIndexOfAVersionFiveDatabaseWithItsEntries) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v5.db", 5));
  {
    RawDb v5(options_.path);
    insert_old_conversation(v5, "en", 0);
    v5.exec(
        "INSERT INTO events (conversation, agent_id, type, data_json, created_at_ms) VALUES "
        "(1, 'a_1', 'routing.transferred', '{\"data\":{\"note\":\"call back\"}}', 2), "
        "(1, 'a_1', 'routing.resolved', '{\"data\":{\"note\":\"\"}}', 3), "
        "(1, 'a_1', 'agent.unassigned', '{\"note\":\"Herr X\"}', 4), "
        "(1, NULL, 'turn.created', '{\"note\":\"not a note\"}', 5)");
  }

  open_store();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  // INDEXED BY fails to prepare unless the query's condition is the index's own.
  EXPECT_EQ(raw.query("SELECT group_concat(id) FROM (SELECT id FROM events "
                      "INDEXED BY events_with_note WHERE (((type = 'routing.resolved' "
                      "OR type = 'routing.returned' OR type = 'routing.transferred') "
                      "AND json_extract(data_json, '$.data.note') <> '') "
                      "OR (type = 'agent.unassigned' AND json_extract(data_json, '$.note') <> ''))"
                      " AND created_at_ms < 100 ORDER BY created_at_ms)"),
            "1,3");
}

// Rows of a version 7 database keep their evaluations as text; every read of them still sees
// that text, and turns appended after the upgrade are packed.
TEST_F(SchemaUpgradeTest, ReadsTheTextEvaluationsOfAVersionSevenDatabaseAndPacksNewOnes) {
  const std::string suggest =
      R"({"decision":{"action":"suggest","queue":"billing","rule":"mood-dropped"}})";
  const std::string escalate =
      R"({"decision":{"action":"escalate","queue":"general","rule":"asked-for-human"}})";
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v7.db", 7));
  {
    RawDb v7(options_.path);
    insert_old_conversation(v7, "en", 2);
    v7.exec("INSERT INTO turns (conversation, seq, role, text, evaluation_json, content_hash, "
            "created_at_ms) VALUES (1, 1, 'user', 'meh', '" + suggest + "', 'h1', 2), "
            "(1, 2, 'user', 'a person please', '" + escalate + "', 'h2', 3)");
    v7.exec("INSERT INTO events (conversation, type, data_json, created_at_ms) VALUES "
            "(1, 'turn.created', '{\"seq\":2}', 3)");
  }

  open_store();

  Result<std::vector<TurnRecord>> turns = store_->list_turns("c_old", 0, 10);
  ASSERT_TRUE(turns.is_ok()) << turns.status().to_string();
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_EQ((*turns)[0].evaluation_json, suggest);
  EXPECT_EQ((*turns)[1].evaluation_json, escalate);
  Result<std::vector<UnfinishedEscalation>> unfinished =
      store_->list_unfinished_escalations("", 10);
  ASSERT_TRUE(unfinished.is_ok()) << unfinished.status().to_string();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ(unfinished->at(0).turn.evaluation_json, escalate);
  Result<HandoverFacts> facts = store_->read_handover_facts({0, 1000000, {}});
  ASSERT_TRUE(facts.is_ok()) << facts.status().to_string();
  ASSERT_EQ(facts->suggestions.size(), 1u);
  EXPECT_EQ(facts->suggestions[0].rule, "mood-dropped");
  EXPECT_EQ(facts->suggestions[0].queue, "billing");

  AppendTurnRequest request = turn_request("c_old", "still there?");
  request.turn.evaluation_json = suggest;
  ASSERT_TRUE(append(std::move(request)).is_ok());
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT evaluation_json = '' AND length(evaluation_packed) > 0 "
                      "FROM turns WHERE seq = 3"),
            "1");
  EXPECT_EQ(raw.query("SELECT evaluation_packed IS NULL FROM turns WHERE seq = 2"), "1");
  Result<std::vector<TurnRecord>> after = store_->list_turns("c_old", 2, 10);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->at(0).evaluation_json, suggest);
  Result<HandoverFacts> both = store_->read_handover_facts({0, clock_.now_ms() + 1, {}});
  ASSERT_TRUE(both.is_ok()) << both.status().to_string();
  EXPECT_EQ(both->suggestions.size(), 2u);
}

// A version 8 file holds evaluations packed in format 1 (zstd). Step 9 marks the file, so a
// build that knows only version 8 refuses it instead of misreading the format 2 values that
// new turns get; the format 1 rows still read.
TEST_F(SchemaUpgradeTest, ReadsFormatOneRowsOfAVersionEightDatabaseAndPacksNewOnesInFormatTwo) {
  // Format 1 as version 8 wrote it (the value evaluation_packing_test pins).
  const std::string format_one_hex =
      "0128B52FFD24C4250200B061736B65642D666F722D7D5D64652D302E34327D7D7D0D009B450624FE202C278C90"
      "09E7C0A950B0DCC96068678386523B481A1CD0A0D40B398310DC076350E7FA0001C388A0D1";
  const std::string escalate =
      R"({"decision":{"action":"escalate","priority":70,"queue":"general","rule":"asked-)"
      R"(for-human","skills":[]},"fired":[{"rule":"asked-for-human"}],"signals":{"langua)"
      R"(ge":"de","sentiment":{"score":-0.42}}})";
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v8.db", 8));
  {
    RawDb v8(options_.path);
    insert_old_conversation(v8, "de", 1);
    v8.exec("INSERT INTO turns (conversation, seq, role, text, evaluation_json, "
            "evaluation_packed, content_hash, created_at_ms) VALUES (1, 1, 'user', "
            "'ein Mensch bitte', '', X'" + format_one_hex + "', 'h1', 2)");
  }

  open_store();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("SELECT value FROM store_marks WHERE name = 'evaluations_packed_as_format'"),
            "2");
  AppendTurnRequest request = turn_request("c_old", "noch da?");
  request.turn.evaluation_json = escalate;
  ASSERT_TRUE(append(std::move(request)).is_ok());
  EXPECT_EQ(raw.query("SELECT hex(substr(evaluation_packed, 1, 1)) FROM turns WHERE seq = 1"),
            "01");
  EXPECT_EQ(raw.query("SELECT hex(substr(evaluation_packed, 1, 1)) FROM turns WHERE seq = 2"),
            "02");
  Result<std::vector<TurnRecord>> turns = store_->list_turns("c_old", 0, 10);
  ASSERT_TRUE(turns.is_ok()) << turns.status().to_string();
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_EQ((*turns)[0].evaluation_json, escalate);
  EXPECT_EQ((*turns)[1].evaluation_json, escalate);
}

// A version 9 file logs each turn with a turn.created row. Step 10 keeps those rows and gives
// new turns ids from the events' sequence, after every id the file gave out (a deleted event's
// too), so the log reads old and new turns in one order and never hands out an id twice.
TEST_F(SchemaUpgradeTest, KeepsTheTurnCreatedRowsOfAVersionNineFileAndLogsNewTurnsInTheirRows) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v9.db", 9));
  {
    RawDb v9(options_.path);
    insert_old_conversation(v9, "en", 1);
    v9.exec("INSERT INTO turns (conversation, seq, role, text, content_hash, created_at_ms) "
            "VALUES (1, 1, 'user', 'hi', 'h1', 2)");
    v9.exec("INSERT INTO events (conversation, type, data_json, created_at_ms) VALUES "
            "(1, 'turn.created', '{\"seq\":1,\"role\":\"user\",\"state\":\"bot\"}', 2), "
            "(1, 'routing.returned', '{}', 3), (1, 'note.added', '{}', 3)");
    v9.exec("DELETE FROM events WHERE id = 3");
  }

  open_store();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("SELECT value FROM store_marks WHERE name = 'turns_logged_from'"), "4");
  Result<AppendTurnOutcome> appended = append(turn_request("c_old", "and now?"));
  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  ASSERT_EQ(appended->events.size(), 1u);
  EXPECT_EQ(appended->events[0].id, 4);
  EXPECT_EQ(raw.query("SELECT id || ' ' || state_after FROM turns WHERE seq = 2"), "4 bot");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "2");
  EXPECT_EQ(raw.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'"), "4");

  auto read_log = [this] {
    std::vector<std::string> seen;
    Result<std::vector<EventRecord>> log = store_->list_events(EventQuery{});
    EXPECT_TRUE(log.is_ok()) << log.status().to_string();
    if (!log.is_ok()) return seen;
    for (const EventRecord& e : *log) {
      seen.push_back(std::to_string(e.id) + " " + e.type + " " + e.data_json);
    }
    return seen;
  };
  const std::vector<std::string> expected = {
      R"(1 turn.created {"seq":1,"role":"user","state":"bot"})", "2 routing.returned {}",
      R"(4 turn.created {"seq":2,"role":"bot","state":"bot"})"};
  EXPECT_EQ(read_log(), expected);
  EventQuery of_conversation;
  of_conversation.conversation_id = "c_old";
  of_conversation.after_id = 1;
  Result<std::vector<EventRecord>> later = store_->list_events(of_conversation);
  ASSERT_TRUE(later.is_ok()) << later.status().to_string();
  EXPECT_EQ(ids_of(*later), (std::vector<std::int64_t>{2, 4}));

  // The newest turn deleted while the server was down: its id is still not given out again.
  store_.reset();
  raw.exec("DELETE FROM turns WHERE id = 4");
  open_store();
  Result<AppendTurnOutcome> next = append(turn_request("c_old", "hello again"));
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  ASSERT_EQ(next->events.size(), 1u);
  EXPECT_EQ(next->events[0].id, 5);
}

// Escalations stored before step 12 quote what users and callers wrote as well; the index
// built by the step holds them, so the first retention run after the upgrade strips them.
TEST_F(SchemaUpgradeTest, StripsTheHandoverReasonsOfAVersionElevenFile) {
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v11.db", 11));
  {
    RawDb v11(options_.path);
    insert_old_conversation(v11, "de", 0);
    v11.exec("INSERT INTO events (conversation, type, data_json, created_at_ms) VALUES "
             "(1, 'handover.escalated', "
             "'{\"reasons\":{\"source\":\"api\",\"reason\":\"Herr X\"}}', 2)");
  }

  open_store();
  RetentionBatch batch;
  batch.data_class = RetentionClass::kEventTexts;
  batch.cutoff_ms = clock_.now_ms();
  Pending<RetentionOutcome> pending;
  store_->run_retention(batch, pending.callback());
  Result<RetentionOutcome> stripped = pending.get();

  ASSERT_TRUE(stripped.is_ok()) << stripped.status().to_string();
  EXPECT_EQ(stripped->rows, 1);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT json_extract(data_json, '$.reasons.reason') || ' ' || "
                      "json_extract(data_json, '$.redacted') FROM events"),
            " 1");
  EXPECT_NE(raw.query("SELECT sql FROM sqlite_master WHERE name = 'events_with_text'")
                .find("handover.escalated"),
            std::string::npos);
}

// An evaluation can outgrow what is packed (it lists every cue a long text matched); the row
// then keeps it as text, and it reads back whole.
TEST_F(SchemaUpgradeTest, KeepsAnEvaluationTooLargeToPackAsText) {
  ASSERT_TRUE(create("c_1").is_ok());
  const std::string large = "{\"evidence\":\"" + std::string(kMaxEvaluationBytes, 'x') + "\"}";
  AppendTurnRequest request = turn_request("c_1", "a long one");
  request.turn.evaluation_json = large;
  ASSERT_TRUE(append(std::move(request)).is_ok());

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT evaluation_packed IS NULL AND length(evaluation_json) = " +
                      std::to_string(large.size()) + " FROM turns"),
            "1");
  Result<std::vector<TurnRecord>> turns = store_->list_turns("c_1", 0, 10);
  ASSERT_TRUE(turns.is_ok()) << turns.status().to_string();
  ASSERT_EQ(turns->size(), 1u);
  EXPECT_TRUE(turns->at(0).evaluation_json == large);
}

// The export reads a file as it finds it, without migrating: a version 7 file has no packed
// column, and one written since has both kinds of rows.
TEST_F(SchemaUpgradeTest, ExportsTextAndPackedEvaluationsWithoutMigrating) {
  const std::string old_evaluation = R"({"decision":{"action":"none"}})";
  ASSERT_NO_FATAL_FAILURE(reopen_on_file_of_version("v7-export.db", 7));
  {
    RawDb v7(options_.path);
    insert_old_conversation(v7, "en", 1);
    v7.exec("INSERT INTO turns (conversation, seq, role, text, evaluation_json, content_hash, "
            "created_at_ms) VALUES (1, 1, 'user', 'hi', '" + old_evaluation + "', 'h1', 2)");
  }
  auto evaluations = [this] {
    std::vector<std::string> seen;
    Result<std::unique_ptr<DatabaseExport>> exported = DatabaseExport::open(options_.path);
    EXPECT_TRUE(exported.is_ok()) << exported.status().to_string();
    if (!exported.is_ok()) return seen;
    Status walked = (*exported)->for_each_conversation(
        [&seen](const ConversationRecord&, const std::vector<TurnRecord>& turns) {
          for (const TurnRecord& turn : turns) seen.push_back(turn.evaluation_json);
          return Status::ok();
        });
    EXPECT_TRUE(walked.is_ok()) << walked.to_string();
    return seen;
  };
  EXPECT_EQ(evaluations(), std::vector<std::string>{old_evaluation});

  open_store();
  AppendTurnRequest request = turn_request("c_old", "packed now");
  request.turn.evaluation_json = R"({"decision":{"action":"suggest"}})";
  ASSERT_TRUE(append(std::move(request)).is_ok());
  store_.reset();

  EXPECT_EQ(evaluations(), (std::vector<std::string>{old_evaluation,
                                                     R"({"decision":{"action":"suggest"}})"}));
}

// A turn of about 1 KB is larger than a WITHOUT ROWID page keeps in place; it must not cost
// an overflow page of its own (about 4 KiB of file per turn).
TEST_F(SchemaUpgradeTest, TurnsOfAboutOneKilobyteStayOnTheirPages) {
  ASSERT_TRUE(create("c_1").is_ok());
  RawDb raw(options_.path);
  const std::int64_t pages_before = std::stoll(raw.query("PRAGMA page_count"));
  constexpr int kTurns = 300;

  for (int i = 0; i < kTurns; ++i) {
    // Text that does not compress, so that the row stays about 1 KB: evaluations are
    // stored packed (evaluation_packing.hpp).
    std::string text = "turn " + std::to_string(i) + " ";
    std::uint64_t x = 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(i + 1);
    while (text.size() < 1100) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      text += static_cast<char>('a' + x % 26);
    }
    AppendTurnRequest request = turn_request("c_1", text);
    request.turn.content_hash = "hash-" + std::to_string(i);
    ASSERT_TRUE(append(std::move(request)).is_ok());
  }
  store_.reset();  // folds the WAL into the file

  const std::int64_t pages_after = std::stoll(raw.query("PRAGMA page_count"));
  const std::int64_t page_size = std::stoll(raw.query("PRAGMA page_size"));
  const std::int64_t bytes_per_turn = (pages_after - pages_before) * page_size / kTurns;
  EXPECT_LT(bytes_per_turn, 2500) << "an overflow page per turn would make it about 5,000";
}

TEST_F(SchemaUpgradeTest, KeepsEventsAgentsAndStatesAcrossReopen) {
  ASSERT_TRUE(create("c_1").is_ok());
  ConversationUpdate change;
  change.id = "c_1";
  change.new_state = "queued";
  change.events = {event("handover.queued")};
  Result<ConversationUpdateOutcome> updated = update(std::move(change));
  ASSERT_TRUE(updated.is_ok());
  ASSERT_TRUE(create_agent(agent("a_1", "hash-1")).is_ok());

  reopen_store();

  std::vector<EventRecord> stored = events();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].id, updated->events[0].id);
  EXPECT_EQ(stored[0].conversation_id, "c_1");
  EXPECT_EQ(stored[0].created_at_ms, updated->events[0].created_at_ms);
  EXPECT_EQ(store_->get_agent_by_token_hash("hash-1")->id, "a_1");
  Result<std::vector<ConversationRecord>> queued =
      store_->list_conversations_in_states({"queued"}, 10);
  ASSERT_TRUE(queued.is_ok());
  EXPECT_EQ(ids_of(*queued), (std::vector<std::string>{"c_1"}));
  Result<std::vector<EventRecord>> next = append_events({event("offer.created", "c_1", "a_1")});
  ASSERT_TRUE(next.is_ok());
  EXPECT_GT((*next)[0].id, stored[0].id);
}

}  // namespace
}  // namespace handover::store

namespace handover::store {
namespace {

// ---- Delivery cursors ----------------------------------------------------------------------

class CursorTest : public StoreTestBase {
 protected:
  Result<bool> put(const std::string& name, std::int64_t id) {
    Pending<bool> pending;
    store_->put_cursor(name, id, pending.callback());
    return pending.get();
  }
};

TEST_F(CursorTest, StoresReplacesAndKeepsCursorsAcrossReopen) {
  ASSERT_TRUE(put("webhook:crm", 7).is_ok());
  ASSERT_TRUE(put("webhook:crm", 12).is_ok());
  ASSERT_TRUE(put("webhook:bi", 3).is_ok());

  reopen_store();

  EXPECT_EQ(store_->get_cursor("webhook:crm").value(), 12);
  EXPECT_EQ(store_->get_cursor("webhook:bi").value(), 3);
}

TEST_F(CursorTest, AnUnknownCursorIsNotFound) {
  EXPECT_EQ(store_->get_cursor("webhook:none").status().code(), StatusCode::kNotFound);
}

TEST_F(CursorTest, RefusesAnEmptyNameOrNegativeId) {
  EXPECT_EQ(put("", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put("webhook:crm", -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->get_cursor("webhook:crm").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace handover::store

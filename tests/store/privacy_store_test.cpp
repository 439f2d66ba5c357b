// The store's privacy operations: audit trail, erasure, export, retention batches and
// free-space reclaim, on a real SQLite file with a fake clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "handover/store/database_export.hpp"
#include "event_texts.hpp"
#include "handover/store/store.hpp"
#include "store_test_support.hpp"

namespace handover::store {
namespace {

constexpr std::int64_t kSecond = 1000;

class PrivacyStoreTest : public StoreTestBase {
 protected:
  void create(const std::string& id, const std::string& customer = "cust-1") {
    ConversationRecord record;
    record.id = id;
    record.channel = "web";
    record.language = "de";
    record.customer_id = customer;
    record.customer_json = R"({"name":"Erika Mustermann"})";
    record.token_hash = "hash-" + id;
    record.privacy_notice_version = "2024-05";
    Pending<ConversationRecord> pending;
    store_->create_conversation(std::move(record), pending.callback());
    ASSERT_TRUE(pending.get().is_ok());
  }
  void turn(const std::string& id, const std::string& text) {
    AppendTurnRequest request;
    request.turn.conversation_id = id;
    request.turn.role = "user";
    request.turn.text = text;
    request.turn.content_hash = "h-" + text;
    Pending<AppendTurnOutcome> pending;
    store_->append_turn(std::move(request), pending.callback());
    ASSERT_TRUE(pending.get().is_ok());
  }
  void event(const std::string& id, const std::string& type, const std::string& data,
             const std::string& agent = "") {
    EventRecord record;
    record.conversation_id = id;
    record.agent_id = agent;
    record.type = type;
    record.data_json = data;
    Pending<std::vector<EventRecord>> pending;
    store_->append_events({record}, pending.callback());
    ASSERT_TRUE(pending.get().is_ok());
  }
  void set_state(const std::string& id, const std::string& state) {
    ConversationUpdate update;
    update.id = id;
    update.new_state = state;
    Pending<ConversationUpdateOutcome> pending;
    store_->update_conversation(std::move(update), pending.callback());
    ASSERT_TRUE(pending.get().is_ok());
  }
  Result<AuditRecord> audit(const std::string& conversation, const std::string& customer,
                            const std::string& action = "conversation.read") {
    AuditRecord record;
    record.actor_kind = "agent";
    record.actor_id = "a_1";
    record.action = action;
    record.reason = "assigned";
    record.conversation_id = conversation;
    record.customer_id = customer;
    Pending<AuditRecord> pending;
    store_->append_audit(std::move(record), pending.callback());
    return pending.get();
  }
  Result<ErasureOutcome> erase(const std::string& customer) {
    return erase_async(customer).get();
  }
  std::int64_t retire(RetentionClass data_class, std::int64_t cutoff_ms, std::size_t limit = 500) {
    RetentionBatch batch;
    batch.data_class = data_class;
    batch.cutoff_ms = cutoff_ms;
    batch.limit = limit;
    Pending<RetentionOutcome> pending;
    store_->run_retention(batch, pending.callback());
    Result<RetentionOutcome> outcome = pending.get();
    EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    return outcome.is_ok() ? outcome->rows : -1;
  }
  std::string count(const std::string& table) {
    RawDb raw(options_.path);
    return raw.query("SELECT count(*) FROM " + table);
  }
};

// ---- Audit trail ---------------------------------------------------------------------------

TEST_F(PrivacyStoreTest, ListsAuditRecordsByCustomerConversationAndTime) {
  ASSERT_TRUE(audit("c_1", "cust-1").is_ok());
  clock_.advance_ms(10 * kSecond);
  ASSERT_TRUE(audit("c_2", "cust-1").is_ok());
  ASSERT_TRUE(audit("c_3", "cust-2").is_ok());
  const std::int64_t later = clock_.now_ms();

  AuditQuery by_customer;
  by_customer.customer_id = "cust-1";
  AuditQuery by_conversation;
  by_conversation.conversation_id = "c_3";
  AuditQuery both;
  both.customer_id = "cust-1";
  both.conversation_id = "c_2";
  AuditQuery recent;
  recent.from_ms = later;
  auto customer = store_->list_audit(by_customer);
  auto conversation = store_->list_audit(by_conversation);
  auto narrowed = store_->list_audit(both);
  auto newest = store_->list_audit(recent);

  ASSERT_TRUE(customer.is_ok() && conversation.is_ok() && narrowed.is_ok() && newest.is_ok());
  ASSERT_EQ(customer->size(), 2u);
  EXPECT_EQ((*customer)[0].conversation_id, "c_1");
  EXPECT_LT((*customer)[0].id, (*customer)[1].id);
  EXPECT_EQ((*customer)[1].actor_id, "a_1");
  EXPECT_EQ((*customer)[1].reason, "assigned");
  ASSERT_EQ(conversation->size(), 1u);
  EXPECT_EQ((*conversation)[0].customer_id, "cust-2");
  ASSERT_EQ(narrowed->size(), 1u);
  EXPECT_EQ((*narrowed)[0].conversation_id, "c_2");
  EXPECT_EQ(newest->size(), 2u);
}

TEST_F(PrivacyStoreTest, RefusesAuditRecordWithoutAction) {
  Result<AuditRecord> bad = audit("c_1", "cust-1", "");

  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(count("audit_log"), "0");
}

// ---- Erasure and export --------------------------------------------------------------------

TEST_F(PrivacyStoreTest, ErasureRemovesEveryRowOfTheCustomerAndKeepsAnAnonymisedRecord) {
  create("c_1");
  create("c_2");
  create("c_other", "cust-2");
  turn("c_1", "Meine IBAN ist geheim");
  turn("c_2", "Hallo");
  turn("c_other", "Hi");
  event("c_1", "handover.escalated", R"({"snapshot":{"history":[]}})");
  ASSERT_TRUE(audit("c_1", "cust-1").is_ok());
  ASSERT_TRUE(audit("c_2", "").is_ok());
  ASSERT_TRUE(audit("c_other", "cust-2").is_ok());

  Result<ErasureOutcome> first = erase("cust-1");
  Result<ErasureOutcome> second = erase("cust-1");

  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->conversations, 2);
  EXPECT_EQ(first->turns, 2);
  EXPECT_EQ(first->events, 3);  // each turn's turn.created and the escalation
  EXPECT_EQ(first->audit_records, 2);
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->conversations + second->turns + second->events + second->audit_records, 0);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM conversations WHERE customer_id = 'cust-1'"), "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM turns"), "1");
  // c_other's turn.created is its turn's row (schema step 10); nothing else is left.
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events AS e JOIN conversations AS c "
                      "ON c.pk = e.conversation WHERE c.customer_id = 'cust-1'"),
            "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM audit_log WHERE action = 'conversation.read'"), "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM audit_log WHERE customer_id = 'cust-1' "
                      "OR data_json LIKE '%cust-1%'"),
            "0");
  EXPECT_EQ(
      raw.query("SELECT data_json FROM audit_log WHERE id = " + std::to_string(first->audit_id)),
      R"({"conversations":2,"turns":2,"events":3,"audit_records":2})");
}

// get_conversation keeps rows in memory; erasure and retention must not leave them there.
TEST_F(PrivacyStoreTest, ErasedAndRetiredConversationsAreNotReadFromMemory) {
  create("c_erased");
  create("c_idle", "cust-2");
  ASSERT_TRUE(store_->get_conversation("c_erased").is_ok());  // now kept in memory
  ASSERT_TRUE(store_->get_conversation("c_idle").is_ok());

  ASSERT_TRUE(erase("cust-1").is_ok());
  EXPECT_EQ(store_->get_conversation("c_erased").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->get_conversation("c_idle").is_ok());
  clock_.advance_ms(10 * kSecond);
  EXPECT_EQ(retire(RetentionClass::kConversations, clock_.now_ms()), 1);
  EXPECT_EQ(store_->get_conversation("c_idle").status().code(), StatusCode::kNotFound);
}

TEST_F(PrivacyStoreTest, ErasureWaitsUntilNoPersonHoldsAConversation) {
  create("c_1");
  set_state("c_1", "agent");

  Result<ErasureOutcome> refused = erase("cust-1");

  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_EQ(count("conversations"), "1");
  EXPECT_EQ(count("audit_log"), "0");
}

TEST_F(PrivacyStoreTest, ExportHoldsConversationsTurnsEventsAndAuditOfTheCustomer) {
  create("c_1");
  create("c_other", "cust-2");
  turn("c_1", "eins");
  turn("c_1", "zwei");
  event("c_1", "handover.requested", R"({"rule":"r1"})");
  ASSERT_TRUE(audit("c_1", "cust-1").is_ok());
  ASSERT_TRUE(audit("c_other", "cust-2").is_ok());

  Result<CustomerExport> exported = store_->export_customer("cust-1");
  Result<CustomerExport> nobody = store_->export_customer("cust-none");

  ASSERT_TRUE(exported.is_ok()) << exported.status().to_string();
  ASSERT_EQ(exported->conversations.size(), 1u);
  const auto& conversation = exported->conversations[0];
  EXPECT_EQ(conversation.record.id, "c_1");
  EXPECT_EQ(conversation.record.privacy_notice_version, "2024-05");
  ASSERT_EQ(conversation.turns.size(), 2u);
  EXPECT_EQ(conversation.turns[1].text, "zwei");
  ASSERT_EQ(conversation.events.size(), 3u);  // two turn.created, then the handover
  EXPECT_EQ(conversation.events[0].type, kTurnCreatedEvent);
  EXPECT_EQ(conversation.events[2].type, "handover.requested");
  ASSERT_EQ(exported->audit.size(), 1u);
  EXPECT_EQ(exported->audit[0].conversation_id, "c_1");
  ASSERT_TRUE(nobody.is_ok());
  EXPECT_TRUE(nobody->conversations.empty());
  EXPECT_EQ(store_->export_customer("").status().code(), StatusCode::kInvalidArgument);
}

// ---- Retention -----------------------------------------------------------------------------

TEST_F(PrivacyStoreTest, RetiresExactlyTheTurnsOlderThanTheCutoffInBatches) {
  create("c_1");
  create("c_busy");
  for (const char* text : {"a", "b", "c"}) turn("c_1", text);
  turn("c_busy", "old but with an agent");
  set_state("c_busy", "agent");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  turn("c_1", "d");
  turn("c_1", "e");

  const std::int64_t first = retire(RetentionClass::kTurns, cutoff, 2);
  const std::int64_t second = retire(RetentionClass::kTurns, cutoff, 2);
  const std::int64_t third = retire(RetentionClass::kTurns, cutoff, 2);

  EXPECT_EQ(first, 2);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(third, 0);
  auto left = store_->list_turns("c_1", 0, 10);
  ASSERT_TRUE(left.is_ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].text, "d");
  EXPECT_EQ((*left)[1].text, "e");
  EXPECT_EQ(store_->list_turns("c_busy", 0, 10)->size(), 1u);

  // The retired turns' turn.created events stay in the log, in their place, as rows of their
  // own that follow the events' retention; no event is lost or told twice.
  Result<std::vector<EventRecord>> log = store_->list_events(EventQuery{});
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  std::vector<std::string> seen;
  for (const EventRecord& e : *log) {
    seen.push_back(e.conversation_id + " " + e.type + " " + e.data_json);
  }
  const std::vector<std::string> expected = {
      R"(c_1 turn.created {"seq":1,"role":"user","state":"bot"})",
      R"(c_1 turn.created {"seq":2,"role":"user","state":"bot"})",
      R"(c_1 turn.created {"seq":3,"role":"user","state":"bot"})",
      R"(c_busy turn.created {"seq":1,"role":"user","state":"bot"})",
      R"(c_1 turn.created {"seq":4,"role":"user","state":"bot"})",
      R"(c_1 turn.created {"seq":5,"role":"user","state":"bot"})"};
  EXPECT_EQ(seen, expected);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT group_concat(json_extract(data_json, '$.seq')) FROM events "
                      "WHERE type = 'turn.created'"),
            "1,2,3");
}

// Agents' feedback names the last turn before the escalation it judges; the turns may be
// retired long before the feedback is exported, and the turn's number must outlive them.
TEST_F(PrivacyStoreTest, FeedbackStillNamesTheEscalatedTurnAfterItsTurnsAreRetired) {
  create("c_1");
  turn("c_1", "hello");
  turn("c_1", "a person please");
  event("c_1", "handover.escalated", R"({"queue":"general","reasons":{"rule":"asked"}})");
  turn("c_1", "thanks");
  event("c_1", "routing.resolved", R"({"agent_id":"a_1","data":{"justified":"yes"}})");
  clock_.advance_ms(10 * kSecond);
  ASSERT_EQ(retire(RetentionClass::kTurns, clock_.now_ms()), 3);

  Result<std::unique_ptr<DatabaseExport>> exported = DatabaseExport::open(options_.path);
  ASSERT_TRUE(exported.is_ok()) << exported.status().to_string();
  Result<std::vector<FeedbackRecord>> feedback = (*exported)->feedback();
  ASSERT_TRUE(feedback.is_ok()) << feedback.status().to_string();
  ASSERT_EQ(feedback->size(), 1u);
  EXPECT_EQ(feedback->at(0).justified, "yes");
  EXPECT_EQ(feedback->at(0).rule, "asked");
  EXPECT_EQ(feedback->at(0).escalated_turn, 2);
}

TEST_F(PrivacyStoreTest, RetiresIdleConversationsWithEverythingButLeavesBusyOnes) {
  create("c_idle");
  create("c_queued");
  turn("c_idle", "alt");
  event("c_idle", "handover.requested", "{}");
  set_state("c_queued", "queued");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  create("c_fresh");

  RetentionBatch batch;
  batch.data_class = RetentionClass::kConversations;
  batch.cutoff_ms = cutoff;
  Pending<RetentionOutcome> pending;
  store_->run_retention(batch, pending.callback());
  Result<RetentionOutcome> outcome = pending.get();

  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->rows, 1);
  EXPECT_EQ(outcome->conversation_ids, std::vector<std::string>{"c_idle"});
  EXPECT_EQ(count("conversations"), "2");
  EXPECT_EQ(count("turns"), "0");
  EXPECT_EQ(count("events"), "0");
}

TEST_F(PrivacyStoreTest, StripsOldSnapshotsAndNotesOnceAndKeepsTheEvents) {
  create("c_1");
  event("c_1", "handover.escalated", R"({"queue":"general","snapshot":{"history":["x"]}})");
  event(
      "c_1", "routing.resolved",
      R"({"agent_id":"a_1","at_ms":1,)"
      R"("data":{"justified":"yes","reason_code":"ok","note":"Kunde Herr X"}})");
  event("c_1", "agent.unassigned", R"({"reason":"resolved","note":"Herr X"})", "a_1");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  event("c_1", "handover.escalated", R"({"queue":"general","snapshot":{"history":["new"]}})");

  EXPECT_EQ(retire(RetentionClass::kSnapshots, cutoff), 1);
  EXPECT_EQ(retire(RetentionClass::kSnapshots, cutoff), 0);
  EXPECT_EQ(retire(RetentionClass::kFeedback, cutoff), 2);
  EXPECT_EQ(retire(RetentionClass::kFeedback, cutoff), 0);

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "4");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%snapshot%'"), "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%Herr X%'"), "0");
  EXPECT_EQ(raw.query("SELECT json_extract(data_json, '$.data.reason_code') FROM events "
                      "WHERE type = 'routing.resolved'"),
            "ok");
  EXPECT_EQ(raw.query("SELECT json_extract(data_json, '$.queue') FROM events ORDER BY id"),
            "general");
}

// Relayed turns and rating comments copy what users and agents wrote into the event log; the
// copies go by the turns' period, not the events' much longer one.
TEST_F(PrivacyStoreTest, StripsTextsCopiedIntoEventsOnceAndKeepsTheEvents) {
  create("c_1");
  create("c_busy");
  const std::string relayed =
      R"({"conversation_id":"c_1","turn":{"actions":[{"type":"link"}],"created_at":"x",)"
      R"("id":null,"metadata":{"order":"A-1"},"role":"user","seq":1,"text":"Herr X hier"}})";
  event("c_1", "agent.turn", relayed, "a_1");
  event("c_1", "handover.rated", R"({"rating":5,"comment":"Danke, Herr X","agent_id":"a_1"})");
  event("c_busy", "agent.turn", R"({"conversation_id":"c_busy","turn":{"text":"Frau Y"}})", "a_1");
  set_state("c_busy", "agent");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  event("c_1", "agent.turn", R"({"conversation_id":"c_1","turn":{"text":"neu"}})", "a_1");

  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff, 1), 1);
  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff), 1);
  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff), 0);

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "4");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%Herr X%'"), "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%A-1%'"), "0");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%Frau Y%'"), "1");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%neu%'"), "1");
  EXPECT_EQ(raw.query("SELECT json_extract(data_json, '$.rating') FROM events "
                      "WHERE type = 'handover.rated'"),
            "5");
  EXPECT_EQ(raw.query("SELECT json_extract(data_json, '$.turn.seq') || ' ' || "
                      "json_extract(data_json, '$.redacted') FROM events "
                      "WHERE type = 'agent.turn' ORDER BY id LIMIT 1"),
            "1 1");
}

// Why a conversation was handed over quotes what the user wrote (the words each fired rule's
// evidence matched) and, for a handover asked for over the API, the caller's free-text reason.
// Those go by the turns' period too; rule ids, checks, cues and families stay for analytics.
TEST_F(PrivacyStoreTest, StripsWhatHandoverReasonsQuoteOnceAndKeepsWhatAnalyticsReads) {
  create("c_1");
  create("c_busy");
  const std::string fired =
      R"([{"action":"escalate","checks":[{"expression":"request.human","field":"request.human",)"
      R"("value":1}],"evidence":[{"cue":"human","family":"request","text":"mit herrn x reden"}],)"
      R"("id":"explicit-request","mode":"active","priority":100,"suppressed":"none"}])";
  event("c_1", "handover.escalated",
        R"({"queue":"general","priority":100,"reasons":{"rule":"explicit-request","fired":)" +
            fired + R"(},"snapshot":{"history":["snapshot text"]}})");
  event("c_1", "handover.requested",
        R"({"rule":"explicit-request","queue":"general","reasons":)" + fired + "}");
  event("c_1", "handover.escalated",
        R"({"queue":"general","reasons":{"source":"api","reason":"Rueckruf an Herrn X",)"
        R"("key":"bot"}})");
  event("c_1", "handover.escalated", R"({"queue":"general"})");
  event("c_busy", "handover.escalated",
        R"({"queue":"general","reasons":{"source":"api","reason":"Frau Y","key":"bot"}})");
  set_state("c_busy", "agent");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  event("c_1", "handover.requested", R"({"rule":"r","reasons":)" + fired + "}");

  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff, 3), 3);
  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff), 1);
  EXPECT_EQ(retire(RetentionClass::kEventTexts, cutoff), 0);

  RawDb raw(options_.path);
  auto of_id = [&raw](int id, const std::string& path) {
    return raw.query("SELECT json_extract(data_json, '" + path + "') FROM events WHERE id = " +
                     std::to_string(id));
  };
  EXPECT_EQ(raw.query("SELECT group_concat(id) FROM events WHERE data_json LIKE '%herrn x%' "
                      "OR data_json LIKE '%Herrn X%'"),
            "6");
  EXPECT_EQ(raw.query("SELECT count(*) FROM events WHERE data_json LIKE '%Frau Y%'"), "1");
  EXPECT_EQ(raw.query("SELECT group_concat(marked) FROM (SELECT "
                      "coalesce(json_extract(data_json, '$.redacted'), 0) AS marked "
                      "FROM events ORDER BY id)"),
            "1,1,1,1,0,0");
  EXPECT_EQ(of_id(1, "$.reasons.rule"), "explicit-request");
  EXPECT_EQ(of_id(1, "$.reasons.fired[0].id"), "explicit-request");
  EXPECT_EQ(of_id(1, "$.reasons.fired[0].checks[0].field"), "request.human");
  EXPECT_EQ(of_id(1, "$.reasons.fired[0].evidence[0].cue"), "human");
  EXPECT_EQ(of_id(1, "$.reasons.fired[0].evidence[0].family"), "request");
  EXPECT_EQ(of_id(1, "$.reasons.fired[0].evidence[0].text"), "");
  EXPECT_EQ(of_id(1, "$.snapshot.history[0]"), "snapshot text") << "the snapshots' own class";
  EXPECT_EQ(of_id(2, "$.rule"), "explicit-request");
  EXPECT_EQ(of_id(2, "$.reasons[0].evidence[0].cue"), "human");
  EXPECT_EQ(of_id(2, "$.reasons[0].evidence[0].text"), "");
  EXPECT_EQ(of_id(3, "$.reasons.source") + " " + of_id(3, "$.reasons.key"), "api bot");
  EXPECT_EQ(of_id(3, "$.reasons.reason"), "");
  EXPECT_EQ(raw.query("SELECT json_type(data_json, '$.reasons') FROM events WHERE id = 4"), "");
}

// What the retention job stores in place of a quote, for each shape a trace may have.
TEST(StripHandoverReasonsTest, BlanksQuotesAndReasonsAndLeavesEverythingElse) {
  struct Case {
    const char* reasons;
    const char* stripped;
  };
  const Case cases[] = {
      {R"({"rule":"r","fired":[{"id":"r","evidence":[{"cue":"c","family":"anger","text":"t"}]}]})",
       R"({"fired":[{"evidence":[{"cue":"c","family":"anger","text":""}],"id":"r"}],"rule":"r"})"},
      {R"([{"id":"r","evidence":[{"text":"t"},"odd",{"cue":"c"}]},{"id":"s"}])",
       R"([{"evidence":[{"text":""},"odd",{"cue":"c"}],"id":"r"},{"id":"s"}])"},
      {R"({"source":"api","reason":"call me back","key":"bot"})",
       R"({"key":"bot","reason":"","source":"api"})"},
      {R"({"rule":"r","suggested_by":"s","fired":"odd"})",
       R"({"fired":"odd","rule":"r","suggested_by":"s"})"},
      {"[]", "[]"},
      {"not json", "not json"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.reasons);
    EXPECT_EQ(strip_handover_reasons(c.reasons), c.stripped);
  }
}

TEST_F(PrivacyStoreTest, RetiresEventsOfIdleConversationsAndOldAgentEventsOnly) {
  create("c_idle");
  create("c_active");
  event("c_idle", "handover.requested", "{}");
  event("c_active", "handover.requested", "{}");
  event("", "routing.agent_online", "{}", "a_1");
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  turn("c_active", "still talking");

  EXPECT_EQ(retire(RetentionClass::kEvents, cutoff), 2);

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM events"), "1");
  EXPECT_EQ(raw.query("SELECT c.public_id FROM events AS e JOIN conversations AS c "
                      "ON c.pk = e.conversation"),
            "c_active");
  // c_active's handover.requested, and the turn.created of its new turn.
  Result<std::vector<EventRecord>> left = store_->list_events(EventQuery{});
  ASSERT_TRUE(left.is_ok()) << left.status().to_string();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ(left->at(0).type, "handover.requested");
  EXPECT_EQ(left->at(1).type, "turn.created");
  EXPECT_EQ(left->at(1).conversation_id, "c_active");
}

TEST_F(PrivacyStoreTest, RetiresAuditRecordsByAge) {
  ASSERT_TRUE(audit("c_1", "cust-1").is_ok());
  clock_.advance_ms(10 * kSecond);
  const std::int64_t cutoff = clock_.now_ms();
  ASSERT_TRUE(audit("c_2", "cust-1").is_ok());

  EXPECT_EQ(retire(RetentionClass::kAccessLog, cutoff), 1);

  auto left = store_->list_audit(AuditQuery{});
  ASSERT_TRUE(left.is_ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].conversation_id, "c_2");
}

TEST_F(PrivacyStoreTest, NewFilesGiveFreedPagesBack) {
  ASSERT_TRUE(store_->stats().incremental_vacuum);
  create("c_1");
  const std::string text(4000, 'x');
  for (int i = 0; i < 200; ++i) turn("c_1", text + std::to_string(i));
  clock_.advance_ms(kSecond);
  ASSERT_EQ(retire(RetentionClass::kTurns, clock_.now_ms(), 1000), 200);

  Pending<std::int64_t> reclaimed;
  store_->reclaim_space(100000, reclaimed.callback());
  Result<std::int64_t> pages = reclaimed.get();

  ASSERT_TRUE(pages.is_ok()) << pages.status().to_string();
  EXPECT_GT(*pages, 100);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("PRAGMA freelist_count"), "0");
}

}  // namespace
}  // namespace handover::store

// The conversation cache keeps rows equal to the database: patched by the writer after each
// commit, and never filled with a row read before a commit it has not seen.
#include "conversation_cache.hpp"

#include <gtest/gtest.h>

namespace handover::store {
namespace {

ConversationRecord row(const std::string& id, std::int64_t last_seq = 0) {
  ConversationRecord record;
  record.id = id;
  record.channel = "web";
  record.state = "bot";
  record.customer_json = R"({"tier":"gold"})";
  record.metadata_json = R"({"page":"/"})";
  record.last_seq = last_seq;
  return record;
}

TEST(ConversationCacheTest, FindsAnOfferedRowAndNothingElse) {
  ConversationCache cache(8);
  cache.offer(row("c_1", 3), cache.generation());

  std::optional<ConversationRecord> found = cache.find("c_1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->last_seq, 3);
  EXPECT_EQ(found->customer_json, R"({"tier":"gold"})");
  EXPECT_FALSE(cache.find("c_2"));
}

TEST(ConversationCacheTest, RefusesARowReadBeforeACommit) {
  ConversationCache cache(8);
  const std::uint64_t before = cache.generation();
  cache.begin_commit();  // a commit lands while the reader is still reading
  cache.offer(row("c_1", 1), before);

  EXPECT_FALSE(cache.find("c_1"));
  cache.offer(row("c_1", 2), cache.generation());
  ASSERT_TRUE(cache.find("c_1"));
  EXPECT_EQ(cache.find("c_1")->last_seq, 2);
}

TEST(ConversationCacheTest, AdvancePatchesWhatAHeadChanges) {
  ConversationCache cache(8);
  cache.offer(row("c_1", 1), cache.generation());

  cache.begin_commit();
  cache.advance("c_1", 2, 5000, "queued", std::nullopt);
  ConversationRecord kept = *cache.find("c_1");
  EXPECT_EQ(kept.last_seq, 2);
  EXPECT_EQ(kept.updated_at_ms, 5000);
  EXPECT_EQ(kept.state, "queued");
  EXPECT_EQ(kept.metadata_json, R"({"page":"/"})");  // not replaced
  EXPECT_EQ(kept.customer_json, R"({"tier":"gold"})");

  cache.begin_commit();
  cache.advance("c_1", 2, 6000, "queued", std::string(R"({"page":"/pay"})"));
  EXPECT_EQ(cache.find("c_1")->metadata_json, R"({"page":"/pay"})");

  cache.advance("c_9", 1, 6000, "bot", std::nullopt);  // not kept: nothing to patch
  EXPECT_FALSE(cache.find("c_9"));
}

TEST(ConversationCacheTest, ClearDropsEveryRowAndRowsReadBeforeIt) {
  ConversationCache cache(8);
  const std::uint64_t before = cache.generation();
  cache.offer(row("c_1"), before);
  cache.offer(row("c_2"), before);

  cache.clear();
  EXPECT_EQ(cache.size(), 0U);
  cache.offer(row("c_3"), before);
  EXPECT_FALSE(cache.find("c_3"));
}

TEST(ConversationCacheTest, DropsTheOldestRowsBeyondItsCapacity) {
  ConversationCache cache(2);
  cache.offer(row("c_1"), cache.generation());
  cache.offer(row("c_2"), cache.generation());
  cache.offer(row("c_2", 7), cache.generation());  // replaces, keeps its place
  cache.offer(row("c_3"), cache.generation());

  EXPECT_EQ(cache.size(), 2U);
  EXPECT_FALSE(cache.find("c_1"));
  ASSERT_TRUE(cache.find("c_2"));
  EXPECT_EQ(cache.find("c_2")->last_seq, 7);
  EXPECT_TRUE(cache.find("c_3"));
}

TEST(ConversationCacheTest, KeepsNothingWithoutCapacity) {
  ConversationCache cache(0);
  cache.offer(row("c_1"), cache.generation());
  EXPECT_FALSE(cache.find("c_1"));
  EXPECT_EQ(cache.size(), 0U);
}

}  // namespace
}  // namespace handover::store

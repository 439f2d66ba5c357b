// Packed trigger evaluations: they come back byte for byte, take a fraction of their text,
// stay readable across releases, and damaged ones are refused instead of misread.
#include "evaluation_packing.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <zstd.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sqlite.hpp"

namespace handover::store {
namespace {

// An evaluation as the trigger engine writes it for an ordinary user turn.
constexpr const char* kEvaluation =
    R"({"decision":{"action":"none"},"evidence":[{"cue":"cancel","family":"value","text":"cance)"
    R"(l"}],"fired":[],"rule_set":{"hash":"f79c8dd03420b96e","loaded_at":"2026-12-05T17:54:28.5)"
    R"(03Z"},"signals":{"ambiguity":{"score":0.0,"short":false,"unknown_share":0.15384615384615)"
    R"(385,"vague":false},"anger":{"count":0,"cue":false,"insult":false,"score":0.075,"shouting)"
    R"(":false},"complexity":{"no_progress":0,"questions":0,"repeated":false,"repeats":0,"score)"
    R"(":0.0325,"topics":1,"words":13},"language":"en","language_supported":true,"request":{"c)"
    R"(ount":0,"declined":false,"human":false,"offer_pending":false},"risk":{"churn":false,"co)"
    R"(unt":0,"legal":false,"public_complaint":false},"role":"user","sentiment":{"drop":0.0,"me)"
    R"(an":-0.25,"min":-0.25,"score":-0.25,"scored":true,"start":-0.25},"turns":{"bot":0,"tota)"
    R"(l":1,"user":1},"uncertainty":{"bot_handover":false,"bot_unreachable":false,"confidence")"
    R"(:1.0,"fallback":false,"fallbacks":0,"hedge":false,"low_streak":0,"score":0.0},"value":{)"
    R"("cancel":true,"lifetime":0.0,"order":0.0,"purchase":false,"score":0.2,"upgrade":false}}})";

// FNV-1a over the dictionary's bytes.
std::uint64_t fingerprint(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

TEST(EvaluationPackingTest, UnpacksToTheSameBytesInAFractionOfTheSpace) {
  const std::string packed = pack_evaluation(kEvaluation);
  std::string json = "left over";
  ASSERT_TRUE(unpack_evaluation(packed, json));
  EXPECT_EQ(json, kEvaluation);
  EXPECT_LT(packed.size() * 4, std::string(kEvaluation).size())
      << "packed " << packed.size() << " bytes";
  // A queued append holds this until its commit: it must not keep the worst-case room.
  EXPECT_LT(packed.capacity(), 2 * packed.size());
}

TEST(EvaluationPackingTest, PacksNothingAsNothing) {
  EXPECT_EQ(pack_evaluation(""), "");
  std::string json = "left over";
  EXPECT_FALSE(unpack_evaluation("", json));
  EXPECT_EQ(json, "");
}

TEST(EvaluationPackingTest, PacksTextUnlikeTheDictionaryToo) {
  std::string text = "{\"note\":\"";
  for (int i = 0; i < 5000; ++i) text += static_cast<char>('!' + (i * 7919) % 90);
  text += "\"}";
  std::string json;
  ASSERT_TRUE(unpack_evaluation(pack_evaluation(text), json));
  EXPECT_EQ(json, text);
}

constexpr const char* kSmallEvaluation =
    R"({"decision":{"action":"escalate","priority":70,"queue":"general","rule":"asked-)"
    R"(for-human","skills":[]},"fired":[{"rule":"asked-for-human"}],"signals":{"langua)"
    R"(ge":"de","sentiment":{"score":-0.42}}})";

// Rows written by earlier releases hold exactly these bytes: format 1 must read them forever.
// A changed dictionary or a changed meaning of the format byte fails here.
TEST(EvaluationPackingTest, ReadsWhatFormatOneWroteBefore) {
  const std::string stored(
      "\x01\x28\xb5\x2f\xfd\x24\xc4\x25\x02\x00\xb0\x61\x73\x6b\x65\x64\x2d\x66\x6f\x72\x2d\x7d"
      "\x5d\x64\x65\x2d\x30\x2e\x34\x32\x7d\x7d\x7d\x0d\x00\x9b\x45\x06\x24\xfe\x20\x2c\x27\x8c"
      "\x90\x09\xe7\xc0\xa9\x50\xb0\xdc\xc9\x60\x68\x67\x83\x86\x52\x3b\x48\x1a\x1c\xd0\xa0\xd4"
      "\x0b\x39\x83\x10\xdc\x07\x63\x50\xe7\xfa\x00\x01\xc3\x88\xa0\xd1",
      82);
  std::string json;
  ASSERT_TRUE(unpack_evaluation(stored, json));
  EXPECT_EQ(json, kSmallEvaluation);
  EXPECT_EQ(evaluation_dictionary_v1().size(), 9475u);
  EXPECT_EQ(fingerprint(evaluation_dictionary_v1()), 5825253418093096972ULL);
}

// The same for format 2, which is what pack_evaluation() writes now.
TEST(EvaluationPackingTest, ReadsWhatFormatTwoWroteBefore) {
  const std::string stored(
      "\x02\xc4\x00\x00\x00\x8b\x03\x74\xae\x0f\xec\x03\x04\x07\xeb\x0b\x06\x31\x15\x12"
      "\x37\x7a\x0f\x01\x91\x15\x0d\x03\x25\xa2\x61\x73\x6b\x65\x64\x2d\x66\x6f\x72\x2d"
      "\x46\x0b\x07\x03\x17\x26\x5d\x7d\x27\x04\x11\x7b\x26\x04\x0f\x30\x00\x00\x29\x7d"
      "\x5d\x03\x08\x07\xe2\x02\x2c\x64\x65\x45\x06\x03\x98\x03\x80\x2d\x30\x2e\x34\x32"
      "\x7d\x7d\x7d",
      83);
  std::string json;
  ASSERT_TRUE(unpack_evaluation(stored, json));
  EXPECT_EQ(json, kSmallEvaluation);
  EXPECT_EQ(pack_evaluation(kSmallEvaluation)[0], '\x02');
}

TEST(EvaluationPackingTest, RefusesUnknownFormatsAndDamagedFrames) {
  const std::string packed = pack_evaluation(kEvaluation);
  std::string json;

  for (const char format : {'\x00', '\x03', '\x7b'}) {
    std::string unknown = packed;
    unknown[0] = format;
    EXPECT_FALSE(unpack_evaluation(unknown, json)) << int{format};
    EXPECT_EQ(json, "");
  }
  EXPECT_FALSE(unpack_evaluation(packed.substr(0, packed.size() / 2), json));
  EXPECT_FALSE(unpack_evaluation(packed.substr(0, 9), json));
  EXPECT_FALSE(unpack_evaluation(std::string("\x01", 1), json));
  EXPECT_FALSE(unpack_evaluation(std::string("\x02", 1), json));
  EXPECT_FALSE(unpack_evaluation(std::string("\x01garbage that is no frame"), json));
  EXPECT_FALSE(unpack_evaluation(std::string("\x02garbage that is no block"), json));

  std::string damaged = packed;
  damaged[damaged.size() - 3] = static_cast<char>(damaged[damaged.size() - 3] ^ 0x5a);
  EXPECT_FALSE(unpack_evaluation(damaged, json));
}

// A block that decodes, but to other text than the one its checksum was taken of, is refused:
// the checksum is what keeps a damaged value from passing for an evaluation.
TEST(EvaluationPackingTest, RefusesABlockWhoseTextDoesNotMatchItsChecksum) {
  const std::string packed = pack_evaluation(kEvaluation);
  std::string other_text = kEvaluation;
  other_text[other_text.find("0.075")] = '9';
  const std::string other = pack_evaluation(other_text);
  ASSERT_EQ(packed.substr(0, 5), other.substr(0, 5));  // same format and length
  std::string json;
  ASSERT_TRUE(unpack_evaluation(other, json));
  EXPECT_EQ(json, other_text);
  const std::string swapped = packed.substr(0, 9) + other.substr(9);
  EXPECT_FALSE(unpack_evaluation(swapped, json));
  EXPECT_EQ(json, "");
}

// A damaged value must never pass for an evaluation: every value carries a checksum of its
// text, so a flipped bit anywhere is refused (or, in the few bits a decoder ignores, changes
// nothing).
TEST(EvaluationPackingTest, NoFlippedBitReadsAsSomethingElse) {
  const std::string packed = pack_evaluation(kEvaluation);
  int refused = 0;
  for (std::size_t i = 0; i < packed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = packed;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      std::string json;
      if (!unpack_evaluation(damaged, json)) {
        ++refused;
        continue;
      }
      EXPECT_EQ(json, kEvaluation) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_GT(refused, static_cast<int>(packed.size() * 8 * 9 / 10));
}

TEST(EvaluationPackingTest, LeavesEvaluationsOverTheLimitToBeStoredAsText) {
  EXPECT_EQ(pack_evaluation(std::string(kMaxEvaluationBytes + 1, '0')), "");
  std::string at_limit;
  EXPECT_TRUE(
      unpack_evaluation(pack_evaluation(std::string(kMaxEvaluationBytes, '0')), at_limit));
  EXPECT_EQ(at_limit.size(), kMaxEvaluationBytes);
}

TEST(EvaluationPackingTest, RefusesAFormatTwoValueThatClaimsMoreThanTheLimit) {
  std::string packed = pack_evaluation(kEvaluation);
  const std::uint32_t claimed = kMaxEvaluationBytes + 1;
  for (int i = 0; i < 4; ++i) packed[1 + i] = static_cast<char>((claimed >> (8 * i)) & 0xFF);
  std::string json;
  EXPECT_FALSE(unpack_evaluation(packed, json));
  EXPECT_TRUE(json.empty());
}

TEST(EvaluationPackingTest, RefusesAFrameThatClaimsMoreThanTheLimit) {
  // Written by zstd itself, as no packed value of ours can be: all zeros compress to almost
  // nothing, and the frame names its size.
  const std::string huge(kMaxEvaluationBytes + 1, '0');
  std::string frame(ZSTD_compressBound(huge.size()), '\0');
  const std::size_t size = ZSTD_compress(frame.data(), frame.size(), huge.data(), huge.size(), 1);
  ASSERT_FALSE(ZSTD_isError(size));
  const std::string packed = "\x01" + frame.substr(0, size);
  std::string json;
  EXPECT_FALSE(unpack_evaluation(packed, json));
  EXPECT_TRUE(json.empty());
}

class EvaluationFunctionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    ASSERT_EQ(define_evaluation_function(db_), SQLITE_OK);
  }
  void TearDown() override { sqlite3_close(db_); }

  // turn_evaluation(text, packed) with `packed` bound as a blob, or NULL when absent.
  std::string call(const std::string& text, const std::string* packed) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT turn_evaluation(?1, ?2)", -1, &statement, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(statement, 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    if (packed != nullptr) {
      sqlite3_bind_blob(statement, 2, packed->data(), static_cast<int>(packed->size()),
                        SQLITE_STATIC);
    } else {
      sqlite3_bind_null(statement, 2);
    }
    std::string out = "(no row)";
    if (sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* value = sqlite3_column_text(statement, 0);
      out = value == nullptr ? "(null)" : reinterpret_cast<const char*>(value);
    }
    sqlite3_finalize(statement);
    return out;
  }

  sqlite3* db_ = nullptr;
};

TEST_F(EvaluationFunctionTest, ReadsTextRowsAsTheyAre) {
  const std::string text = R"({"decision":{"action":"none"}})";
  EXPECT_EQ(call(text, nullptr), text);
  EXPECT_EQ(call("", nullptr), "");
}

TEST_F(EvaluationFunctionTest, UnpacksPackedRows) {
  const std::string packed = pack_evaluation(kEvaluation);
  EXPECT_EQ(call("", &packed), kEvaluation);
}

TEST_F(EvaluationFunctionTest, ReadsADamagedValueAsNoEvaluation) {
  const std::string damaged("\x07not packed at all");
  EXPECT_EQ(call("", &damaged), "");
}

// Every read of a damaged value reads it as no evaluation, but the log names its row once.
TEST_F(EvaluationFunctionTest, LogsADamagedRowOnce) {
  std::ostringstream log;
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  const std::string damaged("\x02not packed at all");
  std::vector<std::string> read;
  for (const int row : {9001, 9001, 9002, 9001}) {
    sqlite3_stmt* statement = nullptr;
    const std::string sql = "SELECT turn_evaluation('', ?1, " + std::to_string(row) + ")";
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
    sqlite3_bind_blob(statement, 1, damaged.data(), static_cast<int>(damaged.size()),
                      SQLITE_STATIC);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_ROW);
    read.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
    sqlite3_finalize(statement);
  }
  spdlog::set_default_logger(previous);

  EXPECT_EQ(read, std::vector<std::string>(4, ""));
  const std::string text = log.str();
  auto count = [&text](const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("turn row 9001 "), 1) << text;
  EXPECT_EQ(count("turn row 9002 "), 1) << text;
}

// The form the store's reads use names the turn's row, for the log of a damaged value.
TEST_F(EvaluationFunctionTest, TakesTheTurnsRowIdAsAThirdArgument) {
  sqlite3_stmt* statement = nullptr;
  const char* sql = "SELECT turn_evaluation('', ?1, 42), turn_evaluation('t', NULL, 7)";
  ASSERT_EQ(sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr), SQLITE_OK);
  const std::string packed = pack_evaluation(kEvaluation);
  sqlite3_bind_blob(statement, 1, packed.data(), static_cast<int>(packed.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)),
            std::string(kEvaluation));
  EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)), std::string("t"));
  sqlite3_finalize(statement);
}

}  // namespace
}  // namespace handover::store

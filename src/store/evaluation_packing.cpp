// Packing trigger evaluations with zstd and a built-in dictionary.
//
// An evaluation is some 1 to 2 KB of JSON whose keys and layout are the same in every turn;
// against a dictionary of six typical evaluations zstd keeps about 220 bytes of it.
// The first byte names the format, so that a later dictionary can be added beside this one:
// format 1 must stay readable for as long as rows written with it may exist.
#include "evaluation_packing.hpp"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <memory>
#include <new>

namespace handover::store {
namespace {

constexpr unsigned char kFormatZstdDictionaryV1 = 1;
// With a dictionary and inputs this small, zstd's levels 1 to 3 take the same time (about
// 3.6 µs for 1.2 KB in a loop, 5.5 to 7 µs with cold caches, as on a busy network thread),
// most of it setting up the frame. Level -1 skips some of that work: 2.2 and 4.5 µs, for
// 218 bytes where level 3 keeps 169. The level is not part of the format.
constexpr int kLevel = -1;

struct CompressionContextDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DecompressionContextDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// The digested dictionaries live as long as the process; zstd allows one to be shared by any
// number of threads, each with its own context.
const ZSTD_CDict* compression_dictionary() {
  static const ZSTD_CDict* const dictionary = [] {
    std::string_view bytes = evaluation_dictionary_v1();
    return ZSTD_createCDict(bytes.data(), bytes.size(), kLevel);
  }();
  return dictionary;
}

const ZSTD_DDict* decompression_dictionary() {
  static const ZSTD_DDict* const dictionary = [] {
    std::string_view bytes = evaluation_dictionary_v1();
    return ZSTD_createDDict(bytes.data(), bytes.size());
  }();
  return dictionary;
}

// Each frame carries zstd's checksum of its content: without it, a damaged value could still
// decode, into text that is no longer the evaluation or no longer JSON.
std::unique_ptr<ZSTD_CCtx, CompressionContextDeleter> new_compression_context() {
  std::unique_ptr<ZSTD_CCtx, CompressionContextDeleter> context(ZSTD_createCCtx());
  if (context == nullptr || compression_dictionary() == nullptr ||
      ZSTD_isError(ZSTD_CCtx_refCDict(context.get(), compression_dictionary())) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1))) {
    throw std::bad_alloc();
  }
  return context;
}

ZSTD_CCtx* compression_context() {
  thread_local std::unique_ptr<ZSTD_CCtx, CompressionContextDeleter> context =
      new_compression_context();
  return context.get();
}

ZSTD_DCtx* decompression_context() {
  thread_local std::unique_ptr<ZSTD_DCtx, DecompressionContextDeleter> context(
      ZSTD_createDCtx());
  return context.get();
}

void turn_evaluation(sqlite3_context* call, int argc, sqlite3_value** args) {
  if (sqlite3_value_type(args[1]) == SQLITE_NULL) {
    sqlite3_result_value(call, args[0]);
    return;
  }
  const auto* data = static_cast<const char*>(sqlite3_value_blob(args[1]));
  const auto size = static_cast<std::size_t>(sqlite3_value_bytes(args[1]));
  thread_local std::string json;
  if (!unpack_evaluation(std::string_view(data == nullptr ? "" : data, size), json)) {
    if (argc == 3) {
      spdlog::error("store: the packed trigger evaluation of turn row {} ({} bytes) is damaged; "
                    "the turn reads without it",
                    sqlite3_value_int64(args[2]), size);
    } else {
      spdlog::error("store: a packed trigger evaluation ({} bytes) is damaged; the turn reads "
                    "without it",
                    size);
    }
  }
  sqlite3_result_text(call, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
}

}  // namespace

std::string pack_evaluation(std::string_view json) {
  if (json.empty() || json.size() > kMaxEvaluationBytes) return std::string();
  // Packed into a buffer of the thread's and then copied at its size: a queued append holds
  // its packed evaluation until the commit, and a backlog holds thousands of them.
  thread_local std::string room;
  room.resize(1 + ZSTD_compressBound(json.size()));
  room[0] = static_cast<char>(kFormatZstdDictionaryV1);
  const std::size_t size = ZSTD_compress2(compression_context(), room.data() + 1,
                                          room.size() - 1, json.data(), json.size());
  // Only an allocation failure inside zstd can fail here (the room is its own bound).
  if (ZSTD_isError(size)) throw std::bad_alloc();
  std::string packed = room.substr(0, 1 + size);
  if (room.capacity() > 64 * 1024) std::string().swap(room);  // an outsized one is not kept
  return packed;
}

bool unpack_evaluation(std::string_view packed, std::string& json) {
  json.clear();
  if (packed.size() < 2 || static_cast<unsigned char>(packed[0]) != kFormatZstdDictionaryV1) {
    return false;
  }
  const char* frame = packed.data() + 1;
  const std::size_t frame_size = packed.size() - 1;
  const unsigned long long expanded = ZSTD_getFrameContentSize(frame, frame_size);
  if (expanded == ZSTD_CONTENTSIZE_UNKNOWN || expanded == ZSTD_CONTENTSIZE_ERROR ||
      expanded > kMaxEvaluationBytes) {
    return false;
  }
  json.resize(static_cast<std::size_t>(expanded));
  const std::size_t size =
      ZSTD_decompress_usingDDict(decompression_context(), json.data(), json.size(), frame,
                                 frame_size, decompression_dictionary());
  if (ZSTD_isError(size) || size != json.size()) {
    json.clear();
    return false;
  }
  return true;
}

int define_evaluation_function(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  int rc = SQLITE_OK;
  for (int arguments : {2, 3}) {
    rc = sqlite3_create_function_v2(db, "turn_evaluation", arguments, kFlags, nullptr,
                                    &turn_evaluation, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) break;
  }
  return rc;
}

}  // namespace handover::store

// SQLite's default page cache behind a thin layer that leaves out truncations with nothing to do.
#include "page_cache.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>

namespace handover::store {
namespace {

// SQLite's lock-byte page holds the byte at 1 GiB; no database page ever has its number.
constexpr unsigned kPendingByte = 0x40000000;

sqlite3_pcache_methods2 g_default{};  // SQLite's own cache, read once before installing
sqlite3_pcache_methods2 g_methods{};
bool g_installed = false;  // written once, under std::call_once
std::atomic<std::uint64_t> g_passed{0};
std::atomic<std::uint64_t> g_skipped{0};
std::atomic<std::uint64_t> g_parked{0};

// One per connection (SQLite creates a cache per pager), used by one thread at a time.
struct Cache {
  sqlite3_pcache* inner;
  unsigned lock_page;     // the number SQLite parks pages under
  unsigned max_page = 0;  // no page other than parked ones has a higher number
  unsigned parked = 0;    // pages under lock_page, or more: only ever counted high
};

Cache* cache_of(sqlite3_pcache* cache) { return reinterpret_cast<Cache*>(cache); }

int init_caches(void* /*arg*/) {
  return g_default.xInit != nullptr ? g_default.xInit(g_default.pArg) : SQLITE_OK;
}

void shut_down_caches(void* /*arg*/) {
  if (g_default.xShutdown != nullptr) g_default.xShutdown(g_default.pArg);
}

sqlite3_pcache* create(int page_size, int extra_size, int purgeable) {
  sqlite3_pcache* inner = g_default.xCreate(page_size, extra_size, purgeable);
  if (inner == nullptr) return nullptr;
  // SQLite's page sizes are powers of two from 512 to 65536.
  const auto lock_page = kPendingByte / static_cast<unsigned>(page_size) + 1;
  auto* cache = new (std::nothrow) Cache{inner, lock_page};
  if (cache == nullptr) {
    g_default.xDestroy(inner);
    return nullptr;
  }
  return reinterpret_cast<sqlite3_pcache*>(cache);
}

void set_cache_size(sqlite3_pcache* cache, int pages) {
  g_default.xCachesize(cache_of(cache)->inner, pages);
}

int page_count(sqlite3_pcache* cache) { return g_default.xPagecount(cache_of(cache)->inner); }

sqlite3_pcache_page* fetch(sqlite3_pcache* p, unsigned page, int create_flag) {
  Cache* cache = cache_of(p);
  sqlite3_pcache_page* found = g_default.xFetch(cache->inner, page, create_flag);
  // A page found without creating was counted when it came in.
  if (found != nullptr && create_flag != 0) {
    if (page == cache->lock_page) {
      ++cache->parked;
      g_parked.fetch_add(1, std::memory_order_relaxed);
    } else {
      cache->max_page = std::max(cache->max_page, page);
    }
  }
  return found;
}

void unpin(sqlite3_pcache* cache, sqlite3_pcache_page* page, int discard) {
  g_default.xUnpin(cache_of(cache)->inner, page, discard);
}

void rekey(sqlite3_pcache* p, sqlite3_pcache_page* page, unsigned old_page, unsigned new_page) {
  Cache* cache = cache_of(p);
  g_default.xRekey(cache->inner, page, old_page, new_page);
  if (old_page == cache->lock_page && cache->parked > 0) --cache->parked;
  if (new_page == cache->lock_page) {
    ++cache->parked;
    g_parked.fetch_add(1, std::memory_order_relaxed);
  } else {
    cache->max_page = std::max(cache->max_page, new_page);
  }
}

// Removes the pages numbered `limit` and up.
void truncate_from(sqlite3_pcache* p, unsigned limit) {
  Cache* cache = cache_of(p);
  if (cache->parked == 0 && limit > cache->max_page) {
    g_skipped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_default.xTruncate(cache->inner, limit);
  g_passed.fetch_add(1, std::memory_order_relaxed);
  if (limit <= cache->lock_page) cache->parked = 0;
  if (limit == 0) {
    cache->max_page = 0;
  } else {
    cache->max_page = std::min(cache->max_page, limit - 1);
  }
}

void destroy(sqlite3_pcache* p) {
  Cache* cache = cache_of(p);
  g_default.xDestroy(cache->inner);
  delete cache;
}

void shrink(sqlite3_pcache* cache) { g_default.xShrink(cache_of(cache)->inner); }

}  // namespace

void install_page_cache() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &g_default) != SQLITE_OK ||
        g_default.xCreate == nullptr) {
      spdlog::debug("store: SQLite was initialised before the store; its page cache stays");
      return;
    }
    g_methods = sqlite3_pcache_methods2{g_default.iVersion,
                                        nullptr,
                                        init_caches,
                                        shut_down_caches,
                                        create,
                                        set_cache_size,
                                        page_count,
                                        fetch,
                                        unpin,
                                        rekey,
                                        truncate_from,
                                        destroy,
                                        shrink};
    g_installed = sqlite3_config(SQLITE_CONFIG_PCACHE2, &g_methods) == SQLITE_OK;
    if (!g_installed) spdlog::debug("store: SQLite refused the page cache; its own stays");
  });
}

bool page_cache_installed() {
  install_page_cache();  // so that the answer is final
  return g_installed;
}

PageCacheCounts page_cache_counts() {
  return PageCacheCounts{g_passed.load(std::memory_order_relaxed),
                         g_skipped.load(std::memory_order_relaxed),
                         g_parked.load(std::memory_order_relaxed)};
}

}  // namespace handover::store

// The page cache every SQLite connection of the process uses: SQLite's own, with the one call
// that made a large cache expensive at every commit left out when it has nothing to do.
#pragma once

#include <cstdint>

namespace handover::store {

// SQLite ends every write transaction by truncating the connection's page cache to the
// database's size. Its cache does that by walking the hash buckets between the database's
// size and the highest page number it ever held, or every bucket and every page once that
// range is wider than the table. When a B-tree split puts new pages in order, SQLite parks one
// page for a moment under the number of the lock-byte page (1 GiB into the file), so from then
// on every commit walks the whole cache: with the writer's 32 MiB (8,192 pages) that was a
// sixth of the writer thread's time under load.
//
// The installed cache forwards every call to SQLite's default cache, and remembers for each
// cache the highest page number it has handed out (leaving aside a page parked under the
// lock-byte number, counted on its own). A truncation that starts above that number, with no
// page parked, removes nothing; it is not passed on. Every other truncation is, unchanged.
//
// Installs once per process, before SQLite is first used; the store calls it before opening
// a connection or looking up a VFS. If SQLite was already initialised (another part of the
// process used it first) the default cache stays, which is only slower. Any thread.
void install_page_cache();

// Whether install_page_cache() took effect.
bool page_cache_installed();

// Over all caches so far: truncations passed on to SQLite's cache and left out, and pages
// parked under the lock-byte page's number.
struct PageCacheCounts {
  std::uint64_t truncations_passed = 0;
  std::uint64_t truncations_skipped = 0;
  std::uint64_t pages_parked = 0;
};
PageCacheCounts page_cache_counts();

}  // namespace handover::store

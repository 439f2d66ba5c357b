// The VFS that gathers WAL appends: every call goes to the default VFS, WAL writes in runs.
#include "wal_append_vfs.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstring>
#include <mutex>

#include "page_cache.hpp"

namespace handover::store {
namespace {

constexpr const char* kVfsName = "handover-wal-append";

// The unix VFS passes a write of 128 KiB or more to the system wrongly (it keeps only the
// size's low 17 bits), so a run stays below that: 30 frames of 4 KiB pages. A larger commit
// goes out in several writes. Allocated when a WAL file is first written.
constexpr std::size_t kGatherBytes = 124 * 1024;

sqlite3_vfs g_vfs;  // filled once, under std::call_once
sqlite3_vfs* g_base = nullptr;

// SQLite allocates szOsFile bytes per open file: this header, then the base VFS's file.
struct GatherFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool wal;
  char* buffer;               // kGatherBytes once allocated, else null
  std::size_t used;           // bytes gathered
  sqlite3_int64 start;        // their offset in the file
};

constexpr std::size_t kHeaderBytes = (sizeof(GatherFile) + 7) & ~std::size_t{7};

GatherFile* gather_file(sqlite3_file* file) { return reinterpret_cast<GatherFile*>(file); }
sqlite3_file* real_file(sqlite3_file* file) { return gather_file(file)->real; }
const sqlite3_io_methods* real_methods(sqlite3_file* file) { return real_file(file)->pMethods; }

// Writes what was gathered. The run is dropped even when the write fails: SQLite fails the
// transaction and writes its frames again at the same offsets, if ever.
int flush(sqlite3_file* file) {
  GatherFile* f = gather_file(file);
  if (f->used == 0) return SQLITE_OK;
  const int amount = static_cast<int>(f->used);
  f->used = 0;
  return real_methods(file)->xWrite(f->real, f->buffer, amount, f->start);
}

int gather_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  GatherFile* f = gather_file(file);
  if (!f->wal || amount <= 0) return real_methods(file)->xWrite(f->real, data, amount, offset);

  const auto size = static_cast<std::size_t>(amount);
  const bool continues = f->used > 0 && offset == f->start + static_cast<sqlite3_int64>(f->used);
  if (continues && f->used + size <= kGatherBytes) {
    std::memcpy(f->buffer + f->used, data, size);
    f->used += size;
    return SQLITE_OK;
  }
  if (int rc = flush(file); rc != SQLITE_OK) return rc;
  if (f->buffer == nullptr) f->buffer = static_cast<char*>(sqlite3_malloc64(kGatherBytes));
  if (f->buffer == nullptr || size > kGatherBytes) {
    return real_methods(file)->xWrite(f->real, data, amount, offset);
  }
  std::memcpy(f->buffer, data, size);
  f->used = size;
  f->start = offset;
  return SQLITE_OK;
}

int gather_close(sqlite3_file* file) {
  GatherFile* f = gather_file(file);
  const int flushed = flush(file);
  const int closed = real_methods(file)->xClose(f->real);
  sqlite3_free(f->buffer);
  f->buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

// Every other call goes to the base file's method; those that look at or change the file's
// bytes (and the locks, for good measure) flush first, so that none sees the file without
// the gathered bytes. Shared memory and memory mapping belong to the database file, which is
// never gathered.
template <auto Method, typename... Args>
int flush_then(sqlite3_file* file, Args... args) {
  if (int rc = flush(file); rc != SQLITE_OK) return rc;
  return (real_methods(file)->*Method)(real_file(file), args...);
}

template <auto Method, typename... Args>
auto forward(sqlite3_file* file, Args... args) {
  return (real_methods(file)->*Method)(real_file(file), args...);
}

// One table per version of the interface, as the base file's: SQLite calls no method newer
// than the version, and every method here forwards to the base file's.
constexpr sqlite3_io_methods methods_of_version(int version) {
  using M = sqlite3_io_methods;
  return {
      version,
      gather_close,
      flush_then<&M::xRead>,
      gather_write,
      flush_then<&M::xTruncate>,
      flush_then<&M::xSync>,
      flush_then<&M::xFileSize>,
      flush_then<&M::xLock>,
      flush_then<&M::xUnlock>,
      forward<&M::xCheckReservedLock>,
      flush_then<&M::xFileControl>,
      forward<&M::xSectorSize>,
      forward<&M::xDeviceCharacteristics>,
      forward<&M::xShmMap>,
      forward<&M::xShmLock>,
      forward<&M::xShmBarrier>,
      forward<&M::xShmUnmap>,
      forward<&M::xFetch>,
      forward<&M::xUnfetch>,
  };
}

constexpr sqlite3_io_methods kMethods[] = {methods_of_version(1), methods_of_version(2),
                                           methods_of_version(3)};

int gather_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags,
                int* out_flags) {
  GatherFile* f = gather_file(file);
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kHeaderBytes);
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->buffer = nullptr;
  f->used = 0;
  f->start = 0;
  file->pMethods = nullptr;  // SQLite closes only what opened
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  const int version = f->real->pMethods->iVersion;
  file->pMethods = &kMethods[version < 1 ? 0 : version > 3 ? 2 : version - 1];
  return SQLITE_OK;
}

// The rest of the VFS is the base VFS's.
int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_base->xDelete(g_base, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_base->xFullPathname(g_base, name, size, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void vfs_dl_error(sqlite3_vfs*, int size, char* out) { g_base->xDlError(g_base, size, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_base->xDlSym(g_base, handle, symbol);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int vfs_randomness(sqlite3_vfs*, int size, char* out) {
  return g_base->xRandomness(g_base, size, out);
}
int vfs_sleep(sqlite3_vfs*, int micros) { return g_base->xSleep(g_base, micros); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int vfs_get_last_error(sqlite3_vfs*, int size, char* out) {
  return g_base->xGetLastError(g_base, size, out);
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_base->xCurrentTimeInt64(g_base, out);
}

void register_vfs() {
  install_page_cache();  // before SQLite initialises itself
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  // The time and system-call methods came with version 2 and 3 of the interface.
  if (base == nullptr || base->iVersion < 2) return;
  g_base = base;
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(kHeaderBytes) + base->szOsFile;
  g_vfs.mxPathname = base->mxPathname;
  g_vfs.zName = kVfsName;
  g_vfs.xOpen = gather_open;
  g_vfs.xDelete = vfs_delete;
  g_vfs.xAccess = vfs_access;
  g_vfs.xFullPathname = vfs_full_pathname;
  g_vfs.xDlOpen = vfs_dl_open;
  g_vfs.xDlError = vfs_dl_error;
  g_vfs.xDlSym = vfs_dl_sym;
  g_vfs.xDlClose = vfs_dl_close;
  g_vfs.xRandomness = vfs_randomness;
  g_vfs.xSleep = vfs_sleep;
  g_vfs.xCurrentTime = vfs_current_time;
  g_vfs.xGetLastError = vfs_get_last_error;
  g_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) != SQLITE_OK) g_base = nullptr;
}

}  // namespace

const char* wal_append_vfs() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return g_base != nullptr ? kVfsName : nullptr;
}

}  // namespace handover::store

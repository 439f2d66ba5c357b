// A SQLite VFS that hands the frames of one commit to the WAL file in one write.
#pragma once

namespace handover::store {

// SQLite appends each WAL frame as two writes (its 24-byte header, then the page), so a commit
// of 40 pages costs 80 system calls. This VFS forwards every call to the default VFS, except
// writes to WAL files: a write that continues the bytes gathered so far joins them in memory
// (up to 124 KiB), and the gathered bytes reach the file in one write before the file is synced,
// read, sized, truncated, controlled or closed, and before any write that does not continue
// them. Write errors surface from the call that flushes (typically the commit's sync).
//
// Only for a connection whose commits sync the WAL (synchronous=FULL or EXTRA), the one
// writer connection of a database: the sync that ends each commit comes before the commit
// is published to other connections, so they never look for frames still in memory. Under
// synchronous=NORMAL a commit is published without a sync, and this VFS must not be used.
//
// Returns the name to pass to sqlite3_open_v2, registering the VFS on the first call (any
// thread). Returns nullptr when there is no default VFS to wrap: then open with the default.
const char* wal_append_vfs();

}  // namespace handover::store

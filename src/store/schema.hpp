// Versioned schema of the store: numbered migration steps recorded in schema_migrations.
#pragma once

#include <cstdint>

#include "handover/util/status.hpp"

namespace handover::store {

class Connection;

// The newest schema version this build knows (the number of the last migration step).
inline constexpr int kSchemaVersion = 12;

// From this version on, turns keep their evaluation packed (evaluation_packing.hpp) in the
// evaluation_packed column; rows written before keep evaluation_json text.
inline constexpr int kPackedEvaluationsVersion = 8;

// From this version on, new turns are their own turn.created events (store_marks
// 'turns_logged_from' names the first) and carry state_after.
inline constexpr int kTurnsLoggedVersion = 10;

// Brings the database on `db` up to kSchemaVersion: in one IMMEDIATE transaction it reads
// the applied version from schema_migrations and runs each newer step in order, recording
// it with `now_ms`. Nothing is applied on failure. A database whose version is newer than
// kSchemaVersion is refused with Internal and a message naming both versions.
// REQUIRES: no transaction open on `db`.
Status migrate(Connection& db, std::int64_t now_ms);

// As migrate(), but stops after step `target_version`, so a test can build a database as an
// older release left it.
Status migrate_for_test(Connection& db, int target_version, std::int64_t now_ms);

}  // namespace handover::store

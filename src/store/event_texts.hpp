// What users, bots and callers wrote that handover events keep in their trace of why a
// conversation was handed over, and how the retention job strips it by the turns' period.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace handover::store {

// The "reasons" member of a handover.escalated event ({"rule", "fired", "suggested_by"} from
// the trigger rules, or {"source": "api", "reason", "key"} from POST /handover) or of a
// handover.requested event (the fired array itself), with every text someone wrote blanked:
// the words each fired rule's evidence quotes from a turn ("text") and the free-text reason of
// a handover asked for over the API. Rule ids, checks with their fields and values, evidence
// cues and families, modes, priorities and the rest stay as they are, so the handover report
// still counts by rule and signal family. Text that is not a JSON object or array comes back
// unchanged. Safe to call from any thread.
std::string strip_handover_reasons(std::string_view reasons_json);

// Defines the SQL function handover_reasons_stripped(reasons) on `db`: strip_handover_reasons
// of its argument, NULL for NULL. A failure (out of memory) fails the statement. Returns
// SQLite's result code.
int define_event_text_functions(sqlite3* db);

}  // namespace handover::store

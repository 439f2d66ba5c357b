// The definition behind routing::TimeZone: a zone of Howard Hinnant's tz library, which reads
// the system tzdata (/usr/share/zoneinfo) and never downloads anything.
#pragma once

#include <date/tz.h>

namespace handover::routing {

class TimeZone {
 public:
  const date::time_zone* zone = nullptr;  // owned by the tz library's database; never null
};

}  // namespace handover::routing

#include "handover/util/scheduling.hpp"

#include <sched.h>

namespace handover {

bool schedule_as_batch_work() {
  // SCHED_BATCH takes priority 0 and keeps the thread's nice value; no privilege is needed.
  const sched_param param{};
  return sched_setscheduler(0, SCHED_BATCH, &param) == 0;
}

}  // namespace handover

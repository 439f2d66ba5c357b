// How the server's threads ask the kernel to schedule them.
#pragma once

namespace handover {

// Marks the calling thread as batch work (Linux SCHED_BATCH at its current nice value). The
// kernel shares the CPU with it as fairly as before, but its wake-ups no longer preempt the
// thread that is running. For the threads that work behind the network threads: the store's
// writer and checkpoint threads, the feed, the narrator, the slow-work queue and retention.
// Under load they are woken for every commit or queued item; each wake-up would otherwise
// stop the network thread in the middle of a request, for a task that gains nothing from
// running a few microseconds sooner.
// Best effort: false when the system refuses, and then nothing changed.
bool schedule_as_batch_work();

}  // namespace handover

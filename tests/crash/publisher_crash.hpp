// A publisher that dies at one step of publishing, over and over with random timing, while
// another publisher process and the test's own publisher commit around it.
//
// Each crash runs on a fresh topic:
//
//   1. The test's publisher fills the ring to a random offset, so frames wrap (and leave
//      padding at the end of the lap) at a different place each time.
//   2. Two publisher processes start and run side by side: a healthy one with a random number
//      of records, and one armed to die at `point` on a random record (SHMBUS_FAULT). Every
//      record has a random length from 0 to the maximum.
//   3. The armed one dies there (kill), or stops there and, a random few milliseconds later,
//      is killed with SIGKILL (stop then kill). While it is only stopped its claim is alive and
//      nobody may touch it.
//   4. Progress: the test's subscriber gets past the dead claim within a bound, measured from
//      the death. Half the crashes leave the repair to shmbusd, on a ring large enough that no
//      publisher is ever held back; the other half run without a daemon on a small ring, where
//      a publisher held back by the dead claim repairs it itself.
//   5. Once the healthy publisher is done: every committed record of every publisher was
//      delivered exactly once, in the order its publisher sent it, byte for byte; the dead
//      claim's record never was; the topic counted one unblocked claim and the subscriber one
//      voided sequence (block topics), or delivered + lost + voided = every sequence handed out
//      (overwrite topics, where a slow subscriber may be lapped). One more record from the test
//      arrives after it all (only a later record shows the subscriber the voided sequence).
//
// Crashes alternate between block and overwrite topics and between the two repairers.
#pragma once

#include <string>

namespace shmbus::test::crash {

enum class CrashAction {
    kKill,          // SIGKILL raised at the fault point
    kStopThenKill,  // SIGSTOP raised there; the test sends SIGKILL later
};

/// How the two publisher processes publish.
enum class PublishPath {
    kSingle,  // offer(), one claim per record: the dead claim is one frame
    kBatch,   // offer_batch() with a random batch of 2 to 8 records: the dead claim is a batch
};

/// Runs `crashes` crashes at fault point `point` (after_claim, after_header, mid_payload or
/// before_commit) with doctest checks, and prints a summary line.
///
/// With PublishPath::kBatch the dead claim holds one to `batch` frames (offer_batch claims the
/// longest prefix that fits), so where the single path checks "one", the batch path checks the
/// accounting instead: the armed publisher's delivered records are a gapless prefix of what it
/// sent, and every sequence handed out was delivered, lost (overwrite) or voided by the dead
/// claim, which voided at least one and at most `batch`. When the publisher is stopped at the
/// fault point, the test counts the dead claim's frames from their headers (every point but
/// after_claim has written them all) and checks that exactly those were voided and repaired.
void run_publisher_crashes(const std::string& point, CrashAction action, int crashes,
                           PublishPath path = PublishPath::kSingle);

}  // namespace shmbus::test::crash

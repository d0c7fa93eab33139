// Crash point after_claim: a publisher dies right after its claim, before it writes a header.
// The scenario, and what each crash checks: publisher_crash.hpp.
#include <doctest/doctest.h>

#include "publisher_crash.hpp"

using shmbus::test::crash::CrashAction;
using shmbus::test::crash::PublishPath;
using shmbus::test::crash::run_publisher_crashes;

TEST_CASE(
    "a publisher killed right after its claim stalls its topic only until the repair, and "
    "every committed record still arrives once, in order") {
    run_publisher_crashes("after_claim", CrashAction::kKill, 20);
}

TEST_CASE(
    "a publisher stopped right after its claim keeps its claim while stopped, and once "
    "killed with SIGKILL costs one voided sequence and nothing else") {
    run_publisher_crashes("after_claim", CrashAction::kStopThenKill, 20);
}

TEST_CASE(
    "a batch publisher killed after its claim voids only its dead batch, and every committed "
    "record still arrives once, in order") {
    run_publisher_crashes("after_claim", CrashAction::kKill, 12, PublishPath::kBatch);
}

TEST_CASE(
    "a batch publisher stopped after its claim keeps its batch while stopped, and once killed "
    "voids exactly the frames of that batch") {
    run_publisher_crashes("after_claim", CrashAction::kStopThenKill, 12, PublishPath::kBatch);
}

// Crash point mid_payload: a publisher dies halfway through copying its payload.
// The scenario, and what each crash checks: publisher_crash.hpp.
#include <doctest/doctest.h>

#include "publisher_crash.hpp"

using shmbus::test::crash::CrashAction;
using shmbus::test::crash::PublishPath;
using shmbus::test::crash::run_publisher_crashes;

TEST_CASE(
    "a publisher killed halfway through its payload stalls its topic only until the repair, and "
    "every committed record still arrives once, in order") {
    run_publisher_crashes("mid_payload", CrashAction::kKill, 20);
}

TEST_CASE(
    "a publisher stopped halfway through its payload keeps its claim while stopped, and once "
    "killed with SIGKILL costs one voided sequence and nothing else") {
    run_publisher_crashes("mid_payload", CrashAction::kStopThenKill, 20);
}

TEST_CASE(
    "a batch publisher killed halfway through a payload voids only its dead batch, and every "
    "committed "
    "record still arrives once, in order") {
    run_publisher_crashes("mid_payload", CrashAction::kKill, 12, PublishPath::kBatch);
}

TEST_CASE(
    "a batch publisher stopped halfway through a payload keeps its batch while stopped, and once "
    "killed "
    "voids exactly the frames of that batch") {
    run_publisher_crashes("mid_payload", CrashAction::kStopThenKill, 12, PublishPath::kBatch);
}

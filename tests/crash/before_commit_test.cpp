// Crash point before_commit: a publisher dies with its payload written, just before the commit.
// The scenario, and what each crash checks: publisher_crash.hpp.
#include <doctest/doctest.h>

#include "publisher_crash.hpp"

using shmbus::test::crash::CrashAction;
using shmbus::test::crash::PublishPath;
using shmbus::test::crash::run_publisher_crashes;

TEST_CASE(
    "a publisher killed just before its commit stalls its topic only until the repair, and "
    "every committed record still arrives once, in order") {
    run_publisher_crashes("before_commit", CrashAction::kKill, 20);
}

TEST_CASE(
    "a publisher stopped just before its commit keeps its claim while stopped, and once "
    "killed with SIGKILL costs one voided sequence and nothing else") {
    run_publisher_crashes("before_commit", CrashAction::kStopThenKill, 20);
}

TEST_CASE(
    "a batch publisher killed just before its commit voids only its dead batch, and every "
    "committed "
    "record still arrives once, in order") {
    run_publisher_crashes("before_commit", CrashAction::kKill, 12, PublishPath::kBatch);
}

TEST_CASE(
    "a batch publisher stopped just before its commit keeps its batch while stopped, and once "
    "killed "
    "voids exactly the frames of that batch") {
    run_publisher_crashes("before_commit", CrashAction::kStopThenKill, 12, PublishPath::kBatch);
}

// shmbusd logs through spdlog to stderr, one line per event and never one per record.
//
// Under systemd, stderr is a journal stream: lines then start with the syslog priority ("<4>")
// that journald turns into the entry's level, and carry no timestamp of their own, since the
// journal adds one. On a terminal or in a file they start with the time and the level instead.
#pragma once

#include <spdlog/common.h>

namespace shmbusd {

/// Installs the stderr logger as spdlog's default. Call once, before anything logs.
void setup_logging(spdlog::level::level_enum level);

void set_log_level(spdlog::level::level_enum level);

/// Whether stderr is connected to journald ($JOURNAL_STREAM names stderr's device and inode).
[[nodiscard]] bool stderr_is_journal() noexcept;

}  // namespace shmbusd

// SIGTERM asks a soak role to stop cleanly: a flag the role's loop checks.
#pragma once

namespace shmbus::soak {

/// Installs the SIGTERM handler, then unblocks SIGTERM: the orchestrator starts roles with it
/// blocked, so that a SIGTERM sent before the handler exists waits for it instead of killing
/// the process.
void install_terminate_handler();

/// True once SIGTERM has arrived.
[[nodiscard]] bool terminate_requested() noexcept;

}  // namespace shmbus::soak

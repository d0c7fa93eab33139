// The signals shmbusd acts on, delivered through a signalfd so the event loop reads them like
// any other input and nothing runs in a signal handler:
//
//   SIGTERM, SIGINT   stop cleanly: stop supervising, close the control socket, exit 0
//   SIGHUP            reload the configuration (systemd's ExecReload sends it)
//   SIGCHLD           a recorder process ended: reap it (recorder_process.hpp)
//
// SIGPIPE is ignored: a client that hangs up mid-reply is an error on that connection only.
#pragma once

#include <shmbus/detail/util/unique_fd.hpp>

namespace shmbusd {

enum class SignalEvent { kNone, kStop, kReload, kChild };

class SignalReader {
  public:
    /// Blocks the signals above in the calling thread (call it before starting any thread) and
    /// opens the signalfd. Throws shmbus::Error.
    SignalReader();
    SignalReader(const SignalReader&) = delete;
    SignalReader& operator=(const SignalReader&) = delete;

    /// The descriptor to poll for POLLIN.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    /// Reads one pending signal, or kNone if none is pending.
    [[nodiscard]] SignalEvent read();

  private:
    shmbus::util::UniqueFd fd_;
};

}  // namespace shmbusd

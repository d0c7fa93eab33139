#include "signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <shmbus/error.hpp>

namespace shmbusd {
namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    return set;
}

}  // namespace

SignalReader::SignalReader() {
    const sigset_t set = handled_signals();
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
        throw shmbus::system_error("blocking SIGTERM, SIGINT, SIGHUP and SIGCHLD");
    }
    ::signal(SIGPIPE, SIG_IGN);
    fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) throw shmbus::system_error("creating a signalfd");
}

SignalEvent SignalReader::read() {
    signalfd_siginfo info{};
    for (;;) {
        const ssize_t got = ::read(fd_.get(), &info, sizeof info);
        if (got == static_cast<ssize_t>(sizeof info)) break;
        if (got < 0 && errno == EINTR) continue;
        return SignalEvent::kNone;  // EAGAIN: nothing pending
    }
    switch (info.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            return SignalEvent::kStop;
        case SIGHUP:
            return SignalEvent::kReload;
        case SIGCHLD:
            return SignalEvent::kChild;
        default:
            return SignalEvent::kNone;
    }
}

}  // namespace shmbusd

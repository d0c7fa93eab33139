#include "terminate_signal.hpp"

#include <signal.h>

#include <csignal>

namespace shmbus::soak {
namespace {

volatile std::sig_atomic_t g_terminate = 0;

extern "C" void on_terminate(int) {
    g_terminate = 1;
}

}  // namespace

void install_terminate_handler() {
    struct sigaction action {};
    action.sa_handler = on_terminate;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
}

bool terminate_requested() noexcept {
    return g_terminate != 0;
}

}  // namespace shmbus::soak

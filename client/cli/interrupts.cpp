#include "interrupts.hpp"

#include <csignal>

namespace shmbus::cli {
namespace {

// Written by the handler, read by the command's loops: volatile sig_atomic_t is the type a
// handler may write and the interrupted thread read; nothing else is published through it.
volatile std::sig_atomic_t g_signal = 0;

extern "C" void record_signal(int signal) {
    if (g_signal == 0) g_signal = signal;
}

}  // namespace

InterruptScope::InterruptScope() {
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocked read, write or sleep returns EINTR
    ::sigaction(SIGINT, &action, &previous_int_);
    ::sigaction(SIGTERM, &action, &previous_term_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, &previous_pipe_);
}

InterruptScope::~InterruptScope() {
    ::sigaction(SIGINT, &previous_int_, nullptr);
    ::sigaction(SIGTERM, &previous_term_, nullptr);
    ::sigaction(SIGPIPE, &previous_pipe_, nullptr);
}

int interrupt_signal() noexcept {
    return g_signal;
}

}  // namespace shmbus::cli

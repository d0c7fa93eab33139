#include "bench_processes.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>

#include "exit_status.hpp"
#include "interrupts.hpp"

namespace shmbus::cli {
namespace {

constexpr std::chrono::milliseconds kTick{200};
constexpr std::chrono::seconds kLongestSetup{30};

std::uint32_t load(const std::uint32_t& word) noexcept {
    // Acquire: pairs with the release increments and stores below.
    return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word))
        .load(std::memory_order_acquire);
}

std::uint64_t ns_of(const timeval& time) noexcept {
    return static_cast<std::uint64_t>(time.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(time.tv_usec) * 1'000u;
}

}  // namespace

std::uint64_t bench_now_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
}

std::uint64_t bench_cpu_ns() noexcept {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return ns_of(usage.ru_utime) + ns_of(usage.ru_stime);
}

std::uint64_t machine_busy_ns() {
    std::FILE* stat = std::fopen("/proc/stat", "r");
    if (stat == nullptr) return 0;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    const int fields = std::fscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                                   &system, &idle, &iowait, &irq, &softirq);
    std::fclose(stat);
    if (fields != 7) return 0;
    const long hz = ::sysconf(_SC_CLK_TCK);
    const std::uint64_t tick_ns =
        hz > 0 ? 1'000'000'000u / static_cast<std::uint64_t>(hz) : 10'000'000u;
    return (user + nice + system + irq + softirq) * tick_ns;
}

unsigned machine_cpus() noexcept {
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? static_cast<unsigned>(cpus) : 1u;
}

BenchProcesses::BenchProcesses() {
    void* memory = ::mmap(nullptr, sizeof(BenchBoard), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        throw Failure(ExitStatus::kFailure,
                      fmt::format("bench: mapping shared memory: {}", std::strerror(errno)));
    }
    board_ = new (memory) BenchBoard();
}

BenchProcesses::~BenchProcesses() {
    for (Child& child : children_) {
        if (!child.reaped) ::kill(child.pid, SIGKILL);
    }
    reap(true);
    ::munmap(board_, sizeof(BenchBoard));
}

void BenchProcesses::spawn(std::size_t index, int cpu,
                           const std::function<void(BenchSlot&)>& body) {
    if (index >= kMaxBenchProcesses) {
        throw Failure(ExitStatus::kUsage, "bench: too many publishers and subscribers");
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw Failure(ExitStatus::kFailure, fmt::format("bench: fork: {}", std::strerror(errno)));
    }
    if (pid > 0) {
        children_.push_back({pid, index, false, 0});
        return;
    }
    BenchSlot& slot = board_->slots[index];
    int status = 0;
    try {
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(static_cast<std::size_t>(cpu), &set);
            if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
                throw std::runtime_error(
                    fmt::format("cannot run on CPU {}: {}", cpu, std::strerror(errno)));
            }
        }
        body(slot);
        slot.finished = 1;
    } catch (const std::exception& error) {
        std::snprintf(slot.error, sizeof(slot.error), "%s", error.what());
        status = 1;
    }
    std::fflush(nullptr);
    ::_exit(status);
}

void BenchProcesses::arrive_and_wait() noexcept {
    // Release: pairs with the tool's acquire load of the count.
    std::atomic_ref<std::uint32_t>(board_->arrived).fetch_add(1, std::memory_order_release);
    const std::uint64_t deadline =
        bench_now_ns() +
        static_cast<std::uint64_t>(std::chrono::nanoseconds(kLongestSetup).count());
    while (load(board_->go) == 0 && bench_now_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

void BenchProcesses::reap(bool block) noexcept {
    for (Child& child : children_) {
        if (child.reaped) continue;
        int status = 0;
        if (::waitpid(child.pid, &status, block ? 0 : WNOHANG) == child.pid) {
            child.reaped = true;
            child.status = status;
        }
    }
}

std::string BenchProcesses::failures() const {
    std::string text;
    for (const Child& child : children_) {
        const BenchSlot& slot = board_->slots[child.index];
        std::string why;
        if (!child.reaped) {
            why = "did not finish";
        } else if (WIFSIGNALED(child.status)) {
            why = fmt::format("died of signal {}", WTERMSIG(child.status));
        } else if (WEXITSTATUS(child.status) != 0 || slot.finished == 0) {
            why = slot.error[0] != '\0' ? slot.error : "failed";
        }
        if (!why.empty()) text += (text.empty() ? "" : "; ") + why;
    }
    return text;
}

void BenchProcesses::run(std::chrono::nanoseconds timeout, const std::function<void()>& tick) {
    const auto everyone_ran = [this] {
        for (const Child& child : children_) {
            if (!child.reaped) return false;
        }
        return true;
    };
    const std::uint64_t setup_deadline =
        bench_now_ns() +
        static_cast<std::uint64_t>(std::chrono::nanoseconds(kLongestSetup).count());
    while (load(board_->arrived) < children_.size()) {
        throw_if_interrupted();
        reap(false);
        for (const Child& child : children_) {
            if (child.reaped) throw Failure(ExitStatus::kFailure, "bench: " + failures());
        }
        if (bench_now_ns() > setup_deadline) {
            throw Failure(ExitStatus::kFailure, "bench: the processes did not start in time");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Release: pairs with the processes' acquire loads of the flag.
    std::atomic_ref<std::uint32_t>(board_->go).store(1, std::memory_order_release);
    const std::uint64_t deadline = bench_now_ns() + static_cast<std::uint64_t>(timeout.count());
    for (;;) {
        reap(false);
        if (everyone_ran()) break;
        for (const Child& child : children_) {
            const bool failed =
                child.reaped && (!WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0);
            if (failed) throw Failure(ExitStatus::kFailure, "bench: " + failures());
        }
        throw_if_interrupted();
        if (bench_now_ns() > deadline) {
            throw Failure(ExitStatus::kTimedOut, "bench: the measurement did not finish in time");
        }
        tick();
        std::this_thread::sleep_for(kTick);
    }
    const std::string failed = failures();
    if (!failed.empty()) throw Failure(ExitStatus::kFailure, "bench: " + failed);
}

}  // namespace shmbus::cli

// shmbus-wake-cost: what one wake-up of a sleeping process costs, by the way it sleeps.
//
// Two processes pinned to the given CPUs bounce a token back and forth, each sleeping until the
// other hands it over; half a round trip is one sample. The ways to sleep:
//
//   sem_wait          a process-shared POSIX semaphore, no timeout (no kernel timer)
//   sem_clockwait     the same semaphore with a CLOCK_MONOTONIC deadline 100 ms ahead, as a
//                     bounded sleep slice needs (the kernel arms and cancels an hrtimer):
//                     what shmbus's Subscriber::wait calls (sync/semaphore.hpp)
//   boost timed_wait  boost::interprocess::interprocess_semaphore::timed_wait, 100 ms ahead:
//                     what it called before, with a CLOCK_REALTIME ptime built per sleep
//   pipe              a blocking read(2) of one byte, woken by write(2): the syscall peers
//
// It isolates the part of shmbus's blocking wake-up that is the kernel's, for
// docs/BENCHMARKS.md "Where the time goes". Usage: shmbus-wake-cost [CPU_A CPU_B [ROUND_TRIPS]]
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr long kSliceNs = 100'000'000;  // shmbus's longest sleep slice

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
        std::perror("sched_setaffinity");
        std::exit(1);
    }
}

// A way to sleep: `wait(i)` sleeps until token i (0: to the parent, 1: to the child) arrives,
// `post(i)` hands it over.
struct SemaphoreWaits {
    enum class Kind { kUntimed, kClockwait, kBoost } kind;
    sem_t* semaphores;                                        // two, in a shared mapping
    boost::interprocess::interprocess_semaphore* boost_sems;  // two, in a shared mapping

    void wait(int i) const {
        switch (kind) {
            case Kind::kUntimed:
                while (::sem_wait(&semaphores[i]) != 0) {
                }
                break;
            case Kind::kClockwait: {
                timespec deadline{};
                ::clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_nsec += kSliceNs;
                if (deadline.tv_nsec >= 1'000'000'000) {
                    deadline.tv_nsec -= 1'000'000'000;
                    ++deadline.tv_sec;
                }
                while (::sem_clockwait(&semaphores[i], CLOCK_MONOTONIC, &deadline) != 0) {
                }
                break;
            }
            case Kind::kBoost: {
                const auto deadline = boost::posix_time::microsec_clock::universal_time() +
                                      boost::posix_time::microseconds(kSliceNs / 1000);
                while (!boost_sems[i].timed_wait(deadline)) {
                }
                break;
            }
        }
    }
    void post(int i) const {
        if (kind == Kind::kBoost) {
            boost_sems[i].post();
        } else {
            ::sem_post(&semaphores[i]);
        }
    }
};

struct PipeWaits {
    int to_parent[2];
    int to_child[2];
    void wait(int i) const {
        char byte = 0;
        while (::read(i == 0 ? to_parent[0] : to_child[0], &byte, 1) != 1) {
        }
    }
    void post(int i) const {
        const char byte = 0;
        while (::write(i == 0 ? to_parent[1] : to_child[1], &byte, 1) != 1) {
        }
    }
};

// One-way latency samples (ns) of `round_trips` bounces, after a tenth as many to warm up.
template <typename Waits>
double median_one_way(const Waits& waits, int cpu_parent, int cpu_child, int round_trips) {
    const int warmup = round_trips / 10;
    const pid_t child = ::fork();
    if (child == 0) {
        pin_to(cpu_child);
        for (int i = 0; i < warmup + round_trips; ++i) {
            waits.wait(1);
            waits.post(0);
        }
        ::_exit(0);
    }
    pin_to(cpu_parent);
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(round_trips));
    for (int i = 0; i < warmup + round_trips; ++i) {
        const auto start = Clock::now();
        waits.post(1);
        waits.wait(0);
        const std::chrono::duration<double, std::nano> took = Clock::now() - start;
        if (i >= warmup) samples.push_back(took.count() / 2);
    }
    ::waitpid(child, nullptr, 0);
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int cpu_a = argc > 1 ? std::atoi(argv[1]) : 0;
    const int cpu_b = argc > 2 ? std::atoi(argv[2]) : 0;
    const int round_trips = argc > 3 ? std::atoi(argv[3]) : 50'000;
    if (round_trips < 10) {
        std::fprintf(stderr, "shmbus-wake-cost: ROUND_TRIPS must be at least 10\n");
        return 2;
    }
    void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    auto* semaphores = static_cast<sem_t*>(shared);
    auto* boost_sems = reinterpret_cast<boost::interprocess::interprocess_semaphore*>(
        static_cast<char*>(shared) + 2048);
    PipeWaits pipes{};
    if (::pipe(pipes.to_parent) != 0 || ::pipe(pipes.to_child) != 0) {
        std::perror("pipe");
        return 1;
    }
    std::printf("one-way wake-up, p50 of %d round trips, CPU %d <-> CPU %d\n", round_trips, cpu_a,
                cpu_b);
    const auto reset = [&] {
        ::sem_init(&semaphores[0], 1, 0);
        ::sem_init(&semaphores[1], 1, 0);
        new (&boost_sems[0]) boost::interprocess::interprocess_semaphore(0);
        new (&boost_sems[1]) boost::interprocess::interprocess_semaphore(0);
    };
    using Kind = SemaphoreWaits::Kind;
    const struct {
        const char* name;
        Kind kind;
    } semaphore_ways[] = {{"sem_wait (no timeout)", Kind::kUntimed},
                          {"sem_clockwait (100 ms deadline)", Kind::kClockwait},
                          {"boost timed_wait (100 ms deadline)", Kind::kBoost}};
    for (const auto& way : semaphore_ways) {
        reset();
        const double p50 = median_one_way(SemaphoreWaits{way.kind, semaphores, boost_sems}, cpu_a,
                                          cpu_b, round_trips);
        std::printf("  %-36s %8.0f ns\n", way.name, p50);
    }
    std::printf("  %-36s %8.0f ns\n", "pipe (blocking read)",
                median_one_way(pipes, cpu_a, cpu_b, round_trips));
    return 0;
}

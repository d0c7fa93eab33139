// Workload for syscall_budget.sh: one publisher process and one subscriber process exchange
// N records on a block topic while strace counts system calls. The subscriber waits the way
// applications do (wait() spins briefly, then sleeps), so futex calls appear only when it
// actually catches up and sleeps, never once per record.
//
// usage: syscall_budget_workload N
// exit 0 when the subscriber received all N records in order, intact.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <shmbus/shmbus.hpp>

namespace {

constexpr std::size_t kPayload = 64;

int subscribe(const std::filesystem::path& dir, std::uint64_t count, int ready_fd) {
    const shmbus::Topic topic =
        shmbus::Topic::open(dir, "budget", {.access = shmbus::Access::kSubscribe});
    shmbus::Subscriber subscriber(topic);
    const char ready = 'r';
    if (::write(ready_fd, &ready, 1) != 1) return 2;
    ::close(ready_fd);
    std::uint64_t next = 0;
    bool intact = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (next < count) {
        if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr, "subscriber: timed out at %llu of %llu\n",
                         static_cast<unsigned long long>(next),
                         static_cast<unsigned long long>(count));
            return 3;
        }
        (void)subscriber.wait(std::chrono::milliseconds(100));
        subscriber.poll([&](const shmbus::Record& record) {
            std::uint64_t value = 0;
            if (record.payload.size() != kPayload) intact = false;
            std::memcpy(&value, record.payload.data(), sizeof value);
            if (value != next) intact = false;
            ++next;
        });
    }
    if (!intact) {
        std::fprintf(stderr, "subscriber: records out of order or damaged\n");
        return 4;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    const std::uint64_t count = std::strtoull(argv[1], nullptr, 10);
    char pattern[] = "/tmp/shmbus-syscalls-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return 2;
    const std::filesystem::path dir = pattern;
    shmbus::create_topic(dir, "budget", {.capacity = 1 << 20, .max_record_size = 1024});

    int ready[2];
    if (::pipe(ready) != 0) return 2;
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(ready[0]);
        ::_exit(subscribe(dir, count, ready[1]));
    }
    ::close(ready[1]);
    char byte = 0;
    if (::read(ready[0], &byte, 1) != 1) return 2;

    {
        const shmbus::Topic topic = shmbus::Topic::open(dir, "budget");
        shmbus::Publisher publisher(topic);
        std::byte payload[kPayload] = {};
        for (std::uint64_t i = 0; i < count; ++i) {
            std::memcpy(payload, &i, sizeof i);
            if (publisher.offer(payload, std::chrono::seconds(30)) != shmbus::Status::kOk) {
                std::fprintf(stderr, "publisher: offer failed at %llu\n",
                             static_cast<unsigned long long>(i));
                ::kill(child, SIGKILL);
                return 5;
            }
        }
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    std::filesystem::remove_all(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 6;
}

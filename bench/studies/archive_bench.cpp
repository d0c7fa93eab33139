// shmbus-archive-bench: what the archive costs (issue 22's targets), one measurement per run,
// one line of `key=value` pairs on stdout. bench/tools/archive_bench.py runs them against their
// references (dd on the same file system) and writes docs/BENCHMARKS.md's "Archive" section.
//
//   record SIZE COUNT DIR   a publisher process (CPU 0) publishes COUNT records of SIZE bytes
//                           at full rate, 32 a claim, on a block topic; a Recorder (this
//                           process, CPU 1) archives them into DIR with the default
//                           WriterOptions, as `shmbus record` does. The time runs from the
//                           publisher's start to the last record flushed and every file of DIR
//                           fdatasync'ed.
//   live SIZE COUNT [DIR]   a publisher (CPU 0) and a spinning subscriber (CPU 1) stream COUNT
//                           records; with DIR, a Recorder in this process (unpinned) is attached
//                           as a second subscriber. Rate: records the subscriber received over
//                           the time from the publisher's start to its last record.
//   replay DIR [cold]       reads DIR from its first sequence with an ArchiveCursor, touching
//                           every payload. cold: fdatasync and posix_fadvise(DONTNEED) every
//                           file of DIR first; otherwise a first, untimed pass warms the cache.
//   build DIR GIB           writes an archive of GIB GiB of 4 KiB records with an ArchiveWriter,
//                           record i stamped kEpoch + i µs (for `lookup`), and fdatasyncs it.
//   lookup DIR LOOKUPS [cold]  LOOKUPS random sequence_at_time calls, then LOOKUPS random
//                           ArchiveCursor positionings each reading one entry, on an archive
//                           `build` wrote; checks each answer, prints the median and p99.
//                           cold: drops DIR from the page cache first, as `replay` does;
//                           otherwise reads its index files first, untimed.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <shmbus/archive/archive_cursor.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/recorder.hpp>
#include <shmbus/archive/time_lookup.hpp>
#include <shmbus/publisher.hpp>
#include <shmbus/subscriber.hpp>
#include <shmbus/topic.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace ar = shmbus::archive;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kEpoch = 1'800'000'000'000'000'000ULL;  // `build`'s first timestamp
constexpr std::size_t kBatch = 32;                              // records per claim
constexpr const char* kTopic = "archive.bench";
// Where readers leave a byte of what they read, so that the compiler keeps the reads.
volatile std::uint64_t g_sink = 0;

const char* const kUsage =
    "usage: shmbus-archive-bench record SIZE COUNT DIR\n"
    "       shmbus-archive-bench live SIZE COUNT [DIR]\n"
    "       shmbus-archive-bench replay DIR [cold]\n"
    "       shmbus-archive-bench build DIR GIB\n"
    "       shmbus-archive-bench lookup DIR LOOKUPS [cold]\n"
    "One measurement, one line of key=value pairs. See the top of bench/studies/archive_bench.cpp\n"
    "and bench/tools/archive_bench.py (which runs them all against dd).\n";

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "shmbus-archive-bench: %s\n", what.c_str());
    std::exit(1);
}

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count());
}

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
}

std::uint64_t parse(const char* text) {
    return std::strtoull(text, nullptr, 10);
}

/// fdatasync every file of `dir`, then optionally drop it from the page cache. Returns the
/// bytes of the files.
std::uint64_t sync_files(const fs::path& dir, bool drop) {
    std::uint64_t bytes = 0;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;  // the lock file may be unreadable; it holds no data
        if (::fdatasync(fd) != 0) fail("fdatasync " + entry.path().string());
        if (drop) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        bytes += entry.file_size();
        ::close(fd);
    }
    return bytes;
}

/// A scratch bus directory in /dev/shm with one block topic (default options), removed at exit.
struct Bus {
    fs::path dir;
    Bus() {
        char name[] = "/dev/shm/shmbus-archive-bench.XXXXXX";
        if (::mkdtemp(name) == nullptr) fail("mkdtemp");
        dir = name;
        shmbus::create_topic(dir, kTopic, shmbus::TopicOptions{});
    }
    ~Bus() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

/// A child process that opens the topic, says it is ready, waits for the start, and runs.
/// Its result (a 64-bit figure) comes back through a pipe.
struct Child {
    pid_t pid = -1;
    int result_fd = -1;
};

struct StartLine {
    int ready[2];
    int go[2];
    StartLine() {
        if (::pipe(ready) != 0 || ::pipe(go) != 0) fail("pipe");
    }
    void child_ready() {
        char byte = 1;
        (void)!::write(ready[1], &byte, 1);
        char ignored;
        (void)!::read(go[0], &ignored, 1);  // returns 0 once the parent closes go[1]
    }
    void wait_ready(int children) {
        for (int i = 0; i < children; ++i) {
            char byte;
            if (::read(ready[0], &byte, 1) != 1) fail("a child died before the start");
        }
    }
    void start() { ::close(go[1]); }
};

template <typename Body>
Child spawn(StartLine& line, Body body) {
    int result[2];
    if (::pipe(result) != 0) fail("pipe");
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        ::close(line.go[1]);
        std::uint64_t value = 0;
        try {
            value = body(line);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "shmbus-archive-bench: child: %s\n", error.what());
            ::_exit(1);
        }
        (void)!::write(result[1], &value, sizeof value);
        ::_exit(0);
    }
    ::close(result[1]);
    return {pid, result[0]};
}

std::uint64_t join(const Child& child) {
    std::uint64_t value = 0;
    if (::read(child.result_fd, &value, sizeof value) != sizeof value) fail("a child failed");
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ::close(child.result_fd);
    return value;
}

/// The publisher: COUNT records of SIZE bytes, 32 a claim, spinning while held back. Returns
/// its start time.
Child spawn_publisher(StartLine& line, const fs::path& bus, std::size_t size, std::uint64_t count) {
    return spawn(line, [&](StartLine& start) -> std::uint64_t {
        pin_to(0);
        const shmbus::Topic topic = shmbus::Topic::open(bus, kTopic);
        shmbus::Publisher publisher(topic);  // held back: spins 20 µs, then sleeps
        std::vector<std::byte> payload(size, std::byte{0x5a});
        std::vector<std::span<const std::byte>> batch(kBatch, payload);
        start.child_ready();
        const std::uint64_t started = now_ns();
        for (std::uint64_t sent = 0; sent < count;) {
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, count - sent));
            std::size_t published = 0;
            const shmbus::Status status =
                publisher.offer_batch(std::span(batch).first(n), published);
            if (status != shmbus::Status::kOk) {
                throw std::runtime_error(std::string("offer_batch: ") +
                                         std::string(shmbus::to_string(status)));
            }
            sent += published;
        }
        return started;
    });
}

ar::ArchiveWriter open_writer(const fs::path& dir, const shmbus::Topic& topic) {
    return ar::ArchiveWriter(dir, topic.name(),
                             std::span<const std::uint8_t, 16>(topic.view().records->topic_id));
}

/// Steps `recorder` as `shmbus record` does until it has archived `count` records.
void record_until(ar::Recorder& recorder, std::uint64_t count) {
    while (recorder.counts().records < count) {
        const shmbus::PollResult step = recorder.step();
        if (step.status != shmbus::Status::kOk) {
            fail(std::string("recorder: ") + std::string(shmbus::to_string(step.status)));
        }
        if (step.records == 0) (void)recorder.subscriber().wait(std::chrono::milliseconds(100));
    }
}

int cmd_record(std::size_t size, std::uint64_t count, const fs::path& dir) {
    if (fs::exists(dir)) fail(dir.string() + " exists: give a fresh directory");
    Bus bus;
    StartLine line;
    const Child publisher = spawn_publisher(line, bus.dir, size, count);
    pin_to(1);
    const shmbus::Topic topic =
        shmbus::Topic::open(bus.dir, kTopic, {.access = shmbus::Access::kSubscribe});
    ar::ArchiveWriter writer = open_writer(dir, topic);
    ar::Recorder recorder(topic, writer);
    line.wait_ready(1);
    line.start();
    record_until(recorder, count);
    const std::uint64_t flushed = now_ns();
    const std::uint64_t bytes = sync_files(dir, false);
    const std::uint64_t synced = now_ns();
    const std::uint64_t started = join(publisher);
    const double seconds = static_cast<double>(synced - started) / 1e9;
    const double page_cache_seconds = static_cast<double>(flushed - started) / 1e9;
    std::printf(
        "case=record size=%zu records=%llu archive_bytes=%llu seconds=%.4f records_per_s=%.0f "
        "bytes_per_s=%.0f page_cache_records_per_s=%.0f page_cache_bytes_per_s=%.0f\n",
        size, static_cast<unsigned long long>(count), static_cast<unsigned long long>(bytes),
        seconds, static_cast<double>(count) / seconds, static_cast<double>(bytes) / seconds,
        static_cast<double>(count) / page_cache_seconds,
        static_cast<double>(bytes) / page_cache_seconds);
    return 0;
}

int cmd_live(std::size_t size, std::uint64_t count, const char* archive_dir) {
    Bus bus;
    StartLine line;
    const Child subscriber = spawn(line, [&](StartLine& start) -> std::uint64_t {
        pin_to(1);
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.dir, kTopic, {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber reader(topic, {.start = shmbus::StartAt::earliest()});
        std::uint64_t received = 0;
        std::uint64_t sum = 0;
        start.child_ready();
        while (received < count) {
            const shmbus::PollResult result = reader.poll([&](const shmbus::Record& record) {
                std::byte copy[64];
                std::memcpy(copy, record.payload.data(),
                            std::min(record.payload.size(), sizeof copy));
                sum += static_cast<std::uint64_t>(copy[0]);
                ++received;
            });
            if (result.status != shmbus::Status::kOk) throw std::runtime_error("poll failed");
        }
        const std::uint64_t last = now_ns();
        g_sink = sum;
        return last;
    });
    std::optional<shmbus::Topic> topic;
    std::optional<ar::ArchiveWriter> writer;
    std::optional<ar::Recorder> recorder;
    if (archive_dir != nullptr) {
        if (fs::exists(archive_dir))
            fail(std::string(archive_dir) + " exists: give a fresh directory");
        topic.emplace(shmbus::Topic::open(bus.dir, kTopic, {.access = shmbus::Access::kSubscribe}));
        writer.emplace(archive_dir, topic->name(),
                       std::span<const std::uint8_t, 16>(topic->view().records->topic_id));
        recorder.emplace(*topic, *writer);
    }
    const Child publisher = spawn_publisher(line, bus.dir, size, count);
    line.wait_ready(2);
    line.start();
    if (recorder) record_until(*recorder, count);
    const std::uint64_t last = join(subscriber);
    const std::uint64_t started = join(publisher);
    const double seconds = static_cast<double>(last - started) / 1e9;
    std::printf("case=live size=%zu records=%llu recorder=%d seconds=%.4f records_per_s=%.0f\n",
                size, static_cast<unsigned long long>(count), archive_dir != nullptr ? 1 : 0,
                seconds, static_cast<double>(count) / seconds);
    return 0;
}

std::uint64_t read_all(const fs::path& dir, std::uint64_t& payload_bytes) {
    ar::ArchiveCursor cursor(dir, 0, false);
    std::uint64_t records = 0;
    std::uint64_t sum = 0;
    payload_bytes = 0;
    cursor.read([&](const ar::ArchivedEntry& entry) {
        if (entry.kind == ar::EntryKind::kRecord) {
            ++records;
            payload_bytes += entry.payload.size();
            if (!entry.payload.empty()) sum += static_cast<std::uint64_t>(entry.payload.back());
        }
        return true;
    });
    g_sink = sum;
    if (!cursor.summary().damage.empty()) fail("the archive is damaged");
    return records;
}

int cmd_replay(const fs::path& dir, bool cold) {
    std::uint64_t payload_bytes = 0;
    const std::uint64_t bytes = sync_files(dir, cold);
    if (!cold) (void)read_all(dir, payload_bytes);
    const std::uint64_t started = now_ns();
    const std::uint64_t records = read_all(dir, payload_bytes);
    const double seconds = static_cast<double>(now_ns() - started) / 1e9;
    std::printf(
        "case=replay cold=%d records=%llu archive_bytes=%llu seconds=%.4f "
        "records_per_s=%.0f bytes_per_s=%.0f\n",
        cold ? 1 : 0, static_cast<unsigned long long>(records),
        static_cast<unsigned long long>(bytes), seconds, static_cast<double>(records) / seconds,
        static_cast<double>(bytes) / seconds);
    return 0;
}

constexpr std::size_t kBuildSize = 4096;

int cmd_build(const fs::path& dir, std::uint64_t gib) {
    if (fs::exists(dir)) fail(dir.string() + " exists: give a fresh directory");
    static constexpr std::uint8_t kId[16] = {0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
                                             0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22};
    ar::ArchiveWriter writer(dir, kTopic, std::span<const std::uint8_t, 16>(kId));
    const std::uint64_t records = (gib << 30) / (kBuildSize + ar::kEntryHeaderSize);
    std::vector<std::byte> payload(kBuildSize, std::byte{0x33});
    const std::uint64_t started = now_ns();
    for (std::uint64_t i = 0; i < records; ++i) {
        std::memcpy(payload.data(), &i, sizeof i);
        writer.append_record(i, kEpoch + i * 1000, 1, payload);
        if (i % 256 == 255 || writer.segment_pending()) writer.flush();
    }
    writer.flush();
    (void)sync_files(dir, false);  // written back before anything is measured beside it
    const double seconds = static_cast<double>(now_ns() - started) / 1e9;
    std::printf("case=build records=%llu seconds=%.2f\n", static_cast<unsigned long long>(records),
                seconds);
    return 0;
}

struct Quantiles {
    double median_us;
    double p99_us;
    double max_us;
};

Quantiles quantiles(std::vector<std::uint64_t> ns) {
    std::sort(ns.begin(), ns.end());
    const auto at = [&](double q) {
        return static_cast<double>(
                   ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]) /
               1e3;
    };
    return {at(0.5), at(0.99), static_cast<double>(ns.back()) / 1e3};
}

int cmd_lookup(const fs::path& dir, std::uint64_t lookups, bool cold) {
    if (cold) {
        (void)sync_files(dir, true);
    } else {
        // The indexes in the page cache, as a recorder's or a reader's use leaves them; the
        // segments as they are (a 10 GiB archive need not be cached).
        for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
            if (entry.path().extension() != ".idx") continue;
            std::vector<char> bytes(entry.file_size());
            std::FILE* file = std::fopen(entry.path().c_str(), "rb");
            if (file == nullptr) fail("open " + entry.path().string());
            (void)!std::fread(bytes.data(), 1, bytes.size(), file);
            std::fclose(file);
        }
    }
    // The last sequence: the last segment's first, plus what that segment holds.
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    if (segments.empty()) fail("empty archive");
    std::uint64_t last = segments.back().first_sequence;
    {
        ar::ArchiveCursor tail(dir, last, false);
        tail.read([&](const ar::ArchivedEntry& entry) {
            last = entry.sequence;
            return true;
        });
    }
    std::mt19937_64 random(42);
    std::uniform_int_distribution<std::uint64_t> pick(0, last);
    std::vector<std::uint64_t> by_time;
    std::vector<std::uint64_t> by_sequence;
    for (std::uint64_t i = 0; i < lookups; ++i) {
        const std::uint64_t want = pick(random);
        const std::uint64_t started = now_ns();
        const std::optional<std::uint64_t> found = ar::sequence_at_time(dir, kEpoch + want * 1000);
        by_time.push_back(now_ns() - started);
        if (found != want) fail("sequence_at_time answered wrong");
    }
    for (std::uint64_t i = 0; i < lookups; ++i) {
        const std::uint64_t want = pick(random);
        std::uint64_t got = ~std::uint64_t{0};
        const std::uint64_t started = now_ns();
        ar::ArchiveCursor cursor(dir, want, false);
        cursor.read(
            [&](const ar::ArchivedEntry& entry) {
                got = entry.sequence;
                return false;
            },
            1);
        by_sequence.push_back(now_ns() - started);
        if (got != want) fail("the cursor started at the wrong entry");
    }
    const Quantiles time = quantiles(by_time);
    const Quantiles sequence = quantiles(by_sequence);
    std::printf(
        "case=lookup segments=%zu records=%llu lookups=%llu time_median_us=%.1f "
        "time_p99_us=%.1f time_max_us=%.1f seq_median_us=%.1f seq_p99_us=%.1f "
        "seq_max_us=%.1f\n",
        segments.size(), static_cast<unsigned long long>(last + 1),
        static_cast<unsigned long long>(lookups), time.median_us, time.p99_us, time.max_us,
        sequence.median_us, sequence.p99_us, sequence.max_us);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto arg = [&](std::size_t i) { return argv[i + 1]; };
    try {
        if (args.empty() || args[0] == "--help" || args[0] == "-h") {
            std::fputs(kUsage, args.empty() ? stderr : stdout);
            return args.empty() ? 2 : 0;
        }
        if (args[0] == "record" && args.size() == 4) {
            return cmd_record(parse(arg(1)), parse(arg(2)), arg(3));
        }
        if (args[0] == "live" && (args.size() == 3 || args.size() == 4)) {
            return cmd_live(parse(arg(1)), parse(arg(2)), args.size() == 4 ? arg(3) : nullptr);
        }
        if (args[0] == "replay" && (args.size() == 2 || args.size() == 3)) {
            return cmd_replay(arg(1), args.size() == 3 && args[2] == "cold");
        }
        if (args[0] == "build" && args.size() == 3) return cmd_build(arg(1), parse(arg(2)));
        if (args[0] == "lookup" && (args.size() == 3 || args.size() == 4)) {
            return cmd_lookup(arg(1), parse(arg(2)), args.size() == 4 && args[3] == "cold");
        }
    } catch (const std::exception& error) {
        fail(error.what());
    }
    std::fputs(kUsage, stderr);
    return 2;
}

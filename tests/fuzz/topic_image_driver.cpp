#include "topic_image_driver.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/shmbus.hpp>
#include <shmbus/topic_stats.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "topic_image.hpp"

namespace shmbus::fuzz {
namespace {

constexpr const char* kTopicName = "t";

/// SHMBUS_FUZZ_TRACE=1 in the environment: one line per input saying how far it got, for
/// triage and for checking that the seeds reach the reader.
bool tracing() {
    static const bool on = [] {
        const char* value = std::getenv("SHMBUS_FUZZ_TRACE");
        return value != nullptr && *value != '\0' && *value != '0';
    }();
    return on;
}

[[noreturn]] void broken_promise(const char* what) {
    std::fprintf(stderr, "shmbus fuzz: broken promise: %s\n", what);
    std::abort();
}

void require(bool holds, const char* what) {
    if (!holds) broken_promise(what);
}

/// A bus directory of this process's own, made on first use and removed at exit.
class ScratchBus {
  public:
    ScratchBus() {
        const char* tmp = std::getenv("TMPDIR");
        const std::string parent = std::filesystem::is_directory("/dev/shm")
                                       ? "/dev/shm"
                                       : (tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
        std::string pattern = parent + "/shmbus-fuzz-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        }
        path_ = pattern;
    }
    ~ScratchBus() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchBus(const ScratchBus&) = delete;
    ScratchBus& operator=(const ScratchBus&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

const std::filesystem::path& scratch_bus() {
    static const ScratchBus bus;
    return bus.path();
}

void check_stats(const TopicStats& stats, const ring::TopicView& view) {
    require(stats.publishers.size() <= view.max_publishers, "more publishers than slots");
    require(stats.subscribers.size() <= view.max_subscribers, "more subscribers than slots");
    for (const SubscriberInfo& info : stats.subscribers) {
        require(info.slot < view.max_subscribers, "a subscriber slot index out of range");
        require(info.lag_bytes == 0 || info.position + info.lag_bytes == stats.tail_position,
                "a subscriber's lag is not the distance to the tail");
    }
    for (const PublisherInfo& info : stats.publishers) {
        require(info.slot < view.max_publishers, "a publisher slot index out of range");
    }
}

/// Checks every record a poll hands over, and reads each payload byte (so a payload outside the
/// ring faults, or shows up under ASan where it lies in the heap).
class RecordChecker {
  public:
    explicit RecordChecker(const ring::TopicView& view) : view_(view) {}

    void operator()(const Record& record) {
        const auto* ring_begin = view_.ring;
        const auto* ring_end = view_.ring + view_.capacity;
        const auto* data = record.payload.data();
        require(record.payload.size() <= view_.max_record_size,
                "a payload longer than max_record_size");
        require(record.position % format::kFrameAlignment == 0,
                "a record at an unaligned position");
        require(record.next_position == record.position + view_.frame_size(record.payload.size()),
                "next_position is not where the record's frame ends");
        require(record.next_position - record.position <= view_.room_in_lap(record.position),
                "a record's frame crosses the end of the ring");
        require(record.position >= next_expected_, "a record before the previous one's end");
        if (data >= ring_begin && data < ring_end) {
            require(record.payload.size() <= static_cast<std::size_t>(ring_end - data),
                    "an in-place payload running past the end of the ring");
        }
        unsigned sum = 0;
        for (const std::byte b : record.payload)
            sum += std::to_integer<unsigned>(b);
        sink_ = sink_ + sum;
        next_expected_ = record.next_position;
        ++records_;
    }

    [[nodiscard]] std::size_t records() const noexcept { return records_; }

  private:
    const ring::TopicView& view_;
    std::uint64_t next_expected_ = 0;
    std::size_t records_ = 0;
    volatile unsigned sink_ = 0;
};

StartAt start_of(const DriverChoices& choices) {
    switch (choices.start % 4) {
        case 0:
            return StartAt::latest();
        case 1:
            return StartAt::earliest();
        case 2:
            return StartAt::position(choices.saved_position);
        default:
            return StartAt::position(choices.saved_position, choices.saved_sequence);
    }
}

void poll_some(Subscriber& subscriber, RecordChecker& checker, const DriverChoices& choices) {
    const int polls =
        (choices.options & kOptionPersist) != 0 ? kPersistentPolls : 1 + choices.polls % 4;
    for (int i = 0; i < polls; ++i) {
        const std::uint64_t before = subscriber.position();
        const std::size_t delivered = checker.records();
        const PollResult result = subscriber.poll(checker, choices.limit);
        require(result.records <= choices.limit, "a poll delivered more records than its limit");
        require(checker.records() - delivered == result.records,
                "a poll's count differs from the records its handler saw");
        require(subscriber.position() >= before, "a subscriber's position went backwards");
        if ((choices.options & kOptionWait) != 0) {
            (void)subscriber.wait(std::chrono::nanoseconds(0));
        }
    }
}

void read_topic(const DriverChoices& choices) {
    const bool publish = (choices.options & kOptionPublish) != 0;
    const Topic topic =
        Topic::open(scratch_bus(), kTopicName,
                    {.access = publish ? Access::kPublish : Access::kSubscribe, .prefault = false});
    const ring::TopicView& view = topic.view();
    check_stats(collect_stats(topic), view);
    if (view.capacity > kLargestReadCapacity) return;

    Subscriber subscriber(topic, {.start = start_of(choices),
                                  .spin = std::chrono::nanoseconds(0),
                                  .zero_copy = (choices.options & kOptionCopy) == 0});
    RecordChecker checker(view);
    poll_some(subscriber, checker, choices);
    if (publish) {
        Publisher publisher(topic);
        std::vector<std::byte> record(choices.offer_length % (view.max_record_size + 1u),
                                      std::byte{0x5a});
        (void)publisher.try_offer(record);
        // What a held-back publisher and the daemon do: walk the commit floor, and repair the
        // frame there if its publisher is gone.
        (void)ring::repair_at_floor(view, topic.locks_fd());
        poll_some(subscriber, checker, choices);
    }
    check_stats(collect_stats(topic), view);
    if (tracing()) {
        std::fprintf(stderr,
                     "shmbus fuzz: read %zu records; position %llu, consumed %llu, lost %llu, "
                     "corrupt %llu\n",
                     checker.records(), static_cast<unsigned long long>(subscriber.position()),
                     static_cast<unsigned long long>(subscriber.consumed()),
                     static_cast<unsigned long long>(subscriber.lost()),
                     static_cast<unsigned long long>(subscriber.corrupt()));
    }
}

}  // namespace

void exercise_topic_image(std::span<const std::uint8_t> bytes) {
    const TopicImage image = parse_topic_image(bytes);
    const std::filesystem::path topic_dir = scratch_bus() / kTopicName;
    write_topic_image(image, topic_dir);
    try {
        read_topic(image.choices);
    } catch (const Error& error) {
        // Bad input, reported as the API promises: a setup call threw shmbus::Error.
        if (tracing()) std::fprintf(stderr, "shmbus fuzz: refused: %s\n", error.what());
    }
    // libFuzzer may leave without running static destructors: leave nothing of size behind.
    std::error_code ignored;
    std::filesystem::remove(topic_dir / "records", ignored);
    std::filesystem::remove(topic_dir / "state", ignored);
}

}  // namespace shmbus::fuzz

// What the two event-loop examples share (epoll_topics.cpp, asio_topics.cpp): their command line,
// the records they print and count, and the few lines that read a subscriber until its wake
// descriptor may be waited on. How they wait is in each example.
//
//   PROGRAM [--count N] [--seconds S] TOPIC...
//
// Each record is printed on stdout as "TOPIC: RECORD", the oldest still in each ring first; once
// a second the records per topic so far go to stderr. --count N: exit 0 after N records in all.
// --seconds S: exit after S seconds, 0 without --count, 1 if fewer than N records had come.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <shmbus/shmbus.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace example {

struct LoopOptions {
    std::vector<std::string> topics;
    std::uint64_t count = 0;         // records in all before exiting; 0: no limit
    std::chrono::seconds seconds{};  // how long to run at most; 0: no limit
};

/// The options, or nothing after printing what is wrong (exit with status 2).
inline std::optional<LoopOptions> parse_options(int argc, char** argv) {
    LoopOptions options;
    const auto number = [&](int& i, std::string_view flag) -> std::optional<std::uint64_t> {
        char* end = nullptr;
        const unsigned long long value = ++i < argc ? std::strtoull(argv[i], &end, 10) : 0;
        if (value == 0 || *argv[i] == '-' || *end != '\0') {
            std::fprintf(stderr, "%s: %.*s wants a positive number\n", argv[0],
                         static_cast<int>(flag.size()), flag.data());
            return std::nullopt;
        }
        return value;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if (argument == "--count") {
            const auto value = number(i, argument);
            if (!value) return std::nullopt;
            options.count = *value;
        } else if (argument == "--seconds") {
            const auto value = number(i, argument);
            if (!value) return std::nullopt;
            options.seconds = std::chrono::seconds(*value);
        } else if (argument.starts_with("-")) {
            options.topics.clear();
            break;
        } else {
            options.topics.emplace_back(argument);
        }
    }
    if (options.topics.empty()) {
        std::fprintf(stderr, "usage: %s [--count N] [--seconds S] TOPIC...\n", argv[0]);
        return std::nullopt;
    }
    return options;
}

/// The records printed so far, per topic, against --count.
class Tally {
  public:
    explicit Tally(const LoopOptions& options)
        : names_(options.topics), counts_(options.topics.size()), limit_(options.count) {}

    void print(std::size_t topic, const shmbus::Record& record) {
        std::printf("%s: %.*s\n", names_[topic].c_str(), static_cast<int>(record.payload.size()),
                    reinterpret_cast<const char*>(record.payload.data()));
        ++counts_[topic];
        ++total_;
    }

    /// How many more records to print before --count is reached.
    [[nodiscard]] std::size_t room() const noexcept {
        if (limit_ == 0) return std::numeric_limits<std::size_t>::max();
        return static_cast<std::size_t>(limit_ - total_);
    }
    [[nodiscard]] bool full() const noexcept { return limit_ != 0 && total_ >= limit_; }
    /// What the program exits with when its time is up.
    [[nodiscard]] int status_at_deadline() const noexcept {
        if (limit_ == 0) return 0;
        std::fprintf(stderr, "only %llu of %llu records came in time\n",
                     static_cast<unsigned long long>(total_),
                     static_cast<unsigned long long>(limit_));
        return 1;
    }

    /// "records: orders 12, trades 40" on stderr.
    void print_counts() const {
        std::string line = "records:";
        for (std::size_t i = 0; i < names_.size(); ++i) {
            line += (i == 0 ? " " : ", ") + names_[i] + " " + std::to_string(counts_[i]);
        }
        std::fprintf(stderr, "%s\n", line.c_str());
    }

  private:
    std::vector<std::string> names_;
    std::vector<std::uint64_t> counts_;
    std::uint64_t limit_;
    std::uint64_t total_ = 0;
};

/// A subscriber to `name`, from the oldest record still there. A missing topic is asked of
/// shmbusd; reading needs only subscribe access.
inline shmbus::Subscriber subscribe(const std::string& name) {
    const shmbus::Topic topic = shmbus::open_or_create(shmbus::default_bus_directory(), name, {},
                                                       {.access = shmbus::Access::kSubscribe});
    return shmbus::Subscriber(topic, {.start = shmbus::StartAt::earliest()});
}

/// The pattern beside Subscriber::wake_fd(): polls until nothing is left, then arm(), and again
/// while arm() says something came meanwhile. Once it returns kOk the subscriber is armed, and
/// its wake descriptor becomes readable at the next record: wait on it. Returns early, with kOk,
/// once --count records are in; returns kEvicted, kTopicLost and the like if the subscriber can
/// read no more.
inline shmbus::Status read_until_armed(shmbus::Subscriber& subscriber, std::size_t topic,
                                       Tally& tally) {
    do {
        for (;;) {
            if (tally.full()) return shmbus::Status::kOk;
            const shmbus::PollResult result = subscriber.poll(
                [&](const shmbus::Record& record) { tally.print(topic, record); }, tally.room());
            // kCorrupt: frames that could not be records were skipped; what follows is read on.
            if (result.status != shmbus::Status::kOk && result.status != shmbus::Status::kCorrupt) {
                return result.status;
            }
            if (result.records == 0) break;
        }
    } while (subscriber.arm());
    std::fflush(stdout);  // whole lines to a pipe as they come, not when a buffer fills
    return shmbus::Status::kOk;
}

}  // namespace example

// shmbus sub TOPIC...: print the records of one or more topics as they arrive.
//
// One thread reads every topic. Each round takes a batch from every topic, so a busy topic cannot
// starve a quiet one; a sub that has caught up everywhere looks a moment longer, then sleeps in
// one WaitSet on all its subscribers and, when a glob is to follow topics created while it runs,
// on the bus directory's inotify descriptor.
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "history_reader.hpp"
#include "interrupts.hpp"
#include "output_buffer.hpp"
#include "record_format.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/wait_set.hpp"
#include "since.hpp"
#include "topic_watch.hpp"

namespace shmbus::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

// A caught-up sub sleeps in slices this long, looking for SIGINT and SIGTERM between them.
constexpr nanoseconds kWaitSlice = std::chrono::milliseconds(100);
// Before it sleeps, a caught-up sub looks at its topics this long, as Subscriber::wait spins
// first: records that follow each other closely cost no wake-up.
constexpr Clock::duration kSpin = std::chrono::microseconds(20);
// While records keep coming, the directory watch is read at most this often.
constexpr Clock::duration kWatchInterval = std::chrono::milliseconds(10);
// Losses are reported at most this often while they go on, and once more at the end.
constexpr Clock::duration kLossReportInterval = std::chrono::seconds(1);
// After a signal, buffered output gets this long to drain before it is dropped.
constexpr Clock::duration kFinalFlushTime = std::chrono::seconds(1);
// The directory watch's key in the WaitSet; subscribers' keys count up from 0.
constexpr std::uint64_t kWatchKey = ~std::uint64_t{0};

/// Tells stderr about records the subscriber lost and frames it skipped, without flooding it.
class LossReporter {
  public:
    explicit LossReporter(std::string topic) : topic_(std::move(topic)) {}

    void update(const Subscriber& subscriber) {
        if (subscriber.corrupt() > corrupt_reported_) {
            fmt::print(stderr, "shmbus: topic '{}': skipped {} corrupt frames\n", topic_,
                       subscriber.corrupt() - corrupt_reported_);
            corrupt_reported_ = subscriber.corrupt();
        }
        if (subscriber.lost() == lost_reported_) return;
        const Clock::time_point now = Clock::now();
        if (lost_reported_ != 0 && now - last_report_ < kLossReportInterval) return;
        report(subscriber.lost());
        last_report_ = now;
    }

    void finish(const Subscriber& subscriber) {
        if (subscriber.lost() != lost_reported_) report(subscriber.lost());
    }

  private:
    void report(std::uint64_t lost) {
        fmt::print(stderr,
                   "shmbus: topic '{}': lost {} records, overwritten before they were read ({} in "
                   "total)\n",
                   topic_, lost - lost_reported_, lost);
        lost_reported_ = lost;
    }

    std::string topic_;
    std::uint64_t lost_reported_ = 0;
    std::uint64_t corrupt_reported_ = 0;
    Clock::time_point last_report_{};
};

/// A glob has one of fnmatch's special characters, which no topic name contains.
bool is_glob(std::string_view argument) {
    return argument.find_first_of("*?[") != std::string_view::npos;
}

/// Which records file a topic name stands for: a topic removed and created again under the same
/// name is another file.
struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
};

std::optional<FileId> records_file(const std::filesystem::path& dir, const std::string& name) {
    struct stat st {};
    if (::lstat((dir / name / "records").c_str(), &st) != 0) return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

/// One topic being read.
struct Subscription {
    Subscription(const Topic& opened, const StartAt& start, std::uint64_t wait_key)
        : topic(opened), subscriber(topic, {.start = start}), losses(topic.name()), key(wait_key) {
        struct stat st {};
        if (::fstat(topic.records_fd(), &st) == 0) records = FileId{st.st_dev, st.st_ino};
    }

    Topic topic;
    Subscriber subscriber;
    LossReporter losses;
    std::uint64_t key;
    FileId records;
    bool failed = false;  // evicted, lost: let go at the end of the round
};

/// Why reading stopped, short of a signal, a closed output or an error.
enum class End : std::uint8_t { kCount, kTimedOut, kNothingLeft };

/// The topics of one `shmbus sub`: subscribing, reading in rounds, waiting, following the
/// directory for globs.
class Reader {
  public:
    Reader(std::filesystem::path dir, const std::vector<std::string>& arguments, RecordStyle style)
        : dir_(std::move(dir)),
          arguments_(arguments),
          style_(style),
          interactive_(::isatty(STDOUT_FILENO) == 1) {}

    /// Subscribes, in the order of the arguments, to each topic named (failing as Topic::open
    /// fails) and each existing topic a glob matches (reporting those it cannot read, and going
    /// on without them), all at `start`. With a glob, watches the directory first, so that no
    /// topic created meanwhile slips between the listing and the watch.
    void start(const StartAt& start) {
        if (std::any_of(arguments_.begin(), arguments_.end(), is_glob)) {
            watch_.emplace(dir_);
            waits_.add(watch_->fd(), EPOLLIN, kWatchKey);
        }
        std::optional<std::vector<std::string>> existing;
        for (const std::string& argument : arguments_) {
            if (!is_glob(argument)) {
                if (find(argument) == subscriptions_.end()) {
                    attach(open_topic(dir_, argument, {.access = Access::kSubscribe}), start);
                }
                continue;
            }
            if (!existing) existing = list_topics(dir_);
            for (const std::string& name : *existing) {
                if (::fnmatch(argument.c_str(), name.c_str(), 0) == 0) take_if_wanted(name, start);
            }
        }
    }

    /// Prints records until `count` of them are printed, `timeout` passes without one, or no
    /// topic is left to read and none can come.
    End read(std::uint64_t count, std::optional<nanoseconds> timeout) {
        remaining_ = count;
        Clock::time_point idle_since{};  // since when no record came, valid while `idle`
        bool idle = false;
        Clock::time_point watch_read = Clock::now();
        while (remaining_ > 0) {
            throw_if_interrupted();
            if (subscriptions_.empty() && !watch_) return End::kNothingLeft;
            if (read_round() > 0) {
                idle = false;
                if (interactive_) out_.flush();
                if (watch_ && Clock::now() - watch_read >= kWatchInterval) {
                    follow_directory();
                    watch_read = Clock::now();
                }
                continue;
            }
            // Caught up everywhere: let the reader have what we printed, then sleep until a
            // commit on any topic or a change in the directory.
            out_.flush();
            if (spin()) continue;
            nanoseconds slice = kWaitSlice;
            if (timeout) {
                const Clock::time_point now = Clock::now();
                if (!idle) {
                    idle_since = now;
                    idle = true;
                }
                const nanoseconds idle_for = now - idle_since;
                if (idle_for >= *timeout) return End::kTimedOut;
                slice = std::min(slice, *timeout - idle_for);
            }
            bool directory_changed = false;
            for (const WaitSet::Ready& ready : waits_.wait(slice)) {
                directory_changed |= !ready.subscriber && ready.key == kWatchKey;
            }
            if (directory_changed) {
                follow_directory();
                watch_read = Clock::now();
            }
        }
        return End::kCount;
    }

    /// Prints what is buffered, and the losses not reported yet.
    void finish() {
        out_.flush();
        for (const auto& subscription : subscriptions_)
            subscription->losses.finish(subscription->subscriber);
    }

    /// finish() on the way out of a signal, a closed output or an error: what was received, if
    /// the reader still takes it.
    void abandon() {
        out_.flush_until(Clock::now() + kFinalFlushTime);
        for (const auto& subscription : subscriptions_)
            subscription->losses.finish(subscription->subscriber);
    }

    /// The status of the first topic that failed (evicted, lost, unreadable), if one did.
    [[nodiscard]] std::optional<ExitStatus> failure() const noexcept { return failure_; }

    /// "topic 't'", or "topics 'a', 'b.*'": what the arguments asked for, for messages.
    [[nodiscard]] std::string describe() const {
        if (arguments_.size() == 1 && !is_glob(arguments_[0])) {
            return fmt::format("topic '{}'", arguments_[0]);
        }
        std::string text = "topics ";
        for (std::size_t i = 0; i < arguments_.size(); ++i) {
            text += fmt::format("{}'{}'", i == 0 ? "" : ", ", arguments_[i]);
        }
        return text;
    }

  private:
    using Subscriptions = std::vector<std::unique_ptr<Subscription>>;

    /// What came of trying to subscribe to a topic a glob matched.
    enum class Attempt : std::uint8_t { kAttached, kNotYet, kFailed };

    Subscriptions::iterator find(const std::string& name) {
        return std::find_if(subscriptions_.begin(), subscriptions_.end(),
                            [&](const auto& held) { return held->topic.name() == name; });
    }

    [[nodiscard]] bool wanted(const std::string& name) const {
        return std::any_of(arguments_.begin(), arguments_.end(), [&](const std::string& argument) {
            return ::fnmatch(argument.c_str(), name.c_str(), 0) == 0;
        });
    }

    void attach(const Topic& topic, const StartAt& start) {
        auto subscription = std::make_unique<Subscription>(topic, start, next_key_++);
        waits_.add(subscription->subscriber, subscription->key);
        subscriptions_.push_back(std::move(subscription));
    }

    /// Subscribes to topic `name`, which a glob matched, at `start`. A topic that is gone again,
    /// being initialised, or (unless `settled`, when it is a directory made in place and perhaps
    /// still being filled) does not open yet, is kNotYet; any other failure is reported.
    Attempt take(const std::string& name, const StartAt& start, bool settled) {
        try {
            attach(Topic::open(dir_, name, {.access = Access::kSubscribe}), start);
            return Attempt::kAttached;
        } catch (const Error& error) {
            if (!settled || error.code() == ErrorCode::kNotFound ||
                error.code() == ErrorCode::kBusy) {
                return Attempt::kNotYet;
            }
            fail(exit_status_for(error.code()), fmt::format("{}; not reading it", error.what()));
            if (const auto records = records_file(dir_, name)) given_up_[name] = *records;
            return Attempt::kFailed;
        }
    }

    /// Remembers the first failure and reports it, after the records printed before it.
    void fail(ExitStatus status, const std::string& message) {
        if (!failure_) failure_ = status;
        out_.flush();
        fmt::print(stderr, "shmbus: {}\n", message);
    }

    /// Hands up to a batch of `subscription`'s records to the output. Marks it failed if it was
    /// evicted or lost its topic.
    std::size_t read_batch(Subscription& subscription) {
        const std::string& name = subscription.topic.name();
        const auto print = [&](const Record& record) { write_record(out_, record, name, style_); };
        const std::size_t limit = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining_, Subscriber::kDefaultBatch));
        const PollResult result = subscription.subscriber.poll(print, limit);
        remaining_ -= result.records;
        subscription.losses.update(subscription.subscriber);
        // kCorrupt means frames were skipped (reported above); the rest end this topic.
        if (result.status == Status::kOk || result.status == Status::kCorrupt) {
            return result.records;
        }
        subscription.failed = true;
        given_up_[name] = subscription.records;
        const bool others = watch_ || std::any_of(subscriptions_.begin(), subscriptions_.end(),
                                                  [](const auto& held) { return !held->failed; });
        const std::string going_on = others ? "; reading the other topics on" : "";
        if (result.status == Status::kEvicted) {
            fail(ExitStatus::kEvicted,
                 fmt::format("topic '{}': this subscriber was evicted for holding back publishers, "
                             "after {} records{}",
                             name, subscription.subscriber.consumed(), going_on));
        } else {
            fail(exit_status_for(result.status),
                 fmt::format("topic '{}': {}{}", name, to_string(result.status), going_on));
        }
        return result.records;
    }

    /// One batch from every topic; lets go of those that failed. Returns the records printed.
    std::size_t read_round() {
        std::size_t records = 0;
        for (const auto& subscription : subscriptions_) {
            if (remaining_ == 0) break;
            records += read_batch(*subscription);
        }
        for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
            it = (*it)->failed ? let_go(it) : it + 1;
        }
        return records;
    }

    /// Whether a topic has something to poll within kSpin.
    [[nodiscard]] bool spin() const {
        if (subscriptions_.empty()) return false;
        const Clock::time_point until = Clock::now() + kSpin;
        do {
            for (const auto& subscription : subscriptions_) {
                if (subscription->subscriber.ready()) return true;
            }
        } while (Clock::now() < until);
        return false;
    }

    Subscriptions::iterator let_go(Subscriptions::iterator it) {
        Subscription& subscription = **it;
        (void)waits_.remove(subscription.subscriber);
        subscription.losses.finish(subscription.subscriber);
        return subscriptions_.erase(it);
    }

    /// Reads what the directory watch has: new topics a glob matches are read from their earliest
    /// record, topics removed (or replaced) are let go.
    void follow_directory() {
        changes_.clear();
        if (!watch_->read(changes_)) {
            relist();
            return;
        }
        for (const TopicWatch::Change& change : changes_) {
            using Kind = TopicWatch::Change::Kind;
            let_go_if_removed(change.name);
            if (change.kind == Kind::kGone) continue;
            take_if_wanted(change.name, StartAt::earliest(), change.kind == Kind::kAppeared);
        }
    }

    /// The watch lost events: the directory as it is now decides.
    void relist() {
        std::vector<std::string> held;
        for (const auto& subscription : subscriptions_)
            held.push_back(subscription->topic.name());
        for (const std::string& name : held)
            let_go_if_removed(name);
        for (const std::string& name : list_topics(dir_))
            take_if_wanted(name, StartAt::earliest());
    }

    /// Lets go of topic `name` if it no longer stands for the topic being read (removed, or
    /// removed and created again), after printing what was left in it.
    void let_go_if_removed(const std::string& name) {
        const auto it = find(name);
        if (it == subscriptions_.end()) return;
        const std::optional<FileId> now = records_file(dir_, name);
        if (now && *now == (*it)->records) return;
        Subscription& subscription = **it;
        while (remaining_ > 0 && !subscription.failed && read_batch(subscription) > 0) {
        }
        if (!subscription.failed) {
            out_.flush();
            fmt::print(stderr, "shmbus: note: topic '{}' was removed; {} records read from it\n",
                       name, subscription.subscriber.consumed());
        }
        let_go(it);
    }

    /// Whether `name` still stands for a topic that failed (evicted, lost, unreadable): never
    /// read again, which would repeat or skip records without a word. A topic created again under
    /// the name is another topic.
    [[nodiscard]] bool gave_up(const std::string& name) {
        const auto it = given_up_.find(name);
        if (it == given_up_.end()) return false;
        if (records_file(dir_, name) == it->second) return true;
        given_up_.erase(it);
        return false;
    }

    /// Subscribes to topic `name` at `start` if an argument matches it and it is not read
    /// already; a directory that is not a whole topic yet is watched until it is. `settled`: see
    /// take().
    void take_if_wanted(const std::string& name, const StartAt& start, bool settled = true) {
        if (find(name) != subscriptions_.end() || !wanted(name) || gave_up(name)) return;
        switch (take(name, start, settled)) {
            case Attempt::kNotYet:
                if (!watch_->watch_inside(name)) return;  // gone already
                // What changed in it before the watch began raised no event: look once more.
                if (take(name, start, settled) != Attempt::kNotYet) watch_->forget_inside(name);
                return;
            case Attempt::kAttached:
            case Attempt::kFailed:
                watch_->forget_inside(name);
                return;
        }
    }

    std::filesystem::path dir_;
    const std::vector<std::string>& arguments_;
    RecordStyle style_;
    bool interactive_;
    OutputBuffer out_{STDOUT_FILENO};
    WaitSet waits_;
    std::optional<TopicWatch> watch_;
    Subscriptions subscriptions_;
    std::vector<TopicWatch::Change> changes_;  // scratch
    std::uint64_t next_key_ = 0;
    std::uint64_t remaining_ = 0;
    std::optional<ExitStatus> failure_;
    std::map<std::string, FileId> given_up_;  // see gave_up()
};

class Sub final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_option("TOPIC", topics_,
                       "Topics to subscribe to; a glob ('orders.*', quoted) also takes every topic "
                       "it matches that is created while sub runs")
            ->required()
            ->type_name("");
        app.add_option("--from", from_text_,
                       "earliest, latest, or a position from --format json ('position' starts "
                       "at a record, 'next_position' after it; one topic only)")
            ->type_name("WHERE")
            ->default_str("latest");
        count_option_ =
            app.add_option("--count", count_text_, "Exit (status 0) after N records in all")
                ->type_name("N");
        timeout_option_ =
            app.add_option("--timeout", timeout_text_,
                           "Exit with status 8 after S seconds without a record on any topic")
                ->type_name("S");
        app.add_option("--format", format_text_,
                       "text (payload, newline), hex (lowercase), or json (one object a line, "
                       "with the topic, payload in base64)")
            ->type_name("FORMAT")
            ->default_str("text");
        app.add_flag("--prefix", prefix_, "Start each text or hex line with its topic: 'orders: '");
        since_option_ = app.add_option("--since", since_text_,
                                       "Start at the first record stamped at or after a time: "
                                       "how long ago (10m, 2h, 7d) or a UTC time "
                                       "(2026-12-07T10:00:00Z)")
                            ->type_name("WHEN");
        from_sequence_option_ =
            app.add_option("--from-sequence", from_sequence_text_,
                           "Start at the record with this sequence number (one topic)")
                ->type_name("N");
        archive_option_ =
            app.add_option("--archive", archive_,
                           "The topic's archive (shmbus record -o DIR): read what the ring no "
                           "longer holds from it, then join the ring (one topic)")
                ->type_name("DIR");
        from_option_ = app.get_option("--from");
    }

    ExitStatus run(const Context& context) override {
        for (const std::string& topic : topics_) {
            if (!is_glob(topic)) {
                require_topic_name(topic);
            } else if (topic.find('/') != std::string::npos) {
                throw Failure(ExitStatus::kUsage,
                              fmt::format("glob '{}' contains '/'; topics are names in the bus "
                                          "directory, not paths",
                                          topic));
            }
        }
        const StartAt start = parse_history_start();
        const bool one_topic = topics_.size() == 1 && !is_glob(topics_[0]);
        if (start.kind() == StartAt::Kind::kPosition && !one_topic) {
            throw Failure(ExitStatus::kUsage,
                          "--from: a position is a place in one topic; name exactly one topic, "
                          "not a glob, with it");
        }
        if (start.kind() == StartAt::Kind::kSequence && !one_topic) {
            throw Failure(ExitStatus::kUsage,
                          "--from-sequence: sequence numbers are a topic's own; name exactly one "
                          "topic, not a glob, with it");
        }
        if (archive_option_->count() > 0 && !one_topic) {
            throw Failure(ExitStatus::kUsage,
                          "--archive: an archive holds one topic; name exactly one topic, not a "
                          "glob, with it");
        }
        const RecordStyle style{parse_record_format("--format", format_text_), prefix_};
        if (style.prefix && style.format == RecordFormat::kJson) {
            throw Failure(ExitStatus::kUsage,
                          "--prefix: json records name their topic in the \"topic\" field");
        }
        std::uint64_t count = std::numeric_limits<std::uint64_t>::max();
        if (count_option_->count() > 0) count = parse_count("--count", count_text_);
        std::optional<nanoseconds> timeout;
        if (timeout_option_->count() > 0) timeout = parse_seconds("--timeout", timeout_text_);

        InterruptScope interrupts;
        if (archive_option_->count() > 0) {
            return read_history({.bus_directory = context.bus_directory,
                                 .topic = topics_[0],
                                 .archive = archive_,
                                 .start = start,
                                 .style = style,
                                 .count = count,
                                 .timeout = timeout});
        }
        Reader reader(context.bus_directory, topics_, style);
        reader.start(start);
        End end = End::kCount;
        try {
            end = reader.read(count, timeout);
            reader.finish();
        } catch (const OutputClosed&) {
            // The reader of our output has all it wanted; a topic that failed still says so.
            reader.abandon();
            if (const auto failure = reader.failure()) return *failure;
            throw;
        } catch (...) {
            // A signal, an output error: print what was received, if the reader still takes it,
            // and what was lost.
            reader.abandon();
            throw;
        }
        if (end == End::kTimedOut) {
            const std::string message = fmt::format("no record on {} for {} s (--timeout)",
                                                    reader.describe(), timeout_text_);
            // A topic that failed says more than the silence that followed.
            if (!reader.failure()) throw Failure(ExitStatus::kTimedOut, message);
            fmt::print(stderr, "shmbus: {}\n", message);
        }
        return reader.failure().value_or(ExitStatus::kOk);
    }

  private:
    /// The start --from, --since or --from-sequence asks for (at most one of them); with
    /// --archive and none of them, the archive's first record.
    [[nodiscard]] StartAt parse_history_start() const {
        const bool from_given = from_option_->count() > 0;
        const bool since_given = since_option_->count() > 0;
        const bool sequence_given = from_sequence_option_->count() > 0;
        if (int{from_given} + int{since_given} + int{sequence_given} > 1) {
            throw Failure(ExitStatus::kUsage,
                          "--from, --since and --from-sequence each say where to start: give one");
        }
        if (since_given) {
            return StartAt::time(parse_since("--since", since_text_, util::realtime_ns()));
        }
        if (sequence_given) {
            return StartAt::sequence(parse_count("--from-sequence", from_sequence_text_));
        }
        const StartAt start = parse_start("--from", from_text_);
        if (archive_option_->count() == 0) return start;
        if (!from_given) return StartAt::earliest();
        if (start.kind() != StartAt::Kind::kEarliest) {
            throw Failure(ExitStatus::kUsage,
                          "--archive: start with --since, --from-sequence or --from earliest");
        }
        return start;
    }

    std::vector<std::string> topics_;
    std::string from_text_ = "latest";
    std::string since_text_;
    std::string from_sequence_text_;
    std::filesystem::path archive_;
    CLI::Option* from_option_ = nullptr;
    CLI::Option* since_option_ = nullptr;
    CLI::Option* from_sequence_option_ = nullptr;
    CLI::Option* archive_option_ = nullptr;
    std::string count_text_;
    std::string timeout_text_;
    std::string format_text_ = "text";
    bool prefix_ = false;
    CLI::Option* count_option_ = nullptr;
    CLI::Option* timeout_option_ = nullptr;
};

const CommandRegistration registration{"sub", "Print the records of topics as they arrive",
                                       make_command<Sub>};

}  // namespace
}  // namespace shmbus::cli

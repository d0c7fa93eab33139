// shmbus pub TOPIC [MESSAGE...]: publish each MESSAGE, or each line of standard input, as one
// record.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "interruptible_offer.hpp"
#include "interrupts.hpp"
#include "line_reader.hpp"
#include "shmbus/publisher.hpp"

namespace shmbus::cli {
namespace {

using std::chrono::nanoseconds;

/// Which record, for messages: "line 12" of standard input, or "message 3" of the arguments.
struct RecordOrigin {
    std::string_view kind;
    std::uint64_t number;
};

class Pub final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_option("TOPIC", topic_, "Topic to publish to")->required()->type_name("");
        app.add_option("MESSAGE", messages_,
                       "One record each (put -- before any starting with '-'); none: one "
                       "record per line of standard input, newline removed")
            ->type_name("");
        timeout_option_ = app.add_option("--timeout", timeout_text_,
                                         "Exit with status 8 if a record waits S seconds for "
                                         "room (default: wait as long as it takes)")
                              ->type_name("S");
        app.add_flag("--flush", flush_,
                     "After the last record, write the topic's records back to its file and "
                     "wait until they are there (for a bus directory on a disk)");
    }

    ExitStatus run(const Context& context) override {
        if (timeout_option_->count() > 0) timeout_ = parse_seconds("--timeout", timeout_text_);
        InterruptScope interrupts;
        const Topic topic = open_topic(context.bus_directory, topic_, {.access = Access::kPublish});
        Publisher publisher(topic);
        const std::string limit = fmt::format("topic '{}' takes records of at most {} bytes",
                                              topic_, topic.max_record_size());
        if (!messages_.empty()) {
            for (std::size_t i = 0; i < messages_.size(); ++i) {
                throw_if_interrupted();
                const std::string& message = messages_[i];
                if (message.size() > topic.max_record_size()) {
                    throw Failure(ExitStatus::kUsage,
                                  fmt::format("message {} is {} bytes, too long: {}", i + 1,
                                              message.size(), limit));
                }
                publish(publisher, message, {"message", i + 1});
            }
        } else {
            LineReader lines(STDIN_FILENO, topic.max_record_size(), limit);
            while (const std::optional<std::string_view> line = lines.next()) {
                publish(publisher, *line, {"line", lines.line_number()});
            }
        }
        // A failure (EIO) is a shmbus::Error naming the topic, reported like any other.
        if (flush_) publisher.flush();
        return ExitStatus::kOk;
    }

  private:
    /// Publishes `record`, waiting for room up to --timeout; a failure names the record.
    void publish(Publisher& publisher, std::string_view record, RecordOrigin origin) {
        const auto bytes = std::as_bytes(std::span(record.data(), record.size()));
        const Status status = offer_interruptibly(publisher, bytes, timeout_);
        if (status == Status::kTimedOut) {
            throw Failure(ExitStatus::kTimedOut,
                          fmt::format("timed out after {} s waiting for room in topic '{}' "
                                      "to publish {} {}: a subscriber is not keeping up",
                                      timeout_text_, topic_, origin.kind, origin.number));
        }
        if (status != Status::kOk) {
            throw Failure(exit_status_for(status),
                          fmt::format("publishing {} {} to topic '{}': {}", origin.kind,
                                      origin.number, topic_, to_string(status)));
        }
    }

    std::string topic_;
    std::vector<std::string> messages_;
    std::string timeout_text_;
    CLI::Option* timeout_option_ = nullptr;
    std::optional<nanoseconds> timeout_;
    bool flush_ = false;
};

const CommandRegistration registration{"pub", "Publish records to a topic", make_command<Pub>};

}  // namespace
}  // namespace shmbus::cli

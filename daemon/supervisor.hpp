// The bus directory under supervision: which topics it holds, which of them the daemon has
// open, and the topics the configuration or a client asks for.
//
// Every topic in the directory is supervised, whoever created it: the configured ones, those
// clients asked the daemon for, and those a program made with shmbus::create_topic. At each
// check the directory is listed again: new topics are opened, removed or replaced ones let go.
// A topic that cannot be opened (a corrupt or incompatible file) is reported once, by file, and
// left exactly as it is.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <shmbus/detail/control/message.hpp>
#include <string>

#include "config.hpp"
#include "creation_rules.hpp"
#include "progress_watch.hpp"
#include "recorder_process.hpp"
#include "supervised_topic.hpp"

namespace shmbusd {

struct BusCounts {
    std::uint32_t topics = 0;
    std::uint32_t unusable = 0;  // topics in the directory that cannot be opened
    std::uint32_t publishers = 0;
    std::uint32_t subscribers = 0;
};

class Supervisor {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Supervisor(const Config& config);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    ~Supervisor();  // stops the recorders

    /// Switches to `config` (same bus directory), sets up its topics, and replaces the recorders
    /// whose settings changed.
    void reconfigure(const Config& config);

    /// Creates the configured topics that do not exist, and reports configured topics whose
    /// files differ from the configuration. Never changes an existing topic's layout or records.
    void set_up_configured_topics();

    /// One supervision check of every topic (supervised_topic.hpp), after listing the directory.
    void check(Clock::time_point now);

    /// Answers a client's request for a topic (the control socket's handler).
    [[nodiscard]] shmbus::control::Reply handle_request(
        const shmbus::control::CreateRequest& request, const Peer& peer);

    [[nodiscard]] BusCounts counts() const;

    /// Reaps recorders that ended and starts those due (recorder_process.hpp). Never blocks.
    void tick_recorders(Clock::time_point now);
    /// The descriptor that becomes readable when a recorder reports progress (-1: none), and
    /// what to do then: move those topics' bookmarks (progress_watch.hpp).
    [[nodiscard]] int progress_fd() const noexcept { return progress_watch_.fd(); }
    void progress_reported();

    /// When tick_recorders() next has a recorder to start.
    [[nodiscard]] Clock::time_point next_recorder_deadline() const noexcept;

  private:
    /// Opens `name` for supervision if it is not yet; reports a failure once per file.
    void adopt(const std::string& name);
    void rescan();
    /// Makes the recorders match config_: stops those no longer configured or configured
    /// otherwise, creates the missing ones (started by the next tick).
    void sync_recorders();
    [[nodiscard]] std::uint64_t recorder_starts(std::string_view topic) const;
    void stop_recorders(
        std::map<std::string, std::unique_ptr<RecorderProcess>, std::less<>>& recorders) noexcept;

    Config config_;
    std::map<std::string, std::unique_ptr<SupervisedTopic>, std::less<>> topics_;
    // Topics that could not be opened, with the message reported for each, so the same failure
    // is logged once and not at every check.
    std::map<std::string, std::string, std::less<>> unusable_;
    // One per topic with an [topics.NAME.archive] table.
    std::map<std::string, std::unique_ptr<RecorderProcess>, std::less<>> recorders_;
    ProgressWatch progress_watch_;
};

}  // namespace shmbusd

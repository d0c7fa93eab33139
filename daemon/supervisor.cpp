#include "supervisor.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <shmbus/detail/handle_guard.hpp>
#include <shmbus/detail/util/topic_name.hpp>
#include <shmbus/error.hpp>
#include <shmbus/topic.hpp>

#include "config_values.hpp"
#include "topic_setup.hpp"

namespace shmbusd {
namespace {

shmbus::Topic open_for_supervision(const std::filesystem::path& dir, const std::string& name) {
    // No prefaulting: the daemon reads headers, slots and the odd frame, not the whole ring.
    return shmbus::Topic::open(dir, name, {.access = shmbus::Access::kAdmin, .prefault = false});
}

shmbus::control::Reply refusal(shmbus::ErrorCode code, std::string message) {
    shmbus::control::Reply reply;
    reply.code = code;
    reply.message = std::move(message);
    return reply;
}

std::string describe(const std::filesystem::path& dir, std::string_view name) {
    return "topic '" + std::string(name) + "' in " + dir.string();
}

}  // namespace

Supervisor::Supervisor(const Config& config) : config_(config) {
    sync_recorders();
}

Supervisor::~Supervisor() {
    stop_recorders(recorders_);
}

void Supervisor::reconfigure(const Config& config) {
    config_ = config;
    unusable_.clear();  // report again under the new configuration
    set_up_configured_topics();
    sync_recorders();
}

void Supervisor::sync_recorders() {
    std::map<std::string, std::unique_ptr<RecorderProcess>, std::less<>> retired;
    for (auto it = recorders_.begin(); it != recorders_.end();) {
        const auto configured = config_.topics.find(it->first);
        const bool same = configured != config_.topics.end() && configured->second.archive &&
                          *configured->second.archive == it->second->settings() &&
                          config_.recorder_command == it->second->command();
        if (same) {
            ++it;
            continue;
        }
        retired.insert(recorders_.extract(it++));
    }
    stop_recorders(retired);
    for (const auto& [name, settings] : config_.topics) {
        if (!settings.archive || recorders_.contains(name)) continue;
        recorders_.emplace(
            name, std::make_unique<RecorderProcess>(name, *settings.archive,
                                                    config_.recorder_command, config_.directory));
    }
}

void Supervisor::stop_recorders(
    std::map<std::string, std::unique_ptr<RecorderProcess>, std::less<>>& recorders) noexcept {
    // Ask them all first, so they stop in parallel, then give them the grace period together.
    for (auto& [name, recorder] : recorders)
        recorder->request_stop();
    const auto deadline = Clock::now() + RecorderProcess::kStopGrace;
    for (auto& [name, recorder] : recorders)
        recorder->finish_stop(deadline);
    recorders.clear();
}

void Supervisor::tick_recorders(Clock::time_point now) {
    for (auto& [name, recorder] : recorders_)
        recorder->tick(now);
}

Supervisor::Clock::time_point Supervisor::next_recorder_deadline() const noexcept {
    Clock::time_point next = Clock::time_point::max();
    for (const auto& [name, recorder] : recorders_)
        next = std::min(next, recorder->next_deadline());
    return next;
}

void Supervisor::set_up_configured_topics() {
    const std::filesystem::path& dir = config_.directory;
    for (const auto& [name, settings] : config_.topics) {
        try {
            shmbus::create_topic(dir, name, topic_options(settings));
            spdlog::info("created topic '{}': capacity {}, max record {}, {} policy", name,
                         format_size(settings.capacity), format_size(settings.max_record_size),
                         settings.policy == shmbus::Policy::kBlock ? "block" : "overwrite");
        } catch (const shmbus::Error& error) {
            if (error.code() != shmbus::ErrorCode::kExists) {
                spdlog::error("cannot create configured {}: {}", describe(dir, name), error.what());
                continue;
            }
            // It exists: keep its records, and say if its layout is not what the file asks for.
            try {
                const shmbus::Topic topic = open_for_supervision(dir, name);
                const auto differences = layout_differences(topic.view(), settings);
                if (!differences.empty()) {
                    spdlog::warn(
                        "{}: {}. The existing file and its records are kept; run `shmbusd --reinit "
                        "{}` (which discards them) to apply the configuration",
                        describe(dir, name), join(differences), name);
                }
            } catch (const shmbus::Error&) {
                // adopt() reports it, once, at the next check.
                continue;
            }
            for (const std::string& problem : enforce_access(dir, name, settings)) {
                spdlog::warn("topic '{}': {}", name, problem);
            }
        }
    }
}

void Supervisor::adopt(const std::string& name) {
    try {
        auto topic =
            std::make_unique<SupervisedTopic>(open_for_supervision(config_.directory, name));
        const SyncSettings& sync = config_.settings_for(name).sync;
        spdlog::info("supervising topic '{}' ({} ring, {} policy{})", name,
                     format_size(topic->topic().capacity()),
                     topic->topic().policy() == shmbus::Policy::kBlock ? "block" : "overwrite",
                     sync.policy == SyncPolicy::kInterval
                         ? ", records written back every " + format_duration(sync.interval)
                         : std::string());
        unusable_.erase(name);
        topics_.emplace(name, std::move(topic));
    } catch (const shmbus::Error& error) {
        if (error.code() == shmbus::ErrorCode::kBusy) return;      // being reinitialised: later
        if (error.code() == shmbus::ErrorCode::kNotFound) return;  // removed since the listing
        const std::string message = error.what();
        const auto [it, inserted] = unusable_.try_emplace(name, message);
        if (inserted || it->second != message) {
            it->second = message;
            if (error.code() == shmbus::ErrorCode::kPermission) {
                spdlog::error(
                    "cannot supervise {}. shmbusd needs read-write access to both of a "
                    "topic's files to reclaim, unblock and evict",
                    message);
            } else {
                spdlog::error(
                    "cannot supervise {}. The file is left untouched; `shmbusd "
                    "--reinit {}` replaces it (discarding its records)",
                    message, name);
            }
        }
    }
}

void Supervisor::rescan() {
    std::vector<std::string> names;
    try {
        names = shmbus::list_topics(config_.directory);
    } catch (const shmbus::Error& error) {
        spdlog::error("cannot list the bus directory: {}", error.what());
        return;
    }
    std::erase_if(topics_, [&](const auto& entry) {
        // A file truncated under us: libshmbus turned the SIGBUS into zero pages over our
        // mapping (client/src/sigbus_guard.cpp). Let go; adopting it again reports the file.
        if (shmbus::detail::mapping_lost(*entry.second->topic().mapping())) {
            spdlog::error("topic '{}': its files were truncated under the daemon; letting go of it",
                          entry.first);
            return true;
        }
        if (entry.second->still_on_disk()) return false;
        spdlog::info("topic '{}' was removed or replaced; letting go of it", entry.first);
        return true;
    });
    std::erase_if(unusable_, [&](const auto& entry) {
        return std::find(names.begin(), names.end(), entry.first) == names.end();
    });
    for (const std::string& name : names) {
        if (!topics_.contains(name)) adopt(name);
    }
}

void Supervisor::check(Clock::time_point now) {
    rescan();
    std::map<std::string, std::filesystem::path, std::less<>> archives;
    for (auto& [name, topic] : topics_) {
        const TopicSettings& settings = config_.settings_for(name);
        topic->check(settings, config_, now, recorder_starts(name));
        if (settings.archive && topic->topic().policy() == shmbus::Policy::kBlock) {
            archives.emplace(name, settings.archive->directory);
        }
    }
    progress_watch_.watch(archives);
}

void Supervisor::progress_reported() {
    for (const std::string& name : progress_watch_.changed()) {
        const auto topic = topics_.find(name);
        if (topic == topics_.end()) continue;
        topic->second->follow_archive(config_.settings_for(name), recorder_starts(name));
    }
}

std::uint64_t Supervisor::recorder_starts(std::string_view topic) const {
    const auto recorder = recorders_.find(topic);
    return recorder == recorders_.end() ? 0 : recorder->second->starts();
}

BusCounts Supervisor::counts() const {
    BusCounts counts;
    counts.topics = static_cast<std::uint32_t>(topics_.size());
    counts.unusable = static_cast<std::uint32_t>(unusable_.size());
    for (const auto& [name, topic] : topics_) {
        counts.publishers += topic->counts().publishers;
        counts.subscribers += topic->counts().subscribers;
    }
    return counts;
}

shmbus::control::Reply Supervisor::handle_request(const shmbus::control::CreateRequest& request,
                                                  const Peer& peer) {
    using shmbus::ErrorCode;
    const std::filesystem::path& dir = config_.directory;
    if (auto problem = shmbus::topic_name_problem(request.name)) {
        spdlog::info("refused a topic request from pid {}, user {}: {}", peer.pid,
                     describe_user(peer.uid), *problem);
        return refusal(ErrorCode::kInvalidArgument, *problem);
    }
    const std::string topic = describe(dir, request.name);
    if (auto refused = creation_refusal(config_.creation, peer, ::geteuid())) {
        spdlog::info("refused {} to pid {}: {}", topic, peer.pid, *refused);
        return refusal(ErrorCode::kPermission, *refused);
    }
    if (request.topic.capacity && *request.topic.capacity > config_.creation.max_capacity) {
        return refusal(ErrorCode::kInvalidArgument,
                       topic + ": capacity " + format_size(*request.topic.capacity) +
                           " is more than this bus allows a requested topic (control.max_capacity "
                           "= " +
                           format_size(config_.creation.max_capacity) + ")");
    }

    // An existing topic answers yes if it agrees on every parameter the request names.
    const auto answer_existing = [&]() -> shmbus::control::Reply {
        const shmbus::Topic existing = open_for_supervision(dir, request.name);
        const auto differences = request_differences(existing.view(), request.topic);
        if (!differences.empty()) {
            return refusal(ErrorCode::kExists,
                           topic + " already exists, and its " + join(differences));
        }
        shmbus::control::Reply reply;
        reply.ok = true;
        reply.created = false;
        return reply;
    };
    try {
        return answer_existing();
    } catch (const shmbus::Error& error) {
        if (error.code() != ErrorCode::kNotFound) throw;
    }

    std::size_t present = 0;
    try {
        present = shmbus::list_topics(dir).size();
    } catch (const shmbus::Error&) {
        present = 0;  // create_topic reports what is wrong with the directory
    }
    if (present >= config_.creation.max_topics) {
        return refusal(ErrorCode::kNoSpace, topic + ": the bus already holds " +
                                                std::to_string(present) +
                                                " topics, its limit (control.max_topics)");
    }
    const TopicSettings settings = apply_request(config_.settings_for(request.name), request.topic);
    try {
        shmbus::create_topic(dir, request.name, topic_options(settings));
    } catch (const shmbus::Error& error) {
        if (error.code() == ErrorCode::kExists) return answer_existing();  // lost a race
        spdlog::warn("cannot create {} for pid {}, user {}: {}", topic, peer.pid,
                     describe_user(peer.uid), error.what());
        throw;
    }
    spdlog::info("created topic '{}' for pid {}, user {}: capacity {}, max record {}, {} policy",
                 request.name, peer.pid, describe_user(peer.uid), format_size(settings.capacity),
                 format_size(settings.max_record_size),
                 settings.policy == shmbus::Policy::kBlock ? "block" : "overwrite");
    adopt(request.name);
    shmbus::control::Reply reply;
    reply.ok = true;
    reply.created = true;
    return reply;
}

}  // namespace shmbusd

// The C API's topics: create, remove, open, close, and the stats snapshot.
#include <new>
#include <string>

#include "c_internal.hpp"
#include "shmbus/control.hpp"
#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/topic_stats.hpp"

namespace shmbus::c_api {
namespace {

// The sizes of the first published version of each struct (ABI 1): the smallest struct_size
// accepted. Fields appended later make the struct bigger, never these numbers.
constexpr std::size_t kTopicOptionsV1 = sizeof(shmbus_topic_options);
constexpr std::size_t kOpenOptionsV1 = sizeof(shmbus_open_options);
constexpr std::size_t kTopicStatsV1 = sizeof(shmbus_topic_stats);

/// shmbus_topic_options as shmbus::TopicOptions; false if a field cannot be taken.
bool topic_options_of(const char* function, const shmbus_topic_options* in, TopicOptions& out) {
    if (in == nullptr) return true;
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    if (!read_options(in, kTopicOptionsV1, options)) {
        invalid(function, "options->struct_size is wrong (shmbus_topic_options_init sets it)");
        return false;
    }
    if (options.policy != SHMBUS_POLICY_BLOCK && options.policy != SHMBUS_POLICY_OVERWRITE) {
        invalid(function, "options->policy is not a shmbus_policy");
        return false;
    }
    out.capacity = options.capacity;
    out.max_record_size = options.max_record_size;
    out.max_publishers = options.max_publishers;
    out.max_subscribers = options.max_subscribers;
    out.policy = options.policy == SHMBUS_POLICY_BLOCK ? Policy::kBlock : Policy::kOverwrite;
    out.timestamps = options.timestamps;
    out.fenced_commits = options.fenced_commits;
    out.records.mode = static_cast<mode_t>(options.records_mode);
    out.state.mode = static_cast<mode_t>(options.state_mode);
    out.directory.mode = static_cast<mode_t>(options.directory_mode);
    return true;
}

bool open_options_of(const char* function, const shmbus_open_options* in, OpenOptions& out) {
    if (in == nullptr) return true;
    shmbus_open_options options;
    shmbus_open_options_init(&options);
    if (!read_options(in, kOpenOptionsV1, options)) {
        invalid(function, "options->struct_size is wrong (shmbus_open_options_init sets it)");
        return false;
    }
    switch (options.access) {
        case SHMBUS_ACCESS_SUBSCRIBE:
            out.access = Access::kSubscribe;
            break;
        case SHMBUS_ACCESS_PUBLISH:
            out.access = Access::kPublish;
            break;
        case SHMBUS_ACCESS_ADMIN:
            out.access = Access::kAdmin;
            break;
        default:
            invalid(function, "options->access is not a shmbus_access");
            return false;
    }
    out.prefault = options.prefault;
    return true;
}

/// The handle for an open topic. The C library is the code that walks the files, so the
/// format version checked is its own (Topic::open, inline, passes the one it was compiled for).
shmbus_topic* make_handle(Topic topic) {
    auto* handle = new shmbus_topic{shmbus_topic::kMagic, std::move(topic), {}, {}};
    handle->name = handle->topic.name();
    handle->directory = handle->topic.directory().string();
    return handle;
}

}  // namespace
}  // namespace shmbus::c_api

using namespace shmbus::c_api;

extern "C" {

void shmbus_topic_options_init(shmbus_topic_options* options) {
    if (options == nullptr) return;
    const shmbus::TopicOptions defaults;
    *options = shmbus_topic_options{};
    options->struct_size = sizeof(*options);
    options->capacity = defaults.capacity;
    options->max_record_size = defaults.max_record_size;
    options->max_publishers = defaults.max_publishers;
    options->max_subscribers = defaults.max_subscribers;
    options->policy = SHMBUS_POLICY_BLOCK;
    options->timestamps = defaults.timestamps;
    options->records_mode = defaults.records.mode;
    options->state_mode = defaults.state.mode;
    options->directory_mode = defaults.directory.mode;
    options->fenced_commits = defaults.fenced_commits;
}

void shmbus_open_options_init(shmbus_open_options* options) {
    if (options == nullptr) return;
    *options = shmbus_open_options{};
    options->struct_size = sizeof(*options);
    options->access = SHMBUS_ACCESS_PUBLISH;
    options->prefault = true;
}

void shmbus_topic_stats_init(shmbus_topic_stats* stats) {
    if (stats == nullptr) return;
    *stats = shmbus_topic_stats{};
    stats->struct_size = sizeof(*stats);
}

int shmbus_topic_create(const char* dir, const char* name, const shmbus_topic_options* options) {
    static constexpr const char* kFunction = "shmbus_topic_create";
    return guarded(kFunction, [&]() -> int {
        if (name == nullptr) return invalid(kFunction, "name is NULL");
        shmbus::TopicOptions topic_options;
        if (!topic_options_of(kFunction, options, topic_options)) return SHMBUS_E_INVALID_ARGUMENT;
        shmbus::create_topic(directory_of(dir), name, topic_options);
        return SHMBUS_OK;
    });
}

int shmbus_topic_remove(const char* dir, const char* name) {
    static constexpr const char* kFunction = "shmbus_topic_remove";
    return guarded(kFunction, [&]() -> int {
        if (name == nullptr) return invalid(kFunction, "name is NULL");
        if (!shmbus::remove_topic(directory_of(dir), name)) {
            return fail(SHMBUS_E_NOT_FOUND, std::string(kFunction) + ": no topic '" + name + "'");
        }
        return SHMBUS_OK;
    });
}

int shmbus_topic_open(const char* dir, const char* name, const shmbus_open_options* options,
                      shmbus_topic** topic) {
    static constexpr const char* kFunction = "shmbus_topic_open";
    if (topic == nullptr) return invalid(kFunction, "topic (the handle's address) is NULL");
    *topic = nullptr;
    return guarded(kFunction, [&]() -> int {
        if (name == nullptr) return invalid(kFunction, "name is NULL");
        shmbus::OpenOptions open_options;
        if (!open_options_of(kFunction, options, open_options)) return SHMBUS_E_INVALID_ARGUMENT;
        *topic = make_handle(shmbus::Topic::open(directory_of(dir), name, open_options));
        return SHMBUS_OK;
    });
}

int shmbus_topic_open_or_create(const char* dir, const char* name,
                                const shmbus_topic_options* create_options,
                                const shmbus_open_options* open_options, shmbus_topic** topic) {
    static constexpr const char* kFunction = "shmbus_topic_open_or_create";
    if (topic == nullptr) return invalid(kFunction, "topic (the handle's address) is NULL");
    *topic = nullptr;
    return guarded(kFunction, [&]() -> int {
        if (name == nullptr) return invalid(kFunction, "name is NULL");
        shmbus::TopicOptions topic_options;
        if (!topic_options_of(kFunction, create_options, topic_options)) {
            return SHMBUS_E_INVALID_ARGUMENT;
        }
        shmbus::OpenOptions options;
        if (!open_options_of(kFunction, open_options, options)) return SHMBUS_E_INVALID_ARGUMENT;
        *topic =
            make_handle(shmbus::open_or_create(directory_of(dir), name, topic_options, options));
        return SHMBUS_OK;
    });
}

void shmbus_topic_close(shmbus_topic** topic) {
    if (topic == nullptr || !valid(*topic)) return;
    shmbus_topic* const handle = *topic;
    *topic = nullptr;
    handle->magic = 0;
    delete handle;  // noexcept: releasing the mapping's last reference unmaps it
}

const char* shmbus_topic_name(const shmbus_topic* topic) {
    return valid(topic) ? topic->name.c_str() : nullptr;
}

const char* shmbus_topic_directory(const shmbus_topic* topic) {
    return valid(topic) ? topic->directory.c_str() : nullptr;
}

int shmbus_topic_stat(const shmbus_topic* topic, shmbus_topic_stats* stats) {
    static constexpr const char* kFunction = "shmbus_topic_stat";
    if (!valid(topic)) return invalid(kFunction, "topic is NULL or not a topic");
    if (stats == nullptr) return invalid(kFunction, "stats is NULL");
    return guarded(kFunction, [&]() -> int {
        const shmbus::TopicStats collected = shmbus::collect_stats(topic->topic);
        shmbus_topic_stats out{};
        out.struct_size = sizeof(out);
        out.capacity = collected.capacity;
        out.max_record_size = collected.max_record_size;
        out.max_publishers = collected.max_publishers;
        out.max_subscribers = collected.max_subscribers;
        out.policy = collected.policy == shmbus::Policy::kBlock ? SHMBUS_POLICY_BLOCK
                                                                : SHMBUS_POLICY_OVERWRITE;
        out.timestamps = collected.timestamps;
        out.created_ns = collected.created_ns;
        out.tail_position = collected.tail_position;
        out.tail_sequence = collected.tail_sequence;
        out.commit_floor = collected.commit_floor;
        out.published = collected.published;
        out.consumed = collected.consumed;
        out.lost = collected.lost;
        out.aborted = collected.aborted;
        out.unblocked = collected.unblocked;
        out.evicted = collected.evicted;
        out.reclaimed = collected.reclaimed;
        out.supervisor_pid = collected.supervisor_pid;
        out.publishers = static_cast<std::uint32_t>(collected.publishers.size());
        out.subscribers = static_cast<std::uint32_t>(collected.subscribers.size());
        out.fenced_commits = collected.fenced_commits;
        if (!write_out(stats, kTopicStatsV1, out)) {
            return invalid(kFunction, "stats->struct_size is wrong (shmbus_topic_stats_init)");
        }
        return SHMBUS_OK;
    });
}

}  // extern "C"

// shmbus stat [TOPIC]: a topic's geometry, counters and attached clients.
#include <fmt/format.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bus_directory.hpp"
#include "command.hpp"
#include "json_writer.hpp"
#include "shmbus/topic_stats.hpp"
#include "text_table.hpp"

namespace shmbus::cli {
namespace {

std::string_view policy_name(Policy policy) {
    return policy == Policy::kOverwrite ? "overwrite" : "block";
}

std::string yes_no(bool value) {
    return value ? "yes" : "no";
}

/// "?" where this process cannot tell (a publisher's liveness, to a subscribe-only user).
std::string yes_no(const std::optional<bool>& value) {
    return value ? yes_no(*value) : "?";
}

/// CLOCK_REALTIME nanoseconds as UTC, e.g. "2024-05-01T12:00:00Z".
std::string describe_time(std::uint64_t ns) {
    if (ns == 0) return "-";
    const auto seconds = static_cast<time_t>(ns / 1'000'000'000u);
    tm utc{};
    if (::gmtime_r(&seconds, &utc) == nullptr) return std::to_string(ns);
    char text[32];
    if (::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0) return std::to_string(ns);
    return text;
}

std::string render_text(const TopicStats& stats, const std::filesystem::path& dir) {
    std::string out = fmt::format("topic {} ({})\n", stats.name, (dir / stats.name).string());
    TextTable facts;
    facts.add({"capacity", describe_size(stats.capacity)});
    facts.add({"max record", fmt::format("{} bytes", stats.max_record_size)});
    facts.add({"policy", std::string(policy_name(stats.policy))});
    facts.add({"timestamps", yes_no(stats.timestamps)});
    facts.add({"fenced commits", yes_no(stats.fenced_commits)});
    facts.add({"created", describe_time(stats.created_ns)});
    facts.add({"tail",
               fmt::format("position {}, sequence {}", stats.tail_position, stats.tail_sequence)});
    facts.add({"commit floor", std::to_string(stats.commit_floor)});
    facts.add({"records", fmt::format("published {}, consumed {}, lost {}", stats.published,
                                      stats.consumed, stats.lost)});
    facts.add(
        {"repairs", fmt::format("aborted {}, unblocked {}, evicted {}, reclaimed {}", stats.aborted,
                                stats.unblocked, stats.evicted, stats.reclaimed)});
    facts.add({"supervisor", stats.supervisor_pid == 0
                                 ? std::string("none")
                                 : fmt::format("pid {}", stats.supervisor_pid)});
    out += facts.render("  ");

    out += fmt::format("  publishers: {} of {} slots\n", stats.publishers.size(),
                       stats.max_publishers);
    if (!stats.publishers.empty()) {
        TextTable table;
        table.add({"SLOT", "PID", "UID", "ALIVE", "PUBLISHED", "ATTACHED"});
        for (const PublisherInfo& p : stats.publishers) {
            table.add({std::to_string(p.slot), std::to_string(p.pid), std::to_string(p.uid),
                       yes_no(p.alive), std::to_string(p.published), describe_time(p.attached_ns)});
        }
        out += table.render("    ");
    }
    out += fmt::format("  subscribers: {} of {} slots\n", stats.subscribers.size(),
                       stats.max_subscribers);
    if (!stats.subscribers.empty()) {
        TextTable table;
        table.add({"SLOT", "PID", "UID", "ALIVE", "POSITION", "LAG", "CONSUMED", "LOST", "EVICTED",
                   "ATTACHED"});
        for (const SubscriberInfo& s : stats.subscribers) {
            table.add({std::to_string(s.slot), std::to_string(s.pid), std::to_string(s.uid),
                       yes_no(s.alive), std::to_string(s.position), std::to_string(s.lag_bytes),
                       std::to_string(s.consumed), std::to_string(s.lost), yes_no(s.evicted),
                       describe_time(s.attached_ns)});
        }
        out += table.render("    ");
    }
    return out;
}

std::string render_json(const TopicStats& stats, const std::filesystem::path& dir) {
    JsonWriter json;
    json.begin_object();
    json.field("topic", stats.name);
    json.field("directory", dir.string());
    json.field("capacity", stats.capacity);
    json.field("max_record_size", stats.max_record_size);
    json.field("max_publishers", stats.max_publishers);
    json.field("max_subscribers", stats.max_subscribers);
    json.field("policy", policy_name(stats.policy));
    json.field("timestamps", stats.timestamps);
    json.field("fenced_commits", stats.fenced_commits);
    json.field("created_ns", stats.created_ns);
    json.field("tail_position", stats.tail_position);
    json.field("tail_sequence", stats.tail_sequence);
    json.field("commit_floor", stats.commit_floor);
    json.key("counters");
    json.begin_object();
    json.field("published", stats.published);
    json.field("consumed", stats.consumed);
    json.field("lost", stats.lost);
    json.field("aborted", stats.aborted);
    json.field("unblocked", stats.unblocked);
    json.field("evicted", stats.evicted);
    json.field("reclaimed", stats.reclaimed);
    json.end_object();
    json.field("supervisor_pid", stats.supervisor_pid);
    json.key("publishers");
    json.begin_array();
    for (const PublisherInfo& p : stats.publishers) {
        json.begin_object();
        json.field("slot", p.slot);
        json.field("pid", p.pid);
        json.field("uid", p.uid);
        if (p.alive) {
            json.field("alive", *p.alive);
        } else {
            json.key("alive");
            json.null_value();  // not known to a subscribe-only user
        }
        json.field("published", p.published);
        json.field("attached_ns", p.attached_ns);
        json.end_object();
    }
    json.end_array();
    json.key("subscribers");
    json.begin_array();
    for (const SubscriberInfo& s : stats.subscribers) {
        json.begin_object();
        json.field("slot", s.slot);
        json.field("pid", s.pid);
        json.field("uid", s.uid);
        json.field("alive", s.alive);
        json.field("evicted", s.evicted);
        json.field("position", s.position);
        json.field("lag_bytes", s.lag_bytes);
        json.field("consumed", s.consumed);
        json.field("lost", s.lost);
        json.field("corrupt", s.corrupt);
        json.field("attached_ns", s.attached_ns);
        json.end_object();
    }
    json.end_array();
    json.end_object();
    return json.text() + '\n';
}

class Stat final : public Command {
  public:
    void define(CLI::App& app) override {
        topic_option_ = app.add_option("TOPIC", topic_, "Topic to describe (default: every topic)")
                            ->type_name("");
        app.add_flag("--json", json_, "One JSON object per topic, one per line, instead of text");
    }

    ExitStatus run(const Context& context) override {
        const bool one_topic = topic_option_->count() > 0;
        const std::vector<std::string> names =
            one_topic ? std::vector{topic_} : list_topics(context.bus_directory);
        std::optional<ExitStatus> failed;
        bool first = true;
        for (const std::string& name : names) {
            std::string text;
            try {
                // Read-only records and no prefault: stat needs only read access, and touches
                // the headers and slots, not the ring.
                const Topic topic = open_topic(context.bus_directory, name,
                                               {.access = Access::kSubscribe, .prefault = false});
                const TopicStats stats = collect_stats(topic);
                text = json_ ? render_json(stats, context.bus_directory)
                             : render_text(stats, context.bus_directory);
            } catch (const std::exception& error) {
                // One topic that cannot be read does not hide the others.
                if (one_topic) throw;
                fmt::print(stderr, "shmbus: {}\n", error.what());
                if (!failed) failed = exit_status_of(error);
                continue;
            }
            if (!json_ && !first) fmt::print("\n");
            fmt::print("{}", text);
            first = false;
        }
        return failed.value_or(ExitStatus::kOk);
    }

  private:
    std::string topic_;
    CLI::Option* topic_option_ = nullptr;
    bool json_ = false;
};

const CommandRegistration registration{"stat", "Show topics' counters and attached clients",
                                       make_command<Stat>};

}  // namespace
}  // namespace shmbus::cli

// shmbus list: the topics of the bus directory.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bus_directory.hpp"
#include "command.hpp"
#include "shmbus/topic_stats.hpp"
#include "text_table.hpp"

namespace shmbus::cli {
namespace {

template <typename Client>
std::size_t count_alive(const std::vector<Client>& clients) {
    std::size_t alive = 0;
    for (const Client& client : clients)
        alive += client.alive == true ? 1 : 0;  // a publisher's may be unknown: not counted
    return alive;
}

class List final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_flag("-l,--long", long_,
                     "Also show each topic's capacity, max record size, policy and live clients");
    }

    ExitStatus run(const Context& context) override {
        const std::vector<std::string> names = list_topics(context.bus_directory);
        if (!long_ || names.empty()) {
            std::string out;
            for (const std::string& name : names)
                out += name + '\n';
            fmt::print("{}", out);
            return ExitStatus::kOk;
        }
        std::optional<ExitStatus> failed;
        TextTable table;
        table.add({"TOPIC", "CAPACITY", "MAX_RECORD", "POLICY", "PUBLISHERS", "SUBSCRIBERS"});
        for (const std::string& name : names) {
            try {
                const Topic topic = open_topic(context.bus_directory, name,
                                               {.access = Access::kSubscribe, .prefault = false});
                const TopicStats stats = collect_stats(topic);
                table.add({name, std::to_string(stats.capacity),
                           std::to_string(stats.max_record_size),
                           stats.policy == Policy::kOverwrite ? "overwrite" : "block",
                           std::to_string(count_alive(stats.publishers)),
                           std::to_string(count_alive(stats.subscribers))});
            } catch (const std::exception& error) {
                // Listed, but unreadable: say why on stderr and go on with the others.
                fmt::print(stderr, "shmbus: {}\n", error.what());
                table.add({name, "?", "?", "?", "?", "?"});
                if (!failed) failed = exit_status_of(error);
            }
        }
        fmt::print("{}", table.render());
        return failed.value_or(ExitStatus::kOk);
    }

  private:
    bool long_ = false;
};

const CommandRegistration registration{"list", "List the topics in the bus directory",
                                       make_command<List>};

}  // namespace
}  // namespace shmbus::cli

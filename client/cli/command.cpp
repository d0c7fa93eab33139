#include "command.hpp"

#include <algorithm>

namespace shmbus::cli {
namespace {

// Built during static initialisation, in whatever order the command files' registrations run:
// a function-local static exists before the first registration uses it.
std::vector<CommandEntry>& registry() {
    static std::vector<CommandEntry> commands;
    return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(std::string_view name, std::string_view summary,
                                         CommandFactory make) {
    registry().push_back({name, summary, make});
}

std::vector<CommandEntry> registered_commands() {
    std::vector<CommandEntry> commands = registry();
    std::sort(commands.begin(), commands.end(),
              [](const CommandEntry& a, const CommandEntry& b) { return a.name < b.name; });
    return commands;
}

}  // namespace shmbus::cli

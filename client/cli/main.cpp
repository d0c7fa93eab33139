// shmbus: the command-line tool. Builds one CLI11 subcommand per registered command (see
// command.hpp), parses, runs the chosen command, and turns every failure into a message on
// stderr and a documented exit status (exit_status.hpp).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "bus_directory.hpp"
#include "command.hpp"
#include "exit_status.hpp"
#include "interrupts.hpp"
#include "shmbus/version.hpp"

namespace shmbus::cli {
namespace {

struct Subcommand {
    CLI::App* app;
    std::unique_ptr<Command> command;
};

void report(std::string_view message) {
    fmt::print(stderr, "shmbus: {}\n", message);
}

/// The subcommand the command line chose, if it got that far.
std::string chosen_command(const CLI::App& app) {
    for (const CLI::App* sub : app.get_subcommands())
        return sub->get_name();
    return {};
}

/// The first argument that is neither an option nor --dir's value: the command's name, if any.
std::string_view first_word(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--dir") {
            ++i;
        } else if (arg == "--") {
            return i + 1 < argc ? argv[i + 1] : "";
        } else if (!arg.starts_with("-")) {
            return arg;
        }
    }
    return {};
}

/// Says what went wrong with the command line; CLI11's words unless no command was chosen.
void report_usage_error(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
    std::string command = chosen_command(app);
    if (command.empty()) {
        std::string names;
        for (const CommandEntry& entry : registered_commands()) {
            names += names.empty() ? "" : ", ";
            names += entry.name;
        }
        const std::string_view word = first_word(argc, argv);
        bool known = false;
        for (const CommandEntry& entry : registered_commands())
            known |= entry.name == word;
        if (word.empty()) {
            report(fmt::format("no command given; the commands are {}", names));
        } else if (!known) {
            report(fmt::format("unknown command '{}'; the commands are {}", word, names));
        } else {
            report(error.what());
        }
    } else {
        report(error.what());
        command += ' ';
    }
    fmt::print(stderr, "Run 'shmbus {}--help' for usage.\n", command);
}

int run_command(Command& command, const std::optional<std::string>& dir_option) {
    try {
        const BusDirectory dir = resolve_bus_directory(dir_option);
        if (command.needs_bus_directory()) require_bus_directory(dir);
        return static_cast<int>(command.run(Context{dir.path}));
    } catch (const Interrupted& interrupted) {
        return kInterruptedBase + interrupted.signal();
    } catch (const OutputClosed&) {
        return static_cast<int>(ExitStatus::kOk);  // the reader has all it wanted
    } catch (const Failure& failure) {
        report(failure.what());
        return static_cast<int>(failure.status());
    } catch (const Error& error) {
        report(error.what());
        return static_cast<int>(exit_status_for(error.code()));
    } catch (const std::bad_alloc&) {
        report("out of memory");
        return static_cast<int>(ExitStatus::kFailure);
    } catch (const std::exception& error) {
        report(error.what());
        return static_cast<int>(ExitStatus::kFailure);
    }
}

int run_tool(int argc, char** argv) {
    CLI::App app("Publish to, subscribe to and inspect the topics of a shmbus bus directory.",
                 "shmbus");
    // Inherited by the subcommands added below: global options may follow the command's name.
    app.fallthrough();
    app.footer(std::string(exit_status_help()));
    app.set_version_flag("--version", std::string(kVersion), "Print the version");
    std::string dir;
    CLI::Option* dir_flag =
        app.add_option("--dir", dir, "Bus directory (default: $SHMBUS_DIR, else /run/shmbus)")
            ->type_name("DIR")
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    std::vector<Subcommand> subcommands;
    for (const CommandEntry& entry : registered_commands()) {
        CLI::App* sub = app.add_subcommand(std::string(entry.name), std::string(entry.summary));
        sub->footer("Exit statuses and environment: see 'shmbus --help'.\n");
        std::unique_ptr<Command> command = entry.make();
        command->define(*sub);
        subcommands.push_back({sub, std::move(command)});
    }
    app.require_subcommand(1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForVersion&) {
        fmt::print("shmbus {}\n", kVersion);
        return static_cast<int>(ExitStatus::kOk);
    } catch (const CLI::Success& done) {  // --help
        return app.exit(done);
    } catch (const CLI::ParseError& error) {
        report_usage_error(app, error, argc, argv);
        return static_cast<int>(ExitStatus::kUsage);
    }

    const std::optional<std::string> dir_option =
        dir_flag->count() > 0 ? std::optional<std::string>(dir) : std::nullopt;
    for (Subcommand& sub : subcommands) {
        if (sub.app->parsed()) return run_command(*sub.command, dir_option);
    }
    report("no command given");
    return static_cast<int>(ExitStatus::kUsage);
}

}  // namespace
}  // namespace shmbus::cli

int main(int argc, char** argv) {
    return shmbus::cli::run_tool(argc, argv);
}

// How a command plugs into the tool.
//
// A command is one file in commands/ with a class deriving from Command and one registration at
// namespace scope:
//
//   namespace {
//   class Tail final : public Command {
//   public:
//       void define(CLI::App& app) override { app.add_option("TOPIC", topic_)->required(); }
//       ExitStatus run(const Context& context) override { ...; return ExitStatus::kOk; }
//   private:
//       std::string topic_;
//   };
//   const CommandRegistration registration{"tail", "Print ...", make_command<Tail>};
//   }  // namespace
//
// main() gives each registered command its own CLI11 subcommand, parses, and runs the one the
// user named. A command reports failure by throwing shmbus::Error or cli::Failure; main prints
// the message and maps it to the exit status (exit_status.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "exit_status.hpp"

namespace CLI {
class App;
}

namespace shmbus::cli {

/// What every command gets besides its own options.
struct Context {
    std::filesystem::path bus_directory;  // exists and is a directory
};

class Command {
  public:
    Command() = default;
    virtual ~Command() = default;
    Command(const Command&) = delete;
    Command& operator=(const Command&) = delete;

    /// Declares the command's arguments and options on its subcommand. The values land in the
    /// command's members when the command line is parsed.
    virtual void define(CLI::App& app) = 0;

    /// Runs the command once its command line parsed. Returns the exit status on success.
    [[nodiscard]] virtual ExitStatus run(const Context& context) = 0;
    /// Whether the command works on the bus directory, which must then exist. Commands on
    /// other files (an archive) say no, and context.bus_directory is then only a path.
    [[nodiscard]] virtual bool needs_bus_directory() const { return true; }
};

using CommandFactory = std::unique_ptr<Command> (*)();

template <typename T>
[[nodiscard]] std::unique_ptr<Command> make_command() {
    return std::make_unique<T>();
}

struct CommandEntry {
    std::string_view name;
    std::string_view summary;  // one line, for `shmbus --help`
    CommandFactory make;
};

/// Adds a command to the tool. Define exactly one per command, at namespace scope, with string
/// literals (they are kept by reference).
class CommandRegistration {
  public:
    CommandRegistration(std::string_view name, std::string_view summary, CommandFactory make);
};

/// Every registered command, sorted by name.
[[nodiscard]] std::vector<CommandEntry> registered_commands();

}  // namespace shmbus::cli

// shmbusd: supervises one shmbus bus directory (see daemon.hpp and docs/SERVICE.md).
//
//   shmbusd [--config FILE] [--dir DIR]      run
//   shmbusd --check-config [--config FILE]   validate the configuration and exit
//   shmbusd --reinit TOPIC [--config FILE]   discard a topic's records (the daemon must be stopped)
//   shmbusd --version
//
// Exit status: 0 success, 1 the daemon could not start or run (another daemon, an unusable
// directory, a refused reinit), 2 a bad option or configuration.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/error.hpp>
#include <shmbus/version.hpp>
#include <string>

#include "config.hpp"
#include "daemon.hpp"
#include "logging.hpp"
#include "reinit.hpp"

namespace {

constexpr int kFailed = 1;
constexpr int kBadConfiguration = 2;

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "shmbusd: supervises a shmbus bus directory: creates the configured topics, "
        "reclaims what dead clients held, unblocks claims dead publishers left "
        "unfinished, evicts subscribers that stall publishers, and creates topics on "
        "request.",
        "shmbusd"};
    std::string config_path;
    std::string directory;
    std::string reinit;
    bool check_only = false;
    bool version = false;
    app.add_option("-c,--config", config_path,
                   "Configuration file (TOML; docs/CONFIG.md). Without it: built-in defaults");
    app.add_option("-d,--dir", directory,
                   "Bus directory, over the configuration's bus.directory (default: $SHMBUS_DIR, "
                   "else /run/shmbus)");
    app.add_flag("--check-config", check_only, "Validate the configuration, report, and exit");
    app.add_option("--reinit", reinit,
                   "Discard topic TOPIC's records and recreate it from the configuration. "
                   "Refused while shmbusd runs or any client has the topic open")
        ->option_text("TOPIC");
    app.add_flag("-V,--version", version, "Print the version and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : kBadConfiguration;
    }
    if (version) {
        std::printf("shmbusd %s (topic format %u)\n", shmbus::kVersion,
                    static_cast<unsigned>(shmbus::format::kFormatVersion));
        return 0;
    }

    shmbusd::DaemonOptions options;
    if (!config_path.empty()) options.config_path = config_path;
    if (!directory.empty()) options.directory = directory;

    shmbusd::Config config;
    try {
        config = shmbusd::load_daemon_config(options);
    } catch (const shmbus::Error& error) {
        std::fprintf(stderr, "shmbusd: %s\n", error.what());
        return error.code() == shmbus::ErrorCode::kInvalidArgument ? kBadConfiguration : kFailed;
    }

    if (check_only) {
        for (const std::string& warning : config.warnings) {
            std::fprintf(stderr, "shmbusd: warning: %s: %s\n", config.origin.c_str(),
                         warning.c_str());
        }
        std::printf("shmbusd: configuration OK (%s): bus directory %s, %zu configured topic%s\n",
                    config.origin.c_str(), config.directory.c_str(), config.topics.size(),
                    config.topics.size() == 1 ? "" : "s");
        return 0;
    }

    if (!reinit.empty()) {
        try {
            std::printf("shmbusd: %s\n", shmbusd::reinit_topic(config, reinit).c_str());
            return 0;
        } catch (const shmbus::Error& error) {
            std::fprintf(stderr, "shmbusd: cannot reinitialise: %s\n", error.what());
            return error.code() == shmbus::ErrorCode::kInvalidArgument ? kBadConfiguration
                                                                       : kFailed;
        }
    }

    shmbusd::setup_logging(config.log_level);
    try {
        return shmbusd::run_daemon(options, std::move(config));
    } catch (const shmbus::Error& error) {
        spdlog::critical("{}", error.what());
        return kFailed;
    } catch (const std::exception& error) {
        spdlog::critical("unexpected failure: {}", error.what());
        return kFailed;
    }
}

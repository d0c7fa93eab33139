// shmbus-bridge: carries records between shmbus topics and NATS subjects (docs/BRIDGE.md).
//
//   shmbus-bridge --config FILE [--check]
//
// Exit status: 0 after SIGINT or SIGTERM, 2 for a bad command line or configuration (the message
// names the key or topic), 1 when it could not start, the outbound side failed, or libnats gave
// up reconnecting.
#include <nats/nats.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <shmbus/error.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bridge_config.hpp"
#include "failure_signal.hpp"
#include "inbound_route.hpp"
#include "nats_connection.hpp"
#include "outbound_pump.hpp"

namespace {

using namespace shmbus_bridge;

constexpr int kBadConfig = 2;
constexpr int kFailed = 1;

void usage(std::FILE* to) {
    std::fputs(
        "usage: shmbus-bridge --config FILE [--check]\n"
        "  --config FILE  the bridge's TOML configuration (docs/BRIDGE.md)\n"
        "  --check        check the configuration and that its topics exist, then exit\n",
        to);
}

void setup_logging() {
    // stderr, one line per event: under systemd the journal adds the time and the unit.
    auto logger = spdlog::stderr_logger_mt("shmbus-bridge");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

int run(const BridgeConfig& config) {
    // SIGINT and SIGTERM are taken by sigwait below; blocked before any thread starts (ours and
    // libnats's), so that none of them is chosen to take the signal.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, kFailureSignal);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // Inbound publishers first: their slots are what the outbound side must skip.
    std::vector<std::unique_ptr<InboundRouteRunner>> inbound;
    OwnSlots own_slots;
    for (const InboundRoute& route : config.inbound) {
        inbound.push_back(std::make_unique<InboundRouteRunner>(route, config.bus_directory));
        own_slots[route.topic].insert(inbound.back()->publisher_slot());
    }
    auto connection = std::make_unique<NatsConnection>(config.nats);
    OutboundPump outbound(config, own_slots, connection->get());
    for (auto& route : inbound)
        route->subscribe(connection->get());
    if (connection->connected()) {
        // The server has every subscription once the flush returns: messages published after
        // "ready" reach the inbound routes.
        const natsStatus status = natsConnection_FlushTimeout(connection->get(), 5000);
        if (status != NATS_OK) spdlog::warn("{}", nats_error("flush after subscribing", status));
    }
    outbound.start();
    spdlog::info("ready: {} outbound and {} inbound routes, origin '{}', bus {}",
                 config.outbound.size(), config.inbound.size(), config.origin,
                 config.bus_directory.string());

    int signal = 0;
    sigwait(&stop_signals, &signal);
    const bool failed = signal == kFailureSignal;
    if (failed) {
        spdlog::error("stopping: the bridge cannot go on (see above)");
    } else {
        spdlog::info("stopping on {}", signal == SIGINT ? "SIGINT" : "SIGTERM");
    }

    outbound.stop();
    connection->close();
    for (auto& route : inbound)
        route->unsubscribe();
    connection.reset();
    // libnats's threads (a subscription's callback among them) end here: only then may the
    // routes that the callbacks use be destroyed.
    if (nats_CloseAndWait(5000) != NATS_OK) spdlog::warn("NATS: the library did not stop in 5 s");

    for (std::size_t i = 0; i < outbound.routes(); ++i) {
        spdlog::info("summary: outbound topic '{}' -> '{}': {}", outbound.route(i).topic,
                     outbound.route(i).subject, describe(outbound.counters(i)));
    }
    for (const auto& route : inbound) {
        spdlog::info("summary: inbound '{}' -> topic '{}': {}", route->route().subject,
                     route->route().topic, describe(route->counters()));
    }
    return failed ? kFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (arg == "--check") {
            check_only = true;
        } else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "shmbus-bridge: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return kBadConfig;
        }
    }
    if (config_path.empty()) {
        std::fputs("shmbus-bridge: --config FILE is required\n", stderr);
        usage(stderr);
        return kBadConfig;
    }
    setup_logging();

    BridgeConfig config;
    try {
        config = load_bridge_config(config_path);
        if (auto problem = bridge_topics_problem(config)) {
            spdlog::error("{}", *problem);
            return kBadConfig;
        }
    } catch (const std::exception& error) {
        spdlog::error("{}", error.what());
        return kBadConfig;
    }
    if (check_only) {
        spdlog::info("{}: configuration is good", config_path);
        return 0;
    }
    try {
        return run(config);
    } catch (const std::exception& error) {
        spdlog::error("{}", error.what());
        return kFailed;
    }
}

// The outbound side: one thread that reads every [[outbound]] route's topic through a WaitSet
// and publishes each record as one NATS message, headers added and payload untouched.
//
// Loop prevention: records whose Record::publisher is one of the bridge's own inbound
// publishers' slots on that topic came from NATS; they are counted and skipped, never resent.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <shmbus/subscriber.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bridge_config.hpp"
#include "counters.hpp"

namespace shmbus_bridge {

/// For each topic, the publisher slots of the bridge's inbound routes that write it.
using OwnSlots = std::map<std::string, std::set<std::uint16_t>>;

class OutboundPump {
  public:
    /// Opens each route's topic and attaches a subscriber at its latest record: the bridge
    /// carries what is published from now on. Throws shmbus::Error if a topic cannot be opened.
    OutboundPump(const BridgeConfig& config, OwnSlots own_slots, natsConnection* connection);
    ~OutboundPump();
    OutboundPump(const OutboundPump&) = delete;
    OutboundPump& operator=(const OutboundPump&) = delete;

    void start();
    /// Wakes the thread and joins it.
    void stop() noexcept;

    [[nodiscard]] std::size_t routes() const noexcept { return routes_.size(); }
    [[nodiscard]] const OutboundRoute& route(std::size_t index) const noexcept {
        return routes_[index]->route;
    }
    [[nodiscard]] const OutboundCounters& counters(std::size_t index) const noexcept {
        return routes_[index]->counters;
    }

  private:
    struct Route {
        OutboundRoute route;
        shmbus::Topic topic;
        std::unique_ptr<shmbus::Subscriber> subscriber;
        std::set<std::uint16_t> own_slots;
        std::uint64_t lost_seen = 0;
        OutboundCounters counters;
        LogLimiter send_log;
        LogLimiter lost_log;
    };

    void run() noexcept;
    /// Sends what the route's subscriber has; kOk, or why the subscriber must be replaced.
    shmbus::Status drain(Route& route);
    void send(Route& route, const shmbus::Record& record);
    void reattach(Route& route, shmbus::Status why);

    std::string origin_;
    natsConnection* connection_;
    std::vector<std::unique_ptr<Route>> routes_;
    int stop_fd_ = -1;  // an eventfd in the WaitSet: the way stop() reaches a waiting thread
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace shmbus_bridge

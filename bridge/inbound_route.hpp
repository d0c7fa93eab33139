// One [[inbound]] route: a NATS subscription whose messages become records of one topic.
//
// The route owns a Publisher on the topic. Its slot is how the outbound side recognises the
// records that came from NATS and leaves them alone (loop prevention, docs/BRIDGE.md).
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <shmbus/publisher.hpp>
#include <shmbus/topic.hpp>

#include "bridge_config.hpp"
#include "counters.hpp"

namespace shmbus_bridge {

class InboundRouteRunner {
  public:
    /// Opens the topic and takes a publisher slot on it; throws shmbus::Error if it cannot.
    InboundRouteRunner(const InboundRoute& route, const std::filesystem::path& bus_directory);
    ~InboundRouteRunner();
    InboundRouteRunner(const InboundRouteRunner&) = delete;
    InboundRouteRunner& operator=(const InboundRouteRunner&) = delete;

    /// Subscribes on `connection`; throws shmbus::Error naming the subject if NATS refuses.
    void subscribe(natsConnection* connection);
    /// Ends the subscription. Its callback may still be running: the object must live until
    /// libnats has stopped its threads (nats_CloseAndWait).
    void unsubscribe() noexcept;

    [[nodiscard]] const InboundRoute& route() const noexcept { return route_; }
    [[nodiscard]] std::uint16_t publisher_slot() const noexcept;
    [[nodiscard]] const InboundCounters& counters() const noexcept { return counters_; }

  private:
    static void on_message(natsConnection*, natsSubscription*, natsMsg* message, void* self);
    void deliver(natsMsg* message) noexcept;

    InboundRoute route_;
    shmbus::Topic topic_;
    std::unique_ptr<shmbus::Publisher> publisher_;
    natsSubscription* subscription_ = nullptr;
    InboundCounters counters_;
    LogLimiter oversized_log_;
    LogLimiter failed_log_;
};

}  // namespace shmbus_bridge

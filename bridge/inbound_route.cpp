#include "inbound_route.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <shmbus/error.hpp>
#include <span>

#include "nats_connection.hpp"

namespace shmbus_bridge {
namespace {

// How many messages libnats may hold for the route before it reports a slow consumer. Large
// enough to ride out a topic that is full for offer_timeout_ms; the server's error says when
// it was not (nats_connection.cpp logs it).
constexpr int kPendingMessages = 65536;
constexpr int kPendingBytes = 64 * 1024 * 1024;

}  // namespace

InboundRouteRunner::InboundRouteRunner(const InboundRoute& route,
                                       const std::filesystem::path& bus_directory)
    : route_(route), topic_(shmbus::Topic::open(bus_directory, route.topic)) {
    publisher_ = std::make_unique<shmbus::Publisher>(topic_);
}

InboundRouteRunner::~InboundRouteRunner() {
    unsubscribe();
}

void InboundRouteRunner::subscribe(natsConnection* connection) {
    natsStatus status = natsConnection_Subscribe(&subscription_, connection, route_.subject.c_str(),
                                                 on_message, this);
    if (status == NATS_OK)
        status = natsSubscription_SetPendingLimits(subscription_, kPendingMessages, kPendingBytes);
    if (status != NATS_OK) {
        throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument,
                            nats_error("cannot subscribe to '" + route_.subject + "'", status));
    }
}

void InboundRouteRunner::unsubscribe() noexcept {
    if (subscription_ == nullptr) return;
    natsSubscription_Destroy(subscription_);
    subscription_ = nullptr;
}

std::uint16_t InboundRouteRunner::publisher_slot() const noexcept {
    return static_cast<std::uint16_t>(publisher_->slot());
}

void InboundRouteRunner::on_message(natsConnection*, natsSubscription*, natsMsg* message,
                                    void* self) {
    static_cast<InboundRouteRunner*>(self)->deliver(message);
    natsMsg_Destroy(message);
}

// Runs on the subscription's own libnats thread, the only thread that uses publisher_.
void InboundRouteRunner::deliver(natsMsg* message) noexcept {
    counters_.received.fetch_add(1, std::memory_order_relaxed);
    const int length = natsMsg_GetDataLength(message);
    const char* subject = natsMsg_GetSubject(message);
    // The length comes from the network: checked against the topic before anything is claimed.
    if (length < 0 || static_cast<std::uint64_t>(length) > topic_.max_record_size()) {
        const std::uint64_t refused =
            counters_.oversized.fetch_add(1, std::memory_order_relaxed) + 1;
        if (oversized_log_.allow()) {
            spdlog::error(
                "inbound '{}' -> topic '{}': refused a message on subject '{}' of {} bytes, "
                "larger than the topic's max record of {} bytes ({} refused so far)",
                route_.subject, route_.topic, subject, length, topic_.max_record_size(), refused);
        }
        return;
    }
    const auto* data = reinterpret_cast<const std::byte*>(natsMsg_GetData(message));
    const shmbus::Status status =
        publisher_->offer(std::span<const std::byte>(data, static_cast<std::size_t>(length)),
                          std::chrono::milliseconds(route_.offer_timeout_ms));
    if (status == shmbus::Status::kOk) {
        counters_.committed.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // Core mode is at most once: a message the topic would not take in time is dropped, and
    // counted, never retried.
    const std::uint64_t failed =
        counters_.not_committed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failed_log_.allow()) {
        spdlog::error(
            "inbound '{}' -> topic '{}': a message on subject '{}' was dropped: {} ({} dropped "
            "so far)",
            route_.subject, route_.topic, subject, shmbus::to_string(status), failed);
    }
}

}  // namespace shmbus_bridge

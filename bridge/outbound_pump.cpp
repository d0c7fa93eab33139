#include "outbound_pump.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <shmbus/error.hpp>
#include <shmbus/wait_set.hpp>

#include "failure_signal.hpp"
#include "nats_connection.hpp"

namespace shmbus_bridge {
namespace {

constexpr std::uint64_t kStopKey = ~std::uint64_t{0};

/// Owns one natsMsg for the span of one send.
struct Message {
    natsMsg* message = nullptr;
    ~Message() { natsMsg_Destroy(message); }
};

}  // namespace

OutboundPump::OutboundPump(const BridgeConfig& config, OwnSlots own_slots,
                           natsConnection* connection)
    : origin_(config.origin), connection_(connection) {
    for (const OutboundRoute& route : config.outbound) {
        shmbus::Topic topic =
            shmbus::Topic::open(config.bus_directory, route.topic,
                                shmbus::OpenOptions{shmbus::Access::kSubscribe, true});
        auto entry = std::unique_ptr<Route>(new Route{route, topic, nullptr, {}, 0, {}, {}, {}});
        entry->subscriber = std::make_unique<shmbus::Subscriber>(entry->topic);
        entry->own_slots = own_slots[route.topic];
        routes_.push_back(std::move(entry));
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
        throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument,
                            std::string("eventfd: ") + std::strerror(errno));
    }
}

OutboundPump::~OutboundPump() {
    stop();
    if (stop_fd_ >= 0) ::close(stop_fd_);
}

void OutboundPump::start() {
    thread_ = std::thread([this] { run(); });
}

void OutboundPump::stop() noexcept {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    const std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
}

void OutboundPump::run() noexcept {
    try {
        shmbus::WaitSet waits;
        waits.add(stop_fd_, EPOLLIN, kStopKey);
        for (std::size_t i = 0; i < routes_.size(); ++i)
            waits.add(*routes_[i]->subscriber, i);
        while (!stopping_.load()) {
            for (const shmbus::WaitSet::Ready& ready : waits.wait(std::chrono::seconds(1))) {
                if (ready.key == kStopKey) continue;
                Route& route = *routes_[ready.key];
                const shmbus::Status status = drain(route);
                if (status != shmbus::Status::kOk) {
                    // The WaitSet lets go of the old subscriber before it is replaced.
                    waits.remove(*route.subscriber);
                    reattach(route, status);
                    waits.add(*route.subscriber, ready.key);
                }
            }
        }
    } catch (const std::exception& error) {
        // Nothing left to carry records out: the bridge stops rather than look alive.
        spdlog::critical("outbound: stopped: {}", error.what());
        signal_failure();
    }
}

shmbus::Status OutboundPump::drain(Route& route) {
    const auto result =
        route.subscriber->poll([&](const shmbus::Record& record) { send(route, record); });
    const std::uint64_t lost = route.subscriber->lost();
    if (lost != route.lost_seen) {
        // Records overwritten before the bridge read them (an overwrite topic outrunning it).
        route.counters.ring_lost.fetch_add(lost - route.lost_seen, std::memory_order_relaxed);
        route.lost_seen = lost;
        if (route.lost_log.allow()) {
            spdlog::error("outbound topic '{}' -> '{}': {} records lost in the ring so far",
                          route.route.topic, route.route.subject, lost);
        }
    }
    return result.status;
}

void OutboundPump::send(Route& route, const shmbus::Record& record) {
    if (route.own_slots.count(record.publisher) != 0) {
        // Written by one of our inbound routes: it came from NATS and must not go back.
        route.counters.own_skipped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    Message out;
    natsStatus status = natsMsg_Create(&out.message, route.route.subject.c_str(), nullptr,
                                       reinterpret_cast<const char*>(record.payload.data()),
                                       static_cast<int>(record.payload.size()));
    const std::string sequence = std::to_string(record.sequence);
    const std::string timestamp = std::to_string(record.timestamp_ns);
    if (status == NATS_OK)
        status = natsMsgHeader_Set(out.message, "Shmbus-Origin", origin_.c_str());
    if (status == NATS_OK)
        status = natsMsgHeader_Set(out.message, "Shmbus-Topic", route.route.topic.c_str());
    if (status == NATS_OK)
        status = natsMsgHeader_Set(out.message, "Shmbus-Sequence", sequence.c_str());
    if (status == NATS_OK)
        status = natsMsgHeader_Set(out.message, "Shmbus-Timestamp", timestamp.c_str());
    // libnats buffers the message and its flusher thread writes batches: no flush per record.
    if (status == NATS_OK) status = natsConnection_PublishMsg(connection_, out.message);
    if (status == NATS_OK) {
        route.counters.sent.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // Core mode is at most once: a record NATS would not take (reconnect buffer full, larger
    // than the server's max_payload) is counted and dropped.
    const std::uint64_t failed =
        route.counters.send_failed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (route.send_log.allow()) {
        spdlog::error("outbound topic '{}' -> '{}': record {} not sent: {} ({} not sent so far)",
                      route.route.topic, route.route.subject, record.sequence,
                      natsStatus_GetText(status), failed);
    }
}

void OutboundPump::reattach(Route& route, shmbus::Status why) {
    spdlog::error(
        "outbound topic '{}' -> '{}': the subscriber stopped ({}); re-attaching at the "
        "latest record, what lies between is lost",
        route.route.topic, route.route.subject, shmbus::to_string(why));
    if (why == shmbus::Status::kTopicLost) {
        const std::filesystem::path directory = route.topic.directory();
        route.subscriber.reset();
        route.topic = shmbus::Topic::open(directory, route.route.topic,
                                          shmbus::OpenOptions{shmbus::Access::kSubscribe, true});
    }
    route.lost_seen = 0;
    route.subscriber = std::make_unique<shmbus::Subscriber>(route.topic);
}

}  // namespace shmbus_bridge

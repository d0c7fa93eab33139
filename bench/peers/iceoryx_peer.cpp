#include "peers/iceoryx_peer.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "core/clock.hpp"
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace shmbus::bench {
namespace {

constexpr std::uint64_t kConnectTimeoutNs = 10'000'000'000;
constexpr std::uint32_t kQueueCapacity = 256;

void register_process() {
    static bool registered = false;
    if (registered) return;
    iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn);
    const std::string name = "shmbus-bench-" + std::to_string(::getpid());
    iox::runtime::PoshRuntime::initRuntime(
        iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str(), name.size()));
    registered = true;
}

iox::capro::IdString_t id_of(const std::string& text) {
    // With the length given: the length-less constructor copies its full capacity from the
    // pointer, which GCC rightly flags for a short literal.
    return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, text.c_str(), text.size());
}

iox::capro::ServiceDescription service_of(const IceoryxPeer::Link& link) {
    return {id_of("shmbus-bench"), id_of(link.instance()), id_of(link.event())};
}

template <typename Ready>
void wait_until(Ready&& ready, const char* what) {
    const std::uint64_t deadline = monotonic_ns() + kConnectTimeoutNs;
    while (!ready()) {
        if (monotonic_ns() > deadline) throw std::runtime_error(std::string("iceoryx: ") + what);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace

struct IceoryxPeer::Writer::State {
    explicit State(const iox::capro::ServiceDescription& service,
                   const iox::popo::PublisherOptions& options)
        : publisher(service, options) {}
    iox::popo::UntypedPublisher publisher;
};

IceoryxPeer::Writer::Writer(Link& link, const PeerOptions&) {
    register_process();
    iox::popo::PublisherOptions options;
    options.historyCapacity = 0;
    options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    state_ = std::make_unique<State>(service_of(link), options);
    wait_until([this] { return state_->publisher.hasSubscribers(); },
               "no subscriber appeared for the publisher");
}

IceoryxPeer::Writer::~Writer() = default;

void IceoryxPeer::Writer::send(std::span<const std::byte> record) {
    for (;;) {
        auto loaned = state_->publisher.loan(static_cast<std::uint32_t>(record.size()));
        if (loaned.has_error()) continue;  // every chunk is in flight: the reader frees one
        void* payload = loaned.value();
        std::memcpy(payload, record.data(), record.size());
        state_->publisher.publish(payload);
        return;
    }
}

struct IceoryxPeer::Reader::State {
    explicit State(const iox::capro::ServiceDescription& service,
                   const iox::popo::SubscriberOptions& options)
        : subscriber(service, options) {}
    iox::popo::UntypedSubscriber subscriber;
    std::unique_ptr<iox::popo::WaitSet<>> waitset;
};

IceoryxPeer::Reader::Reader(Link& link, const PeerOptions& options)
    : sleeps_(options.mode == WaitMode::kSleep) {
    register_process();
    iox::popo::SubscriberOptions subscriber_options;
    subscriber_options.queueCapacity = kQueueCapacity;
    subscriber_options.historyRequest = 0;
    subscriber_options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
    state_ = std::make_unique<State>(service_of(link), subscriber_options);
    wait_until(
        [this] {
            return state_->subscriber.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED;
        },
        "the subscriber was not connected to a publisher");
    if (sleeps_) {
        state_->waitset = std::make_unique<iox::popo::WaitSet<>>();
        if (state_->waitset->attachState(state_->subscriber, iox::popo::SubscriberState::HAS_DATA)
                .has_error()) {
            throw std::runtime_error("iceoryx: cannot attach the subscriber to a WaitSet");
        }
    }
}

IceoryxPeer::Reader::~Reader() = default;

std::span<const std::byte> IceoryxPeer::Reader::take() {
    auto taken = state_->subscriber.take();
    if (taken.has_error()) return {};
    const void* payload = taken.value();
    const auto* header = iox::mepoo::ChunkHeader::fromUserPayload(payload);
    return {static_cast<const std::byte*>(payload), header->userPayloadSize()};
}

void IceoryxPeer::Reader::release(std::span<const std::byte> record) {
    state_->subscriber.release(record.data());
}

void IceoryxPeer::Reader::sleep_until_data() {
    (void)state_->waitset->wait();
}

}  // namespace shmbus::bench

#include "peers/shmbus_c_peer.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace shmbus::bench {
namespace {

constexpr std::uint32_t kLargestRecord = 64 * 1024;
// A spinning publisher never gives its CPU up while held back.
constexpr std::int64_t kSpinForeverNs = std::int64_t{3600} * 1'000'000'000;

shmbus_topic* open_topic(const ShmbusCPeer::Link& link, shmbus_access access, bool prefault) {
    shmbus_open_options options;
    shmbus_open_options_init(&options);
    options.access = access;
    options.prefault = prefault;
    shmbus_topic* topic = nullptr;
    const int status =
        shmbus_topic_open(link.directory().c_str(), link.topic().c_str(), &options, &topic);
    if (status != SHMBUS_OK) fail_shmbus_c("opening the topic", status);
    return topic;
}

}  // namespace

void fail_shmbus_c(const char* what, int status) {
    throw std::runtime_error(std::string("shmbus-c: ") + what + ": " + shmbus_strerror(status) +
                             " (" + shmbus_last_error_message() + ")");
}

// The topic ShmbusPeer::Link makes, through shmbus_topic_create.
ShmbusCPeer::Link::Link(const LinkSpec& spec) : dir_(spec.scratch.string()), topic_(spec.name) {
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    options.capacity = spec.options.capacity;
    // Room for the case's records; a frame must fit a quarter of the ring.
    const std::uint64_t quarter = options.capacity / 4 - 64;
    options.max_record_size =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(kLargestRecord, quarter));
    options.max_record_size =
        std::max(options.max_record_size, static_cast<std::uint32_t>(spec.record_size));
    options.max_publishers = 16;
    options.max_subscribers = 16;
    options.timestamps = spec.options.timestamps;
    options.fenced_commits = spec.options.fenced_commits;
    const int status = shmbus_topic_create(dir_.c_str(), topic_.c_str(), &options);
    if (status != SHMBUS_OK) fail_shmbus_c("creating the topic", status);
}

ShmbusCPeer::Link::~Link() {
    (void)shmbus_topic_remove(dir_.c_str(), topic_.c_str());
}

ShmbusCPeer::Writer::Writer(Link& link, const PeerOptions& options)
    : topic_(open_topic(link, SHMBUS_ACCESS_PUBLISH, options.prefault)),
      mode_(options.mode),
      api_(options.api) {
    shmbus_publisher_options publisher_options;
    shmbus_publisher_options_init(&publisher_options);
    if (mode_ == WaitMode::kSpin) publisher_options.spin_ns = kSpinForeverNs;
    const int status = shmbus_publisher_open(topic_, &publisher_options, &publisher_);
    if (status != SHMBUS_OK) {
        shmbus_topic_close(&topic_);
        fail_shmbus_c("attaching a publisher", status);
    }
    buffers_.reserve(64);
}

ShmbusCPeer::Writer::~Writer() {
    shmbus_publisher_close(&publisher_);
    shmbus_topic_close(&topic_);
}

ShmbusCPeer::Reader::Reader(Link& link, const PeerOptions& options)
    : topic_(open_topic(link, SHMBUS_ACCESS_SUBSCRIBE, options.prefault)), mode_(options.mode) {
    shmbus_subscriber_options subscriber_options;
    shmbus_subscriber_options_init(&subscriber_options);
    subscriber_options.start = SHMBUS_START_LATEST;
    subscriber_options.spin_ns = 0;
    const int status = shmbus_subscriber_open(topic_, &subscriber_options, &subscriber_);
    if (status != SHMBUS_OK) {
        shmbus_topic_close(&topic_);
        fail_shmbus_c("attaching a subscriber", status);
    }
}

ShmbusCPeer::Reader::~Reader() {
    shmbus_subscriber_close(&subscriber_);
    shmbus_topic_close(&topic_);
}

}  // namespace shmbus::bench

#include "peers/shmbus_peer.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shmbus::bench {
namespace {

constexpr std::uint32_t kLargestRecord = 64 * 1024;
// A spinning publisher never gives its CPU up while held back.
constexpr std::chrono::nanoseconds kSpinForever = std::chrono::hours(1);

[[noreturn]] void fail_errno(const char* what) {
    throw std::runtime_error(std::string("shmbus: ") + what + ": " + std::strerror(errno));
}

}  // namespace

void fail_shmbus(const char* what, Status status) {
    throw std::runtime_error(std::string("shmbus: ") + what + ": " +
                             std::string(to_string(status)));
}

ShmbusPeer::Link::Link(const LinkSpec& spec) : dir_(spec.scratch), topic_(spec.name) {
    TopicOptions options;
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
    create_topic(dir_, topic_, options);
}

ShmbusPeer::Link::~Link() {
    (void)remove_topic(dir_, topic_);
}

ShmbusPeer::Writer::Writer(Link& link, const PeerOptions& options)
    : topic_(Topic::open(link.directory(), link.topic(),
                         {.access = Access::kPublish, .prefault = options.prefault})),
      publisher_(topic_, options.mode == WaitMode::kSpin ? PublisherOptions{.spin = kSpinForever}
                                                         : PublisherOptions{}),
      mode_(options.mode),
      api_(options.api) {}

ShmbusPeer::Reader::Reader(Link& link, const PeerOptions& options)
    : topic_(Topic::open(link.directory(), link.topic(),
                         {.access = Access::kSubscribe, .prefault = options.prefault})),
      subscriber_(topic_, SubscriberOptions{.start = StartAt::latest(),
                                            .spin = std::chrono::nanoseconds(0)}),
      mode_(options.mode) {
    if (mode_ != WaitMode::kFd) return;
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) fail_errno("epoll_create1");
    epoll_event event{};
    event.events = EPOLLIN;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, subscriber_.wake_fd(), &event) != 0) {
        fail_errno("adding the wake descriptor to epoll");
    }
}

void ShmbusPeer::Reader::wait_on_descriptor() {
    if (subscriber_.arm()) return;  // records came meanwhile: poll again
    epoll_event event{};
    const int ready = ::epoll_wait(epoll_.get(), &event, 1, static_cast<int>(kLongestWait.count()));
    // No need to read the descriptor: the next arm() drains it.
    if (ready < 0 && errno != EINTR) fail_errno("epoll_wait");
}

}  // namespace shmbus::bench

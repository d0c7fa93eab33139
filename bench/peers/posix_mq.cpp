#include "peers/posix_mq.hpp"

#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace shmbus::bench {
namespace {

// The kernel's hard ceiling on messages per queue (HARD_MSGMAX).
constexpr long kHardMostMessages = 65536;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("mq: " + what + ": " + std::strerror(errno));
}

long system_most_messages() {
    std::ifstream file("/proc/sys/fs/mqueue/msg_max");
    long most = 10;
    file >> most;
    return most;
}

mqd_t create(const std::string& name, long messages, long size) {
    mq_attr attributes{};
    attributes.mq_maxmsg = messages;
    attributes.mq_msgsize = size;
    return ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attributes);
}

}  // namespace

PosixMq::Link::Link(const LinkSpec& spec)
    : name_("/" + spec.unique + "-" + spec.name), record_size_(spec.record_size) {
    // Queues are charged against RLIMIT_MSGQUEUE by their full size.
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    (void)::setrlimit(RLIMIT_MSGQUEUE, &unlimited);
    const long size = static_cast<long>(spec.record_size);
    const long wanted = std::clamp(static_cast<long>(spec.options.capacity / spec.record_size), 1L,
                                   kHardMostMessages);
    mqd_t queue = create(name_, wanted, size);
    if (queue == static_cast<mqd_t>(-1) &&
        (errno == EINVAL || errno == EMFILE || errno == ENOMEM || errno == EPERM)) {
        queue = create(name_, std::min(wanted, system_most_messages()), size);
    }
    if (queue == static_cast<mqd_t>(-1)) fail("creating " + name_);
    ::mq_close(queue);
}

PosixMq::Link::~Link() {
    ::mq_unlink(name_.c_str());
}

PosixMq::Writer::Writer(Link& link, const PeerOptions&)
    : queue_(::mq_open(link.name().c_str(), O_WRONLY | O_CLOEXEC)) {
    if (queue_ == static_cast<mqd_t>(-1)) fail("opening " + link.name());
}

PosixMq::Writer::~Writer() {
    ::mq_close(queue_);
}

void PosixMq::Writer::send(std::span<const std::byte> record) {
    while (::mq_send(queue_, reinterpret_cast<const char*>(record.data()), record.size(), 0) != 0) {
        if (errno != EINTR) fail("mq_send");
    }
}

PosixMq::Reader::Reader(Link& link, const PeerOptions&)
    : queue_(::mq_open(link.name().c_str(), O_RDONLY | O_CLOEXEC)), buffer_(link.record_size()) {
    if (queue_ == static_cast<mqd_t>(-1)) fail("opening " + link.name());
}

PosixMq::Reader::~Reader() {
    ::mq_close(queue_);
}

std::size_t PosixMq::Reader::receive_one() {
    for (;;) {
        const ssize_t got =
            ::mq_receive(queue_, reinterpret_cast<char*>(buffer_.data()), buffer_.size(), nullptr);
        if (got >= 0) return static_cast<std::size_t>(got);
        if (errno != EINTR) fail("mq_receive");
    }
}

}  // namespace shmbus::bench

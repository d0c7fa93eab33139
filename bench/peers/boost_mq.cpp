#include "peers/boost_mq.hpp"

#include <algorithm>

namespace shmbus::bench {

namespace ipc = boost::interprocess;

BoostMq::Link::Link(const LinkSpec& spec)
    : name_(spec.unique + "-" + spec.name), record_size_(spec.record_size) {
    const std::size_t messages = std::clamp<std::size_t>(
        static_cast<std::size_t>(spec.options.capacity / spec.record_size), 16, 65536);
    Queue::remove(name_.c_str());
    Queue queue(ipc::create_only, name_.c_str(), messages, spec.record_size);
}

BoostMq::Link::~Link() {
    Queue::remove(name_.c_str());
}

BoostMq::Writer::Writer(Link& link, const PeerOptions&)
    : queue_(std::make_unique<Queue>(ipc::open_only, link.name().c_str())) {}

BoostMq::Reader::Reader(Link& link, const PeerOptions&)
    : queue_(std::make_unique<Queue>(ipc::open_only, link.name().c_str())),
      buffer_(link.record_size()) {}

}  // namespace shmbus::bench

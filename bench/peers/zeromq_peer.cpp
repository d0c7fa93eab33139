#include "peers/zeromq_peer.hpp"

#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/clock.hpp"

namespace shmbus::bench {
namespace {

constexpr std::uint64_t kConnectTimeoutNs = 10'000'000'000;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("zeromq: " + what + ": " + zmq_strerror(zmq_errno()));
}

ZeromqPeer::Context process_context() {
    static std::weak_ptr<void> shared;
    if (auto context = shared.lock()) return context;
    void* raw = zmq_ctx_new();
    if (raw == nullptr) fail("zmq_ctx_new");
    ZeromqPeer::Context context(raw, [](void* c) { (void)zmq_ctx_term(c); });
    shared = context;
    return context;
}

void* make_socket(const ZeromqPeer::Context& context, int high_water_mark, bool sending) {
    void* socket = zmq_socket(context.get(), ZMQ_PAIR);
    if (socket == nullptr) fail("zmq_socket");
    const int mark_option = sending ? ZMQ_SNDHWM : ZMQ_RCVHWM;
    const int reconnect_ms = 1;
    if (zmq_setsockopt(socket, mark_option, &high_water_mark, sizeof(high_water_mark)) != 0 ||
        zmq_setsockopt(socket, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof(reconnect_ms)) != 0) {
        fail("zmq_setsockopt");
    }
    return socket;
}

/// Connects `socket` and returns once ZeroMQ reports the connection made.
void connect_and_wait(void* context, void* socket, const std::string& endpoint) {
    const std::string monitor = "inproc://connect-" + std::to_string(::getpid()) + "-" +
                                std::to_string(reinterpret_cast<std::uintptr_t>(socket));
    if (zmq_socket_monitor(socket, monitor.c_str(), ZMQ_EVENT_CONNECTED) != 0) {
        fail("zmq_socket_monitor");
    }
    void* events = zmq_socket(context, ZMQ_PAIR);
    if (events == nullptr || zmq_connect(events, monitor.c_str()) != 0) fail("monitor socket");
    if (zmq_connect(socket, endpoint.c_str()) != 0) fail("connecting to " + endpoint);
    const std::uint64_t deadline = monotonic_ns() + kConnectTimeoutNs;
    bool connected = false;
    while (!connected && monotonic_ns() < deadline) {
        zmq_pollitem_t item{events, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0) continue;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, events, 0) >= 6) {  // event number (16 bits), value (32 bits)
            std::uint16_t event = 0;
            std::memcpy(&event, zmq_msg_data(&frame), sizeof(event));
            connected = event == ZMQ_EVENT_CONNECTED;
        }
        while (zmq_msg_more(&frame) != 0)
            (void)zmq_msg_recv(&frame, events, 0);
        zmq_msg_close(&frame);
    }
    (void)zmq_socket_monitor(socket, nullptr, 0);
    const int linger = 0;
    (void)zmq_setsockopt(events, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(events);
    if (!connected) throw std::runtime_error("zeromq: no connection to " + endpoint);
}

}  // namespace

ZeromqPeer::Link::Link(const LinkSpec& spec)
    : path_((spec.scratch / (spec.name + ".zmq")).string()),
      endpoint_("ipc://" + path_),
      record_size_(spec.record_size),
      high_water_mark_(static_cast<int>(
          std::clamp<std::uint64_t>(spec.options.capacity / spec.record_size, 1, 1u << 20))) {}

ZeromqPeer::Link::~Link() {
    ::unlink(path_.c_str());
}

ZeromqPeer::Writer::Writer(Link& link, const PeerOptions&) : context_(process_context()) {
    socket_ = make_socket(context_, link.high_water_mark(), true);
    connect_and_wait(context_.get(), socket_, link.endpoint());
}

ZeromqPeer::Writer::~Writer() {
    zmq_close(socket_);
}

void ZeromqPeer::Writer::send(std::span<const std::byte> record) {
    while (zmq_send(socket_, record.data(), record.size(), 0) < 0) {
        if (zmq_errno() != EINTR) fail("zmq_send");
    }
}

ZeromqPeer::Reader::Reader(Link& link, const PeerOptions&)
    : context_(process_context()), buffer_(link.record_size()) {
    socket_ = make_socket(context_, link.high_water_mark(), false);
    if (zmq_bind(socket_, link.endpoint().c_str()) != 0) fail("binding " + link.endpoint());
}

ZeromqPeer::Reader::~Reader() {
    zmq_close(socket_);
}

std::size_t ZeromqPeer::Reader::receive_one() {
    for (;;) {
        const int got = zmq_recv(socket_, buffer_.data(), buffer_.size(), 0);
        if (got >= 0) return std::min(static_cast<std::size_t>(got), buffer_.size());
        if (zmq_errno() != EINTR) fail("zmq_recv");
    }
}

}  // namespace shmbus::bench

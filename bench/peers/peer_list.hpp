// Every peer the driver knows, by the name given to --peer.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "peers/boost_mq.hpp"
#include "peers/cache_line.hpp"
#include "peers/eventfd_peer.hpp"
#include "peers/pipe_peer.hpp"
#include "peers/posix_mq.hpp"
#include "peers/reference_ring.hpp"
#include "peers/shmbus_c_peer.hpp"
#include "peers/shmbus_peer.hpp"
#include "peers/unix_seqpacket.hpp"
#if SHMBUS_BENCH_ZEROMQ
#include "peers/zeromq_peer.hpp"
#endif
#if SHMBUS_BENCH_ICEORYX
#include "peers/iceoryx_peer.hpp"
#endif

namespace shmbus::bench {

inline constexpr std::string_view kPeerNames =
    "cache-line, reference, shmbus, shmbus-c, unix, pipe, eventfd, mq, boost-mq"
#if SHMBUS_BENCH_ZEROMQ
    ", zeromq"
#endif
#if SHMBUS_BENCH_ICEORYX
    ", iceoryx"
#endif
    ;

/// Calls `visit.template operator()<P>()` with the peer named `name`.
template <typename Visit>
decltype(auto) with_peer(std::string_view name, Visit&& visit) {
    if (name == CacheLine::kName) return visit.template operator()<CacheLine>();
    if (name == ReferenceRing::kName) return visit.template operator()<ReferenceRing>();
    if (name == ShmbusPeer::kName) return visit.template operator()<ShmbusPeer>();
    if (name == ShmbusCPeer::kName) return visit.template operator()<ShmbusCPeer>();
    if (name == UnixSeqpacket::kName) return visit.template operator()<UnixSeqpacket>();
    if (name == PipePeer::kName) return visit.template operator()<PipePeer>();
    if (name == EventfdPeer::kName) return visit.template operator()<EventfdPeer>();
    if (name == PosixMq::kName) return visit.template operator()<PosixMq>();
    if (name == BoostMq::kName) return visit.template operator()<BoostMq>();
#if SHMBUS_BENCH_ZEROMQ
    if (name == ZeromqPeer::kName) return visit.template operator()<ZeromqPeer>();
#endif
#if SHMBUS_BENCH_ICEORYX
    if (name == IceoryxPeer::kName) return visit.template operator()<IceoryxPeer>();
#endif
    throw std::invalid_argument("--peer: unknown peer '" + std::string(name) +
                                "' (known: " + std::string(kPeerNames) + ")");
}

}  // namespace shmbus::bench

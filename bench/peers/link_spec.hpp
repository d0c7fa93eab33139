// What every peer (transport under test) is given, and the shape it must have.
//
// A peer is a type with three nested classes:
//   Link    made by the driver before it forks: the channel's resources (a file, a queue, a
//           socket pair, a topic). Its destructor, run in the driver only, removes them.
//   Writer  made in a measured process from the Link: send(record) copies one record in and
//           returns when the transport has it (waiting while it is full: every case is
//           lossless); send_many(records) does the same for several.
//   Reader  made in a measured process from the Link: receive(handler) waits for at least one
//           record (spinning, sleeping, or sleeping on a wake descriptor, as PeerOptions::mode
//           says and the peer can) and calls handler(std::span<const std::byte>) for each it
//           takes; returns how many.
// Cases are templates over the peer type, so the measured loops make no virtual calls.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace shmbus::bench {

/// How a reader waits: spinning, sleeping the peer's own way, or sleeping in epoll on a wake
/// descriptor the way an event loop does (kFd: shmbus's Subscriber::wake_fd and arm).
enum class WaitMode { kSpin, kSleep, kFd };
enum class PublishApi { kSingle, kBatch };

[[nodiscard]] constexpr std::string_view name_of(WaitMode mode) noexcept {
    switch (mode) {
        case WaitMode::kSpin:
            return "spin";
        case WaitMode::kSleep:
            return "sleep";
        case WaitMode::kFd:
            return "fd";
    }
    return "unknown";
}
[[nodiscard]] constexpr std::string_view name_of(PublishApi api) noexcept {
    return api == PublishApi::kSingle ? "single" : "batch";
}

struct PeerOptions {
    WaitMode mode = WaitMode::kSpin;
    PublishApi api = PublishApi::kSingle;  // shmbus: single-record or batch publishing
    bool timestamps = true;                // shmbus: topics stamp each record (the default)
    bool fenced_commits = false;           // shmbus: TopicOptions::fenced_commits
    bool prefault = true;                  // map rings with MAP_POPULATE
    std::uint64_t capacity = std::uint64_t{1} << 20;  // bytes of buffering the link may hold
};

struct LinkSpec {
    std::string name;               // unique within the case: "ping", "pong", "stream-0"
    std::filesystem::path scratch;  // a directory of the case's own, removed afterwards
    std::string unique;             // unique on the machine, for names outside `scratch`
    std::size_t record_size = 64;
    std::size_t writers = 1;
    std::size_t readers = 1;
    PeerOptions options;
};

template <typename P>
concept Peer = requires(typename P::Link& link, typename P::Writer& writer,
                        typename P::Reader& reader, std::span<const std::byte> record,
                        std::span<const std::span<const std::byte>> records) {
    { P::kName } -> std::convertible_to<std::string_view>;
    { P::kBroadcast } -> std::convertible_to<bool>;    // one link reaches many readers
    { P::kMultiWriter } -> std::convertible_to<bool>;  // one link takes many writers
    { P::kCanSpin } -> std::convertible_to<bool>;
    { P::kCanSleep } -> std::convertible_to<bool>;
    { P::kCanWaitFd } -> std::convertible_to<bool>;  // WaitMode::kFd
    writer.send(record);
    writer.send_many(records);
    {
        reader.receive([](std::span<const std::byte>) {})
        } -> std::convertible_to<std::size_t>;
};

}  // namespace shmbus::bench

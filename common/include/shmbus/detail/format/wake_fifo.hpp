// The wake FIFOs: one named pipe per subscriber slot, so that a subscriber can wait in an event
// loop (epoll, poll, select, libuv, Boost.Asio, asyncio) rather than in Subscriber::wait.
//
//   <bus dir>/<topic>/wake/            directory: the topic directory's owner, group and mode
//   <bus dir>/<topic>/wake/0 .. N-1    one FIFO per subscriber slot (N = max subscribers):
//                                      the records file's owner, group and mode
//
// The modes come from the records file because they say exactly who is who: whoever may write
// the records (publish) may write a FIFO, to wake a subscriber; whoever may read the records
// (subscribe) may read one, to be woken. Nobody who may not publish can write one, and no FIFO
// is writable by anyone the records file is not. They are made with the topic and never
// change; shmbusd gives them the configured owner, group and mode on reload, as it does the
// files.
//
// A subscriber opens its slot's FIFO for reading, non-blocking. A publisher opens it for
// reading and writing, non-blocking, once per slot, and keeps it: being a reader itself, its
// writes never raise SIGPIPE or fail with EPIPE when the subscriber has gone, and a full FIFO is
// EAGAIN, already readable, which is all a wake-up needs. A publisher writes one byte per
// wake-up, after taking the subscriber's bit from the sleeping mask (sync/wake_masks.hpp), so a
// FIFO holds at most a few bytes. The subscriber drains it before it looks for records again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace shmbus::format {

inline constexpr const char* kWakeDirectory = "wake";

/// The path of subscriber slot `slot`'s wake FIFO in the topic directory `topic_dir`.
[[nodiscard]] inline std::filesystem::path wake_fifo_path(const std::filesystem::path& topic_dir,
                                                          std::uint32_t slot) {
    return topic_dir / kWakeDirectory / std::to_string(slot);
}

}  // namespace shmbus::format

// The bookmark: shmbusd's own subscriber on a recorded block topic, trailing what the archive
// holds, so that publishers cannot overwrite a record before it is in the archive, even while
// the recorder process is dead (docs/ARCHIVE.md, "No gap across recorder restarts").
//
// When the recorder rewrites DIR/.progress after a flush (progress_watch.hpp), and at each check
// before the stall detector looks, the daemon reads the file and moves the bookmark up to, never
// past, the first record the archive does not hold: peek() says which record is next, advance() passes it.
// Nothing here waits: with no progress to read, the bookmark stays where it is.
//
// The bookmark is an ordinary subscriber slot, so the topic's eviction rules apply to it as to
// any other: under slow_subscriber = "evict", a recorder dead for longer than evict_after
// leaves the bookmark still behind a full ring, and the stall detector evicts it. The daemon
// then lets it go and attaches a new one only once a recorder works again (a new process
// started, or the archive grew: a recorder stalled on its disk that came back), so the
// publishers are not held back again, each evict_after, by a recorder that stays down; the
// next recorder writes a gap entry for what the ring no longer holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <shmbus/subscriber.hpp>
#include <shmbus/topic.hpp>

namespace shmbusd {

class Bookmark {
  public:
    /// One check's work, for a topic recorded into `archive` by a recorder that has been
    /// started `recorder_starts` times: attach if there is no bookmark (unless it was evicted
    /// and no recorder has worked since), then advance to what the archive holds.
    void keep(const shmbus::Topic& topic, const std::filesystem::path& archive,
              std::uint64_t recorder_starts);

    /// Lets go of the bookmark (recording no longer configured, or not a block topic).
    void release() noexcept;

    [[nodiscard]] bool attached() const noexcept { return subscriber_.has_value(); }
    /// The bookmark's slot, if attached.
    [[nodiscard]] std::optional<std::uint32_t> slot() const noexcept;

  private:
    std::optional<shmbus::Subscriber> subscriber_;
    // When the bookmark was evicted: the recorder starts counted then, and how far the archive
    // went. It is attached again once a recorder starts or the archive grows.
    struct Evicted {
        std::uint64_t starts = 0;
        std::uint64_t archived = 0;
    };
    std::optional<Evicted> evicted_;
    bool attach_error_reported_ = false;
};

}  // namespace shmbusd

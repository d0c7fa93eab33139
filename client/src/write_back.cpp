// Writing a topic's records from its shared mapping back to the file beneath it: what makes a
// topic on a disk durable (docs/RELIABILITY.md, "Durable topics").
#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <string>

#include "shmbus/detail/handle_guard.hpp"
#include "shmbus/topic.hpp"
#include "topic_mapping.hpp"

namespace shmbus {

void write_back(const Topic& topic, WriteBack how) {
    const detail::TopicMapping& mapping = *topic.mapping();
    const std::string what = detail::describe(mapping.name, mapping.directory);
    if (detail::mapping_lost(mapping)) {
        throw Error(ErrorCode::kSystem,
                    what +
                        ": cannot write the records back: the records file was truncated "
                        "under this process; re-open the topic");
    }
    if (how == WriteBack::kWait) {
        // MS_SYNC writes the range's dirty pages and waits for them, like fdatasync(2) on the
        // file (on ext4 and XFS it is fdatasync: the journal is committed and the disk's cache
        // flushed). The whole mapping: headers, publisher slots and ring.
        if (::msync(mapping.records_map, mapping.records_size, MS_SYNC) != 0) {
            throw system_error(what + ": writing the records file " +
                               mapping.records_path.string() + " back to its file system (msync)");
        }
        return;
    }
    // Pages dirtied through a shared mapping are marked dirty in the page cache at the first
    // write after each write-back, so this finds them. It waits for nothing (except a full
    // request queue) and so is fit for the daemon's loop.
    if (::sync_file_range(mapping.records_fd, 0, static_cast<off_t>(mapping.records_size),
                          SYNC_FILE_RANGE_WRITE) != 0) {
        throw system_error(what + ": starting the write-back of the records file " +
                           mapping.records_path.string() + " (sync_file_range)");
    }
}

}  // namespace shmbus

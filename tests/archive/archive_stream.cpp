#include "archive_stream.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/shmbus.hpp"
#include "support/payload.hpp"

namespace shmbus::test {

Child start_stream_publisher(const std::filesystem::path& bus, const std::string& topic,
                             std::uint32_t max_record, StreamControl& control,
                             std::uint64_t burst) {
    return Child::fork("publisher", [bus, topic, max_record, &control, burst](ChildLink&) {
        shmbus::Publisher writer(shmbus::Topic::open(bus, topic));
        std::vector<std::byte> buffer(max_record);
        const timespec pause{0, 1'000'000};
        // Relaxed: a flag and a counter, read after the child is reaped or to end the loop.
        for (std::uint64_t i = 0; !control.stop.load(std::memory_order_relaxed); ++i) {
            const std::uint32_t length = record_length(0, i, max_record);
            fill_record(std::span(buffer).first(length), 0, i);
            if (writer.offer(std::span(buffer).first(length), std::chrono::seconds(60)) !=
                Status::kOk) {
                return 2;
            }
            control.published.store(i + 1, std::memory_order_relaxed);
            if (burst != 0 && (i + 1) % burst == 0) ::nanosleep(&pause, nullptr);
        }
        return 0;
    });
}

ArchiveContents read_stream_archive(const std::filesystem::path& archive,
                                    std::uint32_t max_record) {
    ArchiveContents contents;
    const archive::ReadSummary summary =
        archive::read_archive(archive, 0, [&](const archive::ArchivedEntry& entry) {
            if (entry.sequence != contents.next && contents.wrong.empty()) {
                contents.wrong = "entry at sequence " + std::to_string(entry.sequence) + " where " +
                                 std::to_string(contents.next) + " was due";
            }
            if (entry.kind == archive::EntryKind::kGap) {
                ++contents.gaps;
                contents.gap_records += entry.gap_count;
                contents.next = entry.sequence + entry.gap_count;
                return true;
            }
            // One publisher, nothing aborted: the record with sequence n is counter n.
            std::vector<std::byte> expected(record_length(0, entry.sequence, max_record));
            fill_record(expected, 0, entry.sequence);
            if (contents.wrong.empty() && !std::equal(expected.begin(), expected.end(),
                                                      entry.payload.begin(), entry.payload.end())) {
                contents.wrong = "record " + std::to_string(entry.sequence) + " is not its own";
            }
            ++contents.records;
            contents.next = entry.sequence + 1;
            return true;
        });
    if (!summary.damage.empty() && contents.wrong.empty()) {
        contents.wrong = "damage: " + summary.damage.front().problem;
    }
    return contents;
}

}  // namespace shmbus::test

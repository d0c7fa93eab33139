// shmbus-instructions: the instructions one record costs each side, for shmbus's publish paths
// and for the reference ring, counted by callgrind. The writer and the reader run in one
// process, one after the other (the ring holds every record), so nothing spins and the counts
// are exact and repeatable:
//
//   valgrind --tool=callgrind --toggle-collect='*publish_phase*'
//            build-bench/bench/shmbus-instructions --peer shmbus --api batch
//
// Collected instructions / --count is the writer's cost per record (or the reader's, with
// '*receive_phase*'). bench/tools/instruction_counts.py runs every variant and prints the table. The
// writer and reader are the harness's own peers (bench/peers), driven as the stream case
// drives them: records handed over 32 at a time, every payload copied out and checked.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/record_stamp.hpp"
#include "peers/reference_ring.hpp"
#include "peers/shmbus_peer.hpp"

namespace shmbus::bench {
namespace {

constexpr std::size_t kBatch = 32;

template <typename Writer>
[[gnu::noinline]] void publish_phase(Writer& writer, std::vector<std::byte>& buffers,
                                     std::size_t size, std::uint64_t count) {
    std::vector<std::span<const std::byte>> records(kBatch);
    for (std::uint64_t sent = 0; sent < count; sent += kBatch) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            const std::span<std::byte> record(buffers.data() + i * size, size);
            stamp_record(record, 0, sent + i);
            records[i] = record;
        }
        writer.send_many(records);
    }
}

template <typename Reader>
[[gnu::noinline]] std::uint64_t receive_phase(Reader& reader, std::size_t size,
                                              std::uint64_t count) {
    std::vector<std::byte> copy(size);
    SequenceCheck check(1, size);
    while (check.received() < count) {
        reader.receive([&](std::span<const std::byte> record) {
            std::memcpy(copy.data(), record.data(), std::min(record.size(), copy.size()));
            check.check(record);
        });
    }
    return check.errors();
}

template <typename P>
int measure(const LinkSpec& spec, std::uint64_t count) {
    typename P::Link link(spec);
    typename P::Reader reader(link, spec.options);  // attached first: it must see every record
    typename P::Writer writer(link, spec.options);
    std::vector<std::byte> buffers(kBatch * spec.record_size);
    publish_phase(writer, buffers, spec.record_size, count);
    const std::uint64_t errors = receive_phase(reader, spec.record_size, count);
    std::printf("%llu records, %llu errors\n", static_cast<unsigned long long>(count),
                static_cast<unsigned long long>(errors));
    return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
    using namespace shmbus::bench;
    std::string peer = "shmbus";
    std::string api = "batch";
    std::string timestamps = "off";
    std::uint64_t count = 32 * 1024;
    std::size_t size = 64;
    CLI::App app("Instructions per record, for callgrind (see bench/tools/instruction_counts.py)",
                 "shmbus-instructions");
    app.add_option("--peer", peer, "shmbus or reference");
    app.add_option("--api", api, "shmbus: single or batch");
    app.add_option("--timestamps", timestamps, "shmbus: on or off");
    app.add_option("--count", count, "Records (a multiple of 32)");
    app.add_option("--size", size, "Payload bytes");
    CLI11_PARSE(app, argc, argv);

    LinkSpec spec;
    spec.name = "instructions";
    spec.unique = "shmbus-instructions-" + std::to_string(::getpid());
    spec.scratch = std::filesystem::path("/dev/shm") / spec.unique;
    spec.record_size = size;
    spec.options.api = api == "single" ? PublishApi::kSingle : PublishApi::kBatch;
    spec.options.timestamps = timestamps == "on";
    count = (count + kBatch - 1) / kBatch * kBatch;
    // Room for every record at once, in either ring.
    std::uint64_t capacity = 1 << 16;
    while (capacity < 2 * count * (size + 64))
        capacity <<= 1;
    spec.options.capacity = capacity;
    std::filesystem::create_directories(spec.scratch);
    int status = 0;
    try {
        status = peer == "reference" ? measure<ReferenceRing>(spec, count)
                                     : measure<ShmbusPeer>(spec, count);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "shmbus-instructions: %s\n", error.what());
        status = 1;
    }
    std::filesystem::remove_all(spec.scratch);
    return status;
}

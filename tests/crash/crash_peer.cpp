// shmbus_crash_peer: a publisher or a subscriber in a process of its own, for the crash tests.
// A fault point is armed through SHMBUS_FAULT, which a process reads once from its own
// environment, so every client that is to die at a fault point runs this program.
//
//   shmbus_crash_peer publish DIR TOPIC KEY COUNT [BATCH]
//       attaches a publisher, prints "slot N", then offers records 0 .. COUNT-1 of KEY (lengths
//       and bytes from support/payload.hpp), waiting while held back, and prints "published".
//       With BATCH > 1 it hands them to offer_batch BATCH at a time (the batch claim path).
//
//   shmbus_crash_peer subscribe DIR TOPIC BATCH
//       attaches a subscriber at the earliest record, prints "slot N", then polls at most
//       BATCH records at a time, for ever. For each record it prints, before the poll that
//       delivered it publishes its new position (where mid_advance strikes):
//           record PUBLISHER SEQUENCE NEXT_POSITION LENGTH CHECKSUM LOST
//       (CHECKSUM: support/payload.hpp's, seed 0; LOST: the subscriber's lost() by then).
//
// Every line is written with one write(2), so a line is either whole in the pipe or missing
// when the process is killed. Exit status: 2 bad arguments, 3 a shmbus call failed.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <shmbus/shmbus.hpp>
#include <span>
#include <string>
#include <vector>

#include "support/payload.hpp"

namespace {

void say(const std::string& text) {
    const std::string line = text + "\n";
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
        if (n <= 0) return;  // the test is gone
        done += static_cast<std::size_t>(n);
    }
}

int usage() {
    std::fprintf(stderr,
                 "usage: shmbus_crash_peer publish DIR TOPIC KEY COUNT [BATCH]\n"
                 "       shmbus_crash_peer subscribe DIR TOPIC BATCH\n");
    return 2;
}

int publish(const std::string& dir, const std::string& name, std::uint32_t key, std::uint64_t count,
            std::uint64_t batch) {
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    shmbus::Publisher publisher(topic);
    say("slot " + std::to_string(publisher.slot()));
    const std::uint32_t max = topic.max_record_size();
    std::vector<std::byte> buffer(batch * max);
    std::vector<std::span<const std::byte>> records;
    for (std::uint64_t first = 0; first < count; first += batch) {
        records.clear();
        for (std::uint64_t counter = first; counter < count && counter < first + batch; ++counter) {
            const std::span<std::byte> bytes(buffer.data() + (counter - first) * max,
                                             shmbus::test::record_length(key, counter, max));
            shmbus::test::fill_record(bytes, key, counter);
            records.emplace_back(bytes);
        }
        std::size_t published = 0;
        const shmbus::Status status =
            batch == 1 ? publisher.offer(records[0], std::chrono::seconds(30))
                       : publisher.offer_batch(records, published, std::chrono::seconds(30));
        if (status != shmbus::Status::kOk) {
            std::fprintf(stderr, "shmbus_crash_peer: offer of records from %llu: %s\n",
                         static_cast<unsigned long long>(first),
                         std::string(shmbus::to_string(status)).c_str());
            return 3;
        }
    }
    say("published");
    return 0;
}

int subscribe(const std::string& dir, const std::string& name, std::size_t batch) {
    const shmbus::Topic topic =
        shmbus::Topic::open(dir, name, {.access = shmbus::Access::kSubscribe});
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    say("slot " + std::to_string(subscriber.slot()));
    for (;;) {
        const shmbus::PollResult result = subscriber.poll(
            [&](const shmbus::Record& record) {
                say("record " + std::to_string(record.publisher) + " " +
                    std::to_string(record.sequence) + " " + std::to_string(record.next_position) +
                    " " + std::to_string(record.payload.size()) + " " +
                    std::to_string(shmbus::test::checksum(record.payload, 0)) + " " +
                    std::to_string(subscriber.lost()));
            },
            batch);
        if (result.status != shmbus::Status::kOk && result.status != shmbus::Status::kCorrupt) {
            std::fprintf(stderr, "shmbus_crash_peer: poll: %s\n",
                         std::string(shmbus::to_string(result.status)).c_str());
            return 3;
        }
        if (result.records == 0) (void)subscriber.wait(std::chrono::milliseconds(100));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if ((args.size() == 5 || args.size() == 6) && args[0] == "publish") {
            const std::uint64_t batch = args.size() == 6 ? std::stoull(args[5]) : 1;
            if (batch == 0 || batch > 64) return usage();
            return publish(args[1], args[2], static_cast<std::uint32_t>(std::stoul(args[3])),
                           std::stoull(args[4]), batch);
        }
        if (args.size() == 4 && args[0] == "subscribe") {
            return subscribe(args[1], args[2], std::stoul(args[3]));
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "shmbus_crash_peer: %s\n", error.what());
        return 3;
    }
    return usage();
}

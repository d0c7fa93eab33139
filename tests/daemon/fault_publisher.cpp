// A publisher in a process of its own, for tests that arm a fault point through SHMBUS_FAULT
// (which a process reads from its own environment):
//
//   SHMBUS_FAULT=before_commit:stop:11 fault_publisher DIR TOPIC 20 A
//
// publishes "A-0" .. "A-19", one offer each, and with the fault above stops itself between the
// claim and the commit of "A-10". Exit status 0 once all are published, 1 on any failure.
#include <cstdio>
#include <cstdlib>
#include <shmbus/shmbus.hpp>
#include <string>

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: fault_publisher DIR TOPIC COUNT PREFIX\n");
        return 2;
    }
    try {
        const shmbus::Topic topic = shmbus::Topic::open(argv[1], argv[2]);
        shmbus::Publisher publisher(topic);
        const long count = std::strtol(argv[3], nullptr, 10);
        for (long i = 0; i < count; ++i) {
            const std::string record = std::string(argv[4]) + "-" + std::to_string(i);
            const shmbus::Status status =
                publisher.offer(std::as_bytes(std::span(record)), std::chrono::seconds(10));
            if (status != shmbus::Status::kOk) {
                std::fprintf(stderr, "fault_publisher: offer %ld: %s\n", i,
                             std::string(shmbus::to_string(status)).c_str());
                return 1;
            }
        }
        std::printf("published %ld\n", count);
        return 0;
    } catch (const shmbus::Error& error) {
        std::fprintf(stderr, "fault_publisher: %s\n", error.what());
        return 1;
    }
}

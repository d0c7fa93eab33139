// A small shmbus application: publishes or subscribes to one topic.
//
//   shmbus-example pub TOPIC COUNT   publishes "hello 0" .. "hello COUNT-1"
//   shmbus-example sub TOPIC COUNT   prints COUNT records (the oldest still there first)
//
// The bus directory is $SHMBUS_DIR, else /run/shmbus. A missing topic is asked of shmbusd.
#include <cstdio>
#include <cstdlib>
#include <shmbus/shmbus.hpp>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s pub|sub TOPIC COUNT\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const long count = std::strtol(argv[3], nullptr, 10);
    try {
        const shmbus::Topic topic =
            shmbus::open_or_create(shmbus::default_bus_directory(), argv[2]);
        if (mode == "pub") {
            shmbus::Publisher publisher(topic);
            for (long i = 0; i < count; ++i) {
                const std::string record = "hello " + std::to_string(i);
                if (publisher.offer(std::as_bytes(std::span(record))) != shmbus::Status::kOk)
                    return 1;
            }
            return 0;
        }
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        for (long seen = 0; seen < count;) {
            seen += static_cast<long>(
                subscriber
                    .poll(
                        [](const shmbus::Record& record) {
                            std::printf("%.*s\n", static_cast<int>(record.payload.size()),
                                        reinterpret_cast<const char*>(record.payload.data()));
                        },
                        static_cast<std::size_t>(count - seen))
                    .records);
            (void)subscriber.wait(std::chrono::seconds(1));
        }
        return 0;
    } catch (const shmbus::Error& error) {
        std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
        return 1;
    }
}

// shmbus_test_peer: a publisher in a process of its own, for tests that need a fresh program
// (the SHMBUS_FAULT fault point is read once per process, from that process's environment).
//
//   shmbus_test_peer claim DIR TOPIC LENGTH
//       attaches a publisher, prints "slot N", claims LENGTH bytes (the armed fault point, if
//       any, stops or kills it here), prints "claimed POSITION", then reads commands from stdin:
//       "commit" commits the claim and prints "committed"; end of input aborts it and exits.
//
// Exit status: 0 done, 2 bad arguments, 3 a shmbus call failed (the reason on stderr).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fprintf(stderr, "usage: shmbus_test_peer claim DIR TOPIC LENGTH\n");
    return 2;
}

void say(const std::string& line) {
    std::cout << line << std::endl;
}

int claim(const std::string& dir, const std::string& name, std::size_t length) {
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    shmbus::Publisher publisher(topic);
    say("slot " + std::to_string(publisher.slot()));
    shmbus::Claim claimed = publisher.claim(length, std::chrono::seconds(10));
    if (!claimed) {
        std::fprintf(stderr, "claim: %s\n", std::string(to_string(claimed.status())).c_str());
        return 3;
    }
    for (std::size_t i = 0; i < length; ++i)
        claimed.payload()[i] = std::byte{0x5a};
    say("claimed " + std::to_string(claimed.position()));
    std::string command;
    while (std::getline(std::cin, command)) {
        if (command == "commit") {
            const shmbus::Status status = claimed.commit();
            say(status == shmbus::Status::kOk ? "committed" : std::string(to_string(status)));
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 4 && args[0] == "claim") {
            return claim(args[1], args[2], std::stoul(args[3]));
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "shmbus_test_peer: %s\n", error.what());
        return 3;
    }
    return usage();
}

#include "support/records.hpp"

#include <string>

#include "support/bus_directory.hpp"

namespace shmbus::test {
namespace {

Received copy_of(const Record& record) {
    Received copy;
    copy.payload.assign(record.payload.begin(), record.payload.end());
    copy.position = record.position;
    copy.next_position = record.next_position;
    copy.sequence = record.sequence;
    copy.timestamp_ns = record.timestamp_ns;
    copy.publisher = record.publisher;
    return copy;
}

}  // namespace

Topic create_and_open(const BusDirectory& bus, const TopicOptions& options, std::string_view name) {
    create_topic(bus.path(), name, options);
    return Topic::open(bus.path(), name);
}

std::vector<Received> poll_some(Subscriber& subscriber, std::size_t limit, Status* status) {
    std::vector<Received> received;
    const PollResult result =
        subscriber.poll([&](const Record& record) { received.push_back(copy_of(record)); }, limit);
    if (status != nullptr) *status = result.status;
    return received;
}

std::vector<Received> drain(Subscriber& subscriber, Status* last, std::size_t limit) {
    std::vector<Received> received;
    if (last != nullptr) *last = Status::kOk;
    // A poll may deliver nothing yet still move (padding, a corrupt frame): a few empty polls
    // in a row mean there is nothing more.
    int empty_polls = 0;
    for (int rounds = 0; rounds < 100'000 && received.size() < limit && empty_polls < 4; ++rounds) {
        const std::uint64_t before = subscriber.position();
        const PollResult result =
            subscriber.poll([&](const Record& record) { received.push_back(copy_of(record)); },
                            limit - received.size());
        if (result.status != Status::kOk && last != nullptr) *last = result.status;
        if (result.status == Status::kEvicted || result.status == Status::kForked) break;
        // Moving over padding or damage without delivering counts as progress.
        if (result.records == 0 && subscriber.position() == before) {
            ++empty_polls;
        } else {
            empty_polls = 0;
        }
    }
    return received;
}

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* data = reinterpret_cast<const std::byte*>(text.data());
    return std::vector<std::byte>(data, data + text.size());
}

std::vector<std::byte> filled(std::size_t size, std::uint8_t value) {
    return std::vector<std::byte>(size, std::byte{value});
}

}  // namespace shmbus::test

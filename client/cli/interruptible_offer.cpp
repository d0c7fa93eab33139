#include "interruptible_offer.hpp"

#include <algorithm>

#include "interrupts.hpp"

namespace shmbus::cli {
namespace {

using std::chrono::nanoseconds;

// A publisher held back waits in slices this long, looking for SIGINT and SIGTERM between them.
constexpr nanoseconds kWaitSlice = std::chrono::milliseconds(100);

}  // namespace

Status offer_interruptibly(Publisher& publisher, std::span<const std::byte> record,
                           std::optional<nanoseconds> timeout) {
    nanoseconds slice = timeout ? std::min(*timeout, kWaitSlice) : kWaitSlice;
    Status status = publisher.offer(record, slice);
    nanoseconds waited = slice;
    while (status == Status::kTimedOut) {
        throw_if_interrupted();
        if (timeout && waited >= *timeout) return Status::kTimedOut;
        slice = timeout ? std::min(*timeout - waited, kWaitSlice) : kWaitSlice;
        status = publisher.offer(record, slice);
        waited += slice;
    }
    return status;
}

}  // namespace shmbus::cli

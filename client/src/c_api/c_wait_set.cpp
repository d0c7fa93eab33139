// The C API's wait sets: one thread waiting on many subscribers and descriptors.
//
// A WaitSet keeps the address of each subscriber in it, so the C handles keep track of each
// other: a subscriber closed while in a set leaves it first, and a set closed with subscribers
// in it tells them they are free.
#include <algorithm>
#include <climits>
#include <new>

#include "c_internal.hpp"

namespace shmbus::c_api {

void leave_wait_set(shmbus_subscriber* subscriber) noexcept {
    shmbus_wait_set* const set = subscriber->wait_set;
    if (set == nullptr) return;
    (void)set->set.remove(subscriber->subscriber);
    std::erase(set->members, subscriber);
    // A ready entry for it that a short array did not take must not name it any more.
    std::erase_if(set->pending, [subscriber](const shmbus_ready& ready) {
        return ready.subscriber && ready.key == subscriber->wait_set_key;
    });
    subscriber->wait_set = nullptr;
}

}  // namespace shmbus::c_api

using namespace shmbus::c_api;

extern "C" {

int shmbus_wait_set_create(shmbus_wait_set** wait_set) {
    static constexpr const char* kFunction = "shmbus_wait_set_create";
    if (wait_set == nullptr) return invalid(kFunction, "wait_set (the handle's address) is NULL");
    *wait_set = nullptr;
    return guarded(kFunction, [&]() -> int {
        *wait_set = new shmbus_wait_set{};
        return SHMBUS_OK;
    });
}

void shmbus_wait_set_close(shmbus_wait_set** wait_set) {
    if (wait_set == nullptr || !valid(*wait_set)) return;
    shmbus_wait_set* const handle = *wait_set;
    *wait_set = nullptr;
    for (shmbus_subscriber* member : handle->members)
        member->wait_set = nullptr;
    handle->magic = 0;
    delete handle;
}

int shmbus_wait_set_add_subscriber(shmbus_wait_set* wait_set, shmbus_subscriber* subscriber,
                                   uint64_t key) {
    static constexpr const char* kFunction = "shmbus_wait_set_add_subscriber";
    if (!valid(wait_set)) return invalid(kFunction, "wait_set is NULL or not a wait set");
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    if (subscriber->wait_set != nullptr) {
        return invalid(kFunction, "the subscriber is in a wait set already");
    }
    return guarded(kFunction, [&]() -> int {
        wait_set->members.reserve(wait_set->members.size() + 1);  // no throw after the add
        wait_set->set.add(subscriber->subscriber, key);
        wait_set->members.push_back(subscriber);
        subscriber->wait_set = wait_set;
        subscriber->wait_set_key = key;
        return SHMBUS_OK;
    });
}

int shmbus_wait_set_add_fd(shmbus_wait_set* wait_set, int fd, uint32_t events, uint64_t key) {
    static constexpr const char* kFunction = "shmbus_wait_set_add_fd";
    if (!valid(wait_set)) return invalid(kFunction, "wait_set is NULL or not a wait set");
    return guarded(kFunction, [&]() -> int {
        wait_set->set.add(fd, events, key);
        return SHMBUS_OK;
    });
}

int shmbus_wait_set_remove_subscriber(shmbus_wait_set* wait_set, shmbus_subscriber* subscriber) {
    static constexpr const char* kFunction = "shmbus_wait_set_remove_subscriber";
    if (!valid(wait_set)) return invalid(kFunction, "wait_set is NULL or not a wait set");
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    if (subscriber->wait_set != wait_set) {
        return fail(SHMBUS_E_NOT_FOUND, "shmbus_wait_set_remove_subscriber: not in this set");
    }
    leave_wait_set(subscriber);
    return SHMBUS_OK;
}

int shmbus_wait_set_remove_fd(shmbus_wait_set* wait_set, int fd) {
    static constexpr const char* kFunction = "shmbus_wait_set_remove_fd";
    if (!valid(wait_set)) return invalid(kFunction, "wait_set is NULL or not a wait set");
    if (!wait_set->set.remove(fd)) {
        return fail(SHMBUS_E_NOT_FOUND, "shmbus_wait_set_remove_fd: not in this set");
    }
    return SHMBUS_OK;
}

int shmbus_wait_set_wait(shmbus_wait_set* wait_set, int64_t timeout_ns, shmbus_ready* ready,
                         size_t capacity) {
    static constexpr const char* kFunction = "shmbus_wait_set_wait";
    if (!valid(wait_set)) return invalid(kFunction, "wait_set is NULL or not a wait set");
    if (ready == nullptr || capacity == 0) return invalid(kFunction, "no room for ready members");
    return guarded(kFunction, [&]() -> int {
        if (wait_set->pending.empty()) {
            for (const shmbus::WaitSet::Ready& member :
                 wait_set->set.wait(timeout_of(timeout_ns))) {
                wait_set->pending.push_back({member.key, member.events, member.subscriber});
            }
        }
        const std::size_t count =
            std::min({capacity, wait_set->pending.size(), std::size_t{INT_MAX}});
        for (std::size_t i = 0; i < count; ++i) {
            ready[i] = wait_set->pending.front();
            wait_set->pending.pop_front();
        }
        return static_cast<int>(count);
    });
}

int shmbus_wait_set_fd(const shmbus_wait_set* wait_set) {
    if (!valid(wait_set))
        return invalid("shmbus_wait_set_fd", "wait_set is NULL or not a wait set");
    return wait_set->set.fd();
}

}  // extern "C"

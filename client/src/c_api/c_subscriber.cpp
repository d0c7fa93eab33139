// The C API's subscribers: poll with a C handler, peek and advance, waiting, counters.
#include <new>

#include "c_internal.hpp"

namespace shmbus::c_api {
namespace {

constexpr std::size_t kSubscriberOptionsV1 = sizeof(shmbus_subscriber_options);
constexpr std::size_t kSubscriberCountersV1 = sizeof(shmbus_subscriber_counters);

shmbus_record record_of(const Record& record) noexcept {
    shmbus_record out{};
    out.payload = record.payload.data();
    out.length = record.payload.size();
    out.position = record.position;
    out.next_position = record.next_position;
    out.sequence = record.sequence;
    out.timestamp_ns = record.timestamp_ns;
    out.publisher = record.publisher;
    return out;
}

// Thrown through Subscriber::poll when a C handler asks to stop: poll then counts the record
// the handler was handed as delivered and publishes the position past it (subscriber.hpp), which
// is exactly "stop after this record". Never leaves this file.
struct StopPolling {};

}  // namespace

/// Called by shmbus_wait_set_close and shmbus_subscriber_close (c_wait_set.cpp).
void leave_wait_set(shmbus_subscriber* subscriber) noexcept;

}  // namespace shmbus::c_api

using namespace shmbus::c_api;

extern "C" {

void shmbus_subscriber_options_init(shmbus_subscriber_options* options) {
    if (options == nullptr) return;
    const shmbus::SubscriberOptions defaults;
    *options = shmbus_subscriber_options{};
    options->struct_size = sizeof(*options);
    options->start = SHMBUS_START_LATEST;
    options->zero_copy = defaults.zero_copy;
    options->spin_ns = defaults.spin.count();
}

void shmbus_subscriber_counters_init(shmbus_subscriber_counters* counters) {
    if (counters == nullptr) return;
    *counters = shmbus_subscriber_counters{};
    counters->struct_size = sizeof(*counters);
}

int shmbus_subscriber_open(shmbus_topic* topic, const shmbus_subscriber_options* options,
                           shmbus_subscriber** subscriber) {
    static constexpr const char* kFunction = "shmbus_subscriber_open";
    if (subscriber == nullptr) {
        return invalid(kFunction, "subscriber (the handle's address) is NULL");
    }
    *subscriber = nullptr;
    if (!valid(topic)) return invalid(kFunction, "topic is NULL or not a topic");
    return guarded(kFunction, [&]() -> int {
        shmbus_subscriber_options in;
        shmbus_subscriber_options_init(&in);
        if (options != nullptr && !read_options(options, kSubscriberOptionsV1, in)) {
            return invalid(kFunction,
                           "options->struct_size is wrong "
                           "(shmbus_subscriber_options_init sets it)");
        }
        if (in.spin_ns < 0) return invalid(kFunction, "options->spin_ns is negative");
        shmbus::SubscriberOptions subscriber_options;
        switch (in.start) {
            case SHMBUS_START_LATEST:
                subscriber_options.start = shmbus::StartAt::latest();
                break;
            case SHMBUS_START_EARLIEST:
                subscriber_options.start = shmbus::StartAt::earliest();
                break;
            case SHMBUS_START_POSITION:
                subscriber_options.start =
                    in.has_sequence ? shmbus::StartAt::position(in.position, in.next_sequence)
                                    : shmbus::StartAt::position(in.position);
                break;
            default:
                return invalid(kFunction, "options->start is not a shmbus_start");
        }
        subscriber_options.spin = std::chrono::nanoseconds(in.spin_ns);
        subscriber_options.zero_copy = in.zero_copy;
        *subscriber = new shmbus_subscriber(topic->topic, subscriber_options);
        return SHMBUS_OK;
    });
}

void shmbus_subscriber_close(shmbus_subscriber** subscriber) {
    if (subscriber == nullptr || !valid(*subscriber)) return;
    shmbus_subscriber* const handle = *subscriber;
    *subscriber = nullptr;
    leave_wait_set(handle);  // the set keeps the subscriber's address: take it out first
    handle->magic = 0;
    delete handle;
}

int shmbus_subscriber_poll(shmbus_subscriber* subscriber, shmbus_record_handler handler,
                           void* context, size_t limit, size_t* records) {
    static constexpr const char* kFunction = "shmbus_subscriber_poll";
    if (records != nullptr) *records = 0;
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    if (handler == nullptr) return invalid(kFunction, "handler is NULL");
    if (limit == 0) limit = shmbus::Subscriber::kDefaultBatch;
    std::size_t delivered = 0;
    const int status = guarded(kFunction, [&]() -> int {
        try {
            const shmbus::PollResult polled = subscriber->subscriber.poll(
                [&](const shmbus::Record& record) {
                    const shmbus_record out = record_of(record);
                    ++delivered;
                    if (handler(context, &out) != 0) throw StopPolling{};
                },
                limit);
            return result(polled.status);
        } catch (const StopPolling&) {
            return SHMBUS_OK;
        }
    });
    if (records != nullptr) *records = delivered;
    return status;
}

int shmbus_subscriber_peek(shmbus_subscriber* subscriber, const shmbus_record** record) {
    static constexpr const char* kFunction = "shmbus_subscriber_peek";
    if (record != nullptr) *record = nullptr;
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    if (record == nullptr) return invalid(kFunction, "record is NULL");
    const shmbus::Subscriber::Peeked peeked = subscriber->subscriber.peek();
    if (peeked.record == nullptr) {
        return peeked.status == shmbus::Status::kOk ? 0 : result(peeked.status);
    }
    subscriber->peeked = record_of(*peeked.record);
    *record = &subscriber->peeked;
    return 1;
}

int shmbus_subscriber_advance(shmbus_subscriber* subscriber) {
    static constexpr const char* kFunction = "shmbus_subscriber_advance";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    subscriber->subscriber.advance();
    subscriber->peeked = shmbus_record{};
    return SHMBUS_OK;
}

int shmbus_subscriber_wait(shmbus_subscriber* subscriber, int64_t timeout_ns) {
    static constexpr const char* kFunction = "shmbus_subscriber_wait";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    return result(subscriber->subscriber.wait(timeout_of(timeout_ns)));
}

int shmbus_subscriber_wake_fd(shmbus_subscriber* subscriber) {
    static constexpr const char* kFunction = "shmbus_subscriber_wake_fd";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    return guarded(kFunction, [&]() -> int { return subscriber->subscriber.wake_fd(); });
}

int shmbus_subscriber_arm(shmbus_subscriber* subscriber) {
    static constexpr const char* kFunction = "shmbus_subscriber_arm";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    return subscriber->subscriber.arm() ? 1 : 0;
}

int shmbus_subscriber_ready(const shmbus_subscriber* subscriber) {
    static constexpr const char* kFunction = "shmbus_subscriber_ready";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    return subscriber->subscriber.ready() ? 1 : 0;
}

int shmbus_subscriber_counters_get(const shmbus_subscriber* subscriber,
                                   shmbus_subscriber_counters* counters) {
    static constexpr const char* kFunction = "shmbus_subscriber_counters_get";
    if (!valid(subscriber)) return invalid(kFunction, "subscriber is NULL or not a subscriber");
    if (counters == nullptr) return invalid(kFunction, "counters is NULL");
    const shmbus::Subscriber& from = subscriber->subscriber;
    shmbus_subscriber_counters out{};
    out.struct_size = sizeof(out);
    out.position = from.position();
    out.next_sequence = from.next_sequence();
    out.consumed = from.consumed();
    out.lost = from.lost();
    out.voided = from.voided();
    out.corrupt = from.corrupt();
    out.slot_restorations = from.slot_restorations();
    out.slot = from.slot();
    if (!write_out(counters, kSubscriberCountersV1, out)) {
        return invalid(kFunction,
                       "counters->struct_size is wrong "
                       "(shmbus_subscriber_counters_init sets it)");
    }
    return SHMBUS_OK;
}

}  // extern "C"

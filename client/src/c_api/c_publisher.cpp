// The C API's publishers: offers that copy, and claims written in place then committed.
//
// A shmbus_publisher holds the C++ Publisher and its one pending claim (a Claim or a
// BatchClaim), so that a C caller never holds a C++ object: commit and abort name the publisher,
// and a commit with nothing pending (a second commit) is SHMBUS_E_NO_CLAIM, not a crash.
#include <new>
#include <span>
#include <vector>

#include "c_internal.hpp"

namespace shmbus::c_api {
namespace {

constexpr std::size_t kPublisherOptionsV1 = sizeof(shmbus_publisher_options);

/// The records of a C batch as the spans Publisher's batch calls take.
std::vector<std::span<const std::byte>> spans_of(const shmbus_buffer* records, std::size_t count) {
    std::vector<std::span<const std::byte>> spans;
    spans.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        spans.emplace_back(static_cast<const std::byte*>(records[i].data), records[i].length);
    }
    return spans;
}

bool pending(const shmbus_publisher* publisher) noexcept {
    return static_cast<bool>(publisher->claim) || static_cast<bool>(publisher->batch);
}

/// What the two batch offers share: the checks, and how many records went out whatever the
/// outcome. `offer(spans, done)` is the C++ call.
template <typename Offer>
int offer_batch(const char* function, shmbus_publisher* publisher, const shmbus_buffer* records,
                size_t count, size_t* published, Offer offer) {
    if (published != nullptr) *published = 0;
    if (!valid(publisher)) return invalid(function, "publisher is NULL or not a publisher");
    if (records == nullptr && count != 0) return invalid(function, "records is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    return guarded(function, [&]() -> int {
        const auto spans = spans_of(records, count);
        std::size_t done = 0;
        const shmbus::Status status = offer(spans, done);
        if (published != nullptr) *published = done;
        return result(status);
    });
}

}  // namespace
}  // namespace shmbus::c_api

using namespace shmbus::c_api;

extern "C" {

void shmbus_publisher_options_init(shmbus_publisher_options* options) {
    if (options == nullptr) return;
    *options = shmbus_publisher_options{};
    options->struct_size = sizeof(*options);
    options->spin_ns = shmbus::PublisherOptions{}.spin.count();
}

int shmbus_publisher_open(shmbus_topic* topic, const shmbus_publisher_options* options,
                          shmbus_publisher** publisher) {
    static constexpr const char* kFunction = "shmbus_publisher_open";
    if (publisher == nullptr) return invalid(kFunction, "publisher (the handle's address) is NULL");
    *publisher = nullptr;
    if (!valid(topic)) return invalid(kFunction, "topic is NULL or not a topic");
    return guarded(kFunction, [&]() -> int {
        shmbus::PublisherOptions publisher_options;
        if (options != nullptr) {
            shmbus_publisher_options in;
            shmbus_publisher_options_init(&in);
            if (!read_options(options, kPublisherOptionsV1, in)) {
                return invalid(kFunction,
                               "options->struct_size is wrong "
                               "(shmbus_publisher_options_init sets it)");
            }
            if (in.spin_ns < 0) return invalid(kFunction, "options->spin_ns is negative");
            publisher_options.spin = std::chrono::nanoseconds(in.spin_ns);
        }
        *publisher = new shmbus_publisher(topic->topic, publisher_options);
        return SHMBUS_OK;
    });
}

void shmbus_publisher_close(shmbus_publisher** publisher) {
    if (publisher == nullptr || !valid(*publisher)) return;
    shmbus_publisher* const handle = *publisher;
    *publisher = nullptr;
    handle->magic = 0;
    delete handle;  // the claims go first (aborting a pending one), then the publisher detaches
}

int shmbus_publisher_try_offer(shmbus_publisher* publisher, const void* data, size_t length) {
    static constexpr const char* kFunction = "shmbus_publisher_try_offer";
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (data == nullptr && length != 0) return invalid(kFunction, "data is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    return guarded(kFunction, [&]() -> int {
        return result(publisher->publisher.try_offer(
            std::span<const std::byte>(static_cast<const std::byte*>(data), length)));
    });
}

int shmbus_publisher_offer(shmbus_publisher* publisher, const void* data, size_t length,
                           int64_t timeout_ns) {
    static constexpr const char* kFunction = "shmbus_publisher_offer";
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (data == nullptr && length != 0) return invalid(kFunction, "data is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    return guarded(kFunction, [&]() -> int {
        return result(publisher->publisher.offer(
            std::span<const std::byte>(static_cast<const std::byte*>(data), length),
            timeout_of(timeout_ns)));
    });
}

int shmbus_publisher_try_offer_batch(shmbus_publisher* publisher, const shmbus_buffer* records,
                                     size_t count, size_t* published) {
    return offer_batch("shmbus_publisher_try_offer_batch", publisher, records, count, published,
                       [&](const auto& spans, std::size_t& done) {
                           return publisher->publisher.try_offer_batch(spans, done);
                       });
}

int shmbus_publisher_offer_batch(shmbus_publisher* publisher, const shmbus_buffer* records,
                                 size_t count, int64_t timeout_ns, size_t* published) {
    return offer_batch("shmbus_publisher_offer_batch", publisher, records, count, published,
                       [&](const auto& spans, std::size_t& done) {
                           return publisher->publisher.offer_batch(spans, done,
                                                                   timeout_of(timeout_ns));
                       });
}

int shmbus_publisher_try_claim(shmbus_publisher* publisher, size_t length, void** payload) {
    static constexpr const char* kFunction = "shmbus_publisher_try_claim";
    if (payload != nullptr) *payload = nullptr;
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (payload == nullptr) return invalid(kFunction, "payload is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    shmbus::Claim claim = publisher->publisher.try_claim(length);
    if (!claim) return result(claim.status());
    publisher->claim = std::move(claim);
    *payload = publisher->claim.payload().data();
    return SHMBUS_OK;
}

int shmbus_publisher_claim(shmbus_publisher* publisher, size_t length, int64_t timeout_ns,
                           void** payload) {
    static constexpr const char* kFunction = "shmbus_publisher_claim";
    if (payload != nullptr) *payload = nullptr;
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (payload == nullptr) return invalid(kFunction, "payload is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    shmbus::Claim claim = publisher->publisher.claim(length, timeout_of(timeout_ns));
    if (!claim) return result(claim.status());
    publisher->claim = std::move(claim);
    *payload = publisher->claim.payload().data();
    return SHMBUS_OK;
}

int shmbus_publisher_try_claim_batch(shmbus_publisher* publisher, const uint32_t* lengths,
                                     size_t count, size_t* claimed) {
    static constexpr const char* kFunction = "shmbus_publisher_try_claim_batch";
    if (claimed != nullptr) *claimed = 0;
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (lengths == nullptr || count == 0) return invalid(kFunction, "no lengths to claim");
    if (claimed == nullptr) return invalid(kFunction, "claimed is NULL");
    if (pending(publisher)) return fail_status(SHMBUS_E_CLAIM_PENDING);
    shmbus::BatchClaim batch =
        publisher->publisher.try_claim_batch(std::span<const std::uint32_t>(lengths, count));
    if (!batch) return result(batch.status());
    publisher->batch = std::move(batch);
    *claimed = publisher->batch.size();
    return SHMBUS_OK;
}

int shmbus_publisher_claim_payload(shmbus_publisher* publisher, size_t index, void** payload,
                                   size_t* length) {
    static constexpr const char* kFunction = "shmbus_publisher_claim_payload";
    if (payload != nullptr) *payload = nullptr;
    if (length != nullptr) *length = 0;
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (payload == nullptr) return invalid(kFunction, "payload is NULL");
    std::span<std::byte> bytes;
    if (publisher->claim) {
        if (index != 0) return invalid(kFunction, "index past a single claim (0 is its record)");
        bytes = publisher->claim.payload();
    } else if (publisher->batch) {
        if (index >= publisher->batch.size()) return invalid(kFunction, "index past the batch");
        bytes = publisher->batch.payload(index);
    } else {
        return fail_status(SHMBUS_E_NO_CLAIM);
    }
    *payload = bytes.data();
    if (length != nullptr) *length = bytes.size();
    return SHMBUS_OK;
}

int shmbus_publisher_commit(shmbus_publisher* publisher) {
    static constexpr const char* kFunction = "shmbus_publisher_commit";
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (publisher->claim) return result(publisher->claim.commit());
    if (publisher->batch) return result(publisher->batch.commit());
    return fail_status(SHMBUS_E_NO_CLAIM);
}

int shmbus_publisher_abort(shmbus_publisher* publisher) {
    static constexpr const char* kFunction = "shmbus_publisher_abort";
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    if (publisher->claim) {
        publisher->claim.abort();
        return SHMBUS_OK;
    }
    if (publisher->batch) {
        publisher->batch.abort();
        return SHMBUS_OK;
    }
    return fail_status(SHMBUS_E_NO_CLAIM);
}

int shmbus_publisher_flush(shmbus_publisher* publisher) {
    static constexpr const char* kFunction = "shmbus_publisher_flush";
    if (!valid(publisher)) return invalid(kFunction, "publisher is NULL or not a publisher");
    return guarded(kFunction, [&]() -> int {
        publisher->publisher.flush();
        return SHMBUS_OK;
    });
}

}  // extern "C"

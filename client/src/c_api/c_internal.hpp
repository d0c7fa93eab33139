// What the C API's files share: the handles behind the opaque C types, the exception barrier
// every function body runs in, and the struct_size rule for options structs (shmbus.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "shmbus/publisher.hpp"
#include "shmbus/shmbus.h"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"
#include "shmbus/wait_set.hpp"

// The handles. Each starts with a magic word, checked on every call: a pointer of the wrong kind
// (cast from another handle, or memory that was never a handle) is refused instead of used.
// close() clears the word before freeing, so a copy of a closed handle used soon after is often
// caught too; that is a help in debugging, not a promise (shmbus.h: a closed handle dangles).

struct shmbus_topic {
    static constexpr std::uint32_t kMagic = 0x53425450;  // "SBTP"
    std::uint32_t magic = kMagic;
    shmbus::Topic topic;
    std::string name;       // for shmbus_topic_name, stable while the handle lives
    std::string directory;  // for shmbus_topic_directory
};

struct shmbus_publisher {
    static constexpr std::uint32_t kMagic = 0x53425042;  // "SBPB"
    std::uint32_t magic = kMagic;
    // The pending claim, at most one (a Publisher holds one at a time): destroyed before the
    // publisher, which aborts it if it is still pending.
    shmbus::Publisher publisher;
    shmbus::Claim claim;
    shmbus::BatchClaim batch;

    shmbus_publisher(const shmbus::Topic& topic, const shmbus::PublisherOptions& options)
        : publisher(topic, options) {}
};

struct shmbus_subscriber {
    static constexpr std::uint32_t kMagic = 0x53425342;  // "SBSB"
    std::uint32_t magic = kMagic;
    shmbus::Subscriber subscriber;
    shmbus_record peeked{};               // what shmbus_subscriber_peek handed out
    shmbus_wait_set* wait_set = nullptr;  // the set holding this subscriber, if any
    std::uint64_t wait_set_key = 0;       // its key there

    shmbus_subscriber(const shmbus::Topic& topic, const shmbus::SubscriberOptions& options)
        : subscriber(topic, options) {}
};

struct shmbus_wait_set {
    static constexpr std::uint32_t kMagic = 0x53425753;  // "SBWS"
    std::uint32_t magic = kMagic;
    shmbus::WaitSet set;
    std::vector<shmbus_subscriber*> members;  // to tell them when the set closes
    std::deque<shmbus_ready> pending;         // ready members a short array did not take
};

namespace shmbus::c_api {

/// Records a failure for shmbus_last_error_message / shmbus_last_errno and returns `status`.
/// Never throws: a message that cannot be stored is replaced by a static one.
int fail(int status, const char* message, int system_errno = 0) noexcept;
int fail(int status, const std::string& message, int system_errno = 0) noexcept;
/// A data-path status: the static text of shmbus_strerror as the message, no allocation.
int fail_status(int status) noexcept;

/// The C status of a C++ data-path status and of a setup error code.
[[nodiscard]] int status_of(Status status) noexcept;
[[nodiscard]] int status_of(ErrorCode code) noexcept;

/// A data-path result: SHMBUS_OK, or the failure recorded.
inline int result(Status status) noexcept {
    return status == Status::kOk ? SHMBUS_OK : fail_status(status_of(status));
}

/// The exception barrier: runs `body` (which returns an int) and turns whatever it throws into
/// a status and a message for this thread. No exception crosses into C.
template <typename Body>
int guarded(const char* function, Body&& body) noexcept {
    try {
        return body();
    } catch (const Error& error) {
        return fail(status_of(error.code()), error.what(), error.system_errno());
    } catch (const std::bad_alloc&) {
        return fail(SHMBUS_E_NO_MEMORY, std::string(function) + ": out of memory");
    } catch (const std::exception& error) {
        return fail(SHMBUS_E_INTERNAL, std::string(function) + ": " + error.what());
    } catch (...) {
        return fail(SHMBUS_E_INTERNAL, std::string(function) + ": an unknown exception");
    }
}

/// A handle that is NULL or not of its kind: SHMBUS_E_INVALID_ARGUMENT with a message naming
/// the function and the argument.
int invalid(const char* function, const char* what) noexcept;

template <typename Handle>
[[nodiscard]] bool valid(const Handle* handle) noexcept {
    return handle != nullptr && handle->magic == Handle::kMagic;
}

/// The struct_size rule for an options struct passed in (shmbus.h, SHMBUS_STRUCT_SIZE_RULE):
/// at least `first_size` (the first published version), and beyond sizeof(Struct) only zeros.
/// Copies what this library knows into `out` (the rest of `out` keeps its defaults). Returns
/// false if the struct is to be refused.
template <typename Struct>
[[nodiscard]] bool read_options(const Struct* in, std::size_t first_size, Struct& out) noexcept {
    const std::size_t size = in->struct_size;
    if (size < first_size) return false;
    if (size > sizeof(Struct)) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(in);
        for (std::size_t i = sizeof(Struct); i < size; ++i) {
            if (bytes[i] != 0) return false;
        }
    }
    std::memcpy(&out, in, size < sizeof(Struct) ? size : sizeof(Struct));
    out.struct_size = sizeof(Struct);
    return true;
}

/// The struct_size rule for a struct the library fills: at least `first_size`; only the bytes
/// the caller's version has are written.
template <typename Struct>
[[nodiscard]] bool write_out(Struct* out, std::size_t first_size, const Struct& value) noexcept {
    const std::size_t size = out->struct_size;
    if (size < first_size) return false;
    std::memcpy(reinterpret_cast<unsigned char*>(out) + sizeof(std::size_t),
                reinterpret_cast<const unsigned char*>(&value) + sizeof(std::size_t),
                (size < sizeof(Struct) ? size : sizeof(Struct)) - sizeof(std::size_t));
    return true;
}

/// A C timeout: negative means forever.
[[nodiscard]] inline std::chrono::nanoseconds timeout_of(std::int64_t timeout_ns) noexcept {
    return timeout_ns < 0 ? kForever : std::chrono::nanoseconds(timeout_ns);
}

/// "" and NULL are not names; a NULL directory is the default bus directory.
[[nodiscard]] std::filesystem::path directory_of(const char* dir);

}  // namespace shmbus::c_api

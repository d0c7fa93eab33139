// Named atomic accesses to fields of structures that live in a shared mapping.
//
// The structures in shmbus/format are plain, trivially copyable structs: they are never
// constructed by C++ in the mapping, they are bytes that another process wrote. Atomic access
// to one of their fields goes through std::atomic_ref, and every helper here names its memory
// order so that the call site reads as the protocol it implements ("store_release the commit
// word"). Each call site says in a comment which access it pairs with.
//
// Loads take a const reference: subscribers map the records file read-only, and a load through
// atomic_ref never writes the location. The 16-byte tail is the one double-width field; see
// ring/tail.hpp.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmbus::atomics {

template <typename T>
concept SharedWord = std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t>;

static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free,
              "shared 32-bit words must be lock-free: a lock cannot be shared across processes");
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "shared 64-bit words must be lock-free: a lock cannot be shared across processes");

template <SharedWord T>
[[nodiscard]] inline T load_relaxed(const T& field) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

template <SharedWord T>
[[nodiscard]] inline T load_acquire(const T& field) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_acquire);
}

template <SharedWord T>
[[nodiscard]] inline T load_seq_cst(const T& field) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_seq_cst);
}

template <SharedWord T>
inline void store_relaxed(T& field, T value) noexcept {
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

template <SharedWord T>
inline void store_release(T& field, T value) noexcept {
    std::atomic_ref<T>(field).store(value, std::memory_order_release);
}

template <SharedWord T>
inline void store_seq_cst(T& field, T value) noexcept {
    std::atomic_ref<T>(field).store(value, std::memory_order_seq_cst);
}

/// Compare-and-swap with acquire-release ordering on success and acquire on failure.
/// On failure `expected` receives the current value.
template <SharedWord T>
[[nodiscard]] inline bool compare_exchange_acq_rel(T& field, T& expected, T desired) noexcept {
    return std::atomic_ref<T>(field).compare_exchange_strong(
        expected, desired, std::memory_order_acq_rel, std::memory_order_acquire);
}

template <SharedWord T>
inline T fetch_add_relaxed(T& field, T delta) noexcept {
    return std::atomic_ref<T>(field).fetch_add(delta, std::memory_order_relaxed);
}

template <SharedWord T>
inline T fetch_or_seq_cst(T& field, T bits) noexcept {
    return std::atomic_ref<T>(field).fetch_or(bits, std::memory_order_seq_cst);
}

template <SharedWord T>
inline T fetch_and_seq_cst(T& field, T bits) noexcept {
    return std::atomic_ref<T>(field).fetch_and(bits, std::memory_order_seq_cst);
}

template <SharedWord T>
inline T exchange_acq_rel(T& field, T value) noexcept {
    return std::atomic_ref<T>(field).exchange(value, std::memory_order_acq_rel);
}

/// Raises `field` to at least `value` and returns the value it holds afterwards. Used for
/// positions that only move forward (the commit floor): a writer that computed an older value
/// never moves it back.
template <SharedWord T>
inline T raise_to_at_least(T& field, T value) noexcept {
    std::atomic_ref<T> ref(field);
    T current = ref.load(std::memory_order_acquire);
    while (current < value && !ref.compare_exchange_weak(current, value, std::memory_order_acq_rel,
                                                         std::memory_order_acquire)) {
    }
    return current < value ? value : current;
}

}  // namespace shmbus::atomics

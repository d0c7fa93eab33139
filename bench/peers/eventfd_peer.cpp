#include "peers/eventfd_peer.hpp"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>

namespace shmbus::bench {
namespace {

constexpr std::uint64_t kLine = 64;

[[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("eventfd: ") + what + ": " + std::strerror(errno));
}

/// Adds 1 to an eventfd's count.
void post(int fd) {
    const std::uint64_t one = 1;
    while (::write(fd, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
        if (errno != EINTR) fail("write");
    }
}

/// Sleeps until an eventfd's count is not zero, takes it and returns it.
std::uint64_t take(int fd) {
    std::uint64_t count = 0;
    while (::read(fd, &count, sizeof count) != static_cast<ssize_t>(sizeof count)) {
        if (errno != EINTR) fail("read");
    }
    return count;
}

std::atomic_ref<std::uint64_t> word(std::uint64_t& value) {
    return std::atomic_ref<std::uint64_t>(value);
}

}  // namespace

EventfdPeer::Link::Link(const LinkSpec& spec)
    : slot_size_((spec.record_size + kLine - 1) / kLine * kLine),
      slot_count_(std::max<std::uint64_t>(2, spec.options.capacity / slot_size_)),
      record_size_(spec.record_size),
      records_(::eventfd(0, EFD_CLOEXEC)),
      room_(::eventfd(0, EFD_CLOEXEC)) {
    if (!records_ || !room_) fail("eventfd");
    size_ = kSlotsOffset + slot_count_ * slot_size_;
    // Shared with the measured processes, which the driver forks after making the link.
    const int flags = MAP_SHARED | MAP_ANONYMOUS | (spec.options.prefault ? MAP_POPULATE : 0);
    base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (base_ == MAP_FAILED) fail("mmap");
}

EventfdPeer::Link::~Link() {
    ::munmap(base_, size_);
}

void EventfdPeer::Writer::send(std::span<const std::byte> record) {
    if (head_ - cached_tail_ == link_.slot_count()) wait_for_room();
    std::memcpy(link_.slots() + (head_ % link_.slot_count()) * link_.slot_size(), record.data(),
                record.size());
    ++head_;
    // Release: pairs with the reader's acquire load of the head after its read(); the slot's
    // bytes are visible before the head that covers them.
    word(link_.layout().head).store(head_, std::memory_order_release);
    post(link_.records_fd());
}

void EventfdPeer::Writer::wait_for_room() {
    Layout& layout = link_.layout();
    std::atomic_ref<std::uint32_t> waiting(layout.writer_waiting);
    for (;;) {
        // Acquire: pairs with the reader's store of the tail; it has read the slots it frees.
        cached_tail_ = word(layout.tail).load(std::memory_order_acquire);
        if (head_ - cached_tail_ < link_.slot_count()) return;
        // Say we sleep, then look again (seq_cst, against the reader's store of the tail and
        // load of this word): either we see the room or the reader sees us and posts.
        waiting.store(1, std::memory_order_seq_cst);
        cached_tail_ = word(layout.tail).load(std::memory_order_seq_cst);
        if (head_ - cached_tail_ == link_.slot_count()) (void)take(link_.room_fd());
        waiting.store(0, std::memory_order_relaxed);
    }
}

std::uint64_t EventfdPeer::Reader::await_records() {
    const std::uint64_t announced = take(link_.records_fd());
    // Acquire: pairs with the writer's release store of the head, made before the write() that
    // announced it; the kernel's eventfd lock orders the two, so this loop runs once.
    while (word(link_.layout().head).load(std::memory_order_acquire) - tail_ < announced) {
    }
    return announced;
}

void EventfdPeer::Reader::release_slots() {
    Layout& layout = link_.layout();
    // seq_cst: the reader's half of the wait in Writer::wait_for_room.
    word(layout.tail).store(tail_, std::memory_order_seq_cst);
    std::atomic_ref<std::uint32_t> waiting(layout.writer_waiting);
    // A load first: the exchange, a locked instruction, only when the writer sleeps.
    if (waiting.load(std::memory_order_seq_cst) != 0 &&
        waiting.exchange(0, std::memory_order_seq_cst) != 0) {
        post(link_.room_fd());
    }
}

}  // namespace shmbus::bench

// A block of memory shared with forked children: an anonymous MAP_SHARED mapping made before the
// fork, so parent and children see one object. Children report progress and results through it
// with atomics (a test reads it to say how far each child got when a deadline passes).
#pragma once

#include <sys/mman.h>

#include <new>
#include <stdexcept>
#include <type_traits>

namespace shmbus::test {

template <typename T>
class SharedBlock {
    static_assert(std::is_default_constructible_v<T>);

  public:
    SharedBlock() {
        void* map =
            ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) throw std::runtime_error("mmap of a shared test block failed");
        object_ = new (map) T();
    }
    ~SharedBlock() {
        object_->~T();
        ::munmap(object_, sizeof(T));
    }
    SharedBlock(const SharedBlock&) = delete;
    SharedBlock& operator=(const SharedBlock&) = delete;

    T* operator->() const noexcept { return object_; }
    T& operator*() const noexcept { return *object_; }

  private:
    T* object_ = nullptr;
};

}  // namespace shmbus::test

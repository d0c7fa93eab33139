// Which sanitizer a test is built with, the same way under GCC and Clang: GCC defines
// __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__, Clang answers __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define SHMBUS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHMBUS_TEST_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define SHMBUS_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMBUS_TEST_TSAN 1
#endif
#endif

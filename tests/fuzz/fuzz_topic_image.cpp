// libFuzzer target: arbitrary topic images (topic_image.hpp) through the validator, the slot
// tables, the subscriber and a publisher (topic_image_driver.hpp). Run it with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "topic_image_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    shmbus::fuzz::exercise_topic_image({data, size});
    return 0;
}

// Test builds only: see shmbus/detail/util/fault_injection.hpp.
#include "shmbus/detail/util/fault_injection.hpp"

#if defined(SHMBUS_FAULT_INJECTION)

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace shmbus::fault {
namespace {

enum class Action { kNone, kStop, kKill, kAbort };

struct Armed {
    Point point = Point::kAfterClaim;
    Action action = Action::kNone;
    long hit = 1;
};

bool parse_point(std::string_view name, Point& point) {
    if (name == "after_claim")
        point = Point::kAfterClaim;
    else if (name == "after_header")
        point = Point::kAfterHeader;
    else if (name == "mid_payload")
        point = Point::kMidPayload;
    else if (name == "before_commit")
        point = Point::kBeforeCommit;
    else if (name == "mid_advance")
        point = Point::kMidAdvance;
    else
        return false;
    return true;
}

Armed parse(const char* text) {
    Armed armed;
    if (text == nullptr) return armed;
    std::string_view spec(text);
    const auto first = spec.find(':');
    if (first == std::string_view::npos || !parse_point(spec.substr(0, first), armed.point)) {
        return armed;
    }
    std::string_view rest = spec.substr(first + 1);
    const auto second = rest.find(':');
    const std::string_view action = rest.substr(0, second);
    if (action == "stop")
        armed.action = Action::kStop;
    else if (action == "kill")
        armed.action = Action::kKill;
    else if (action == "abort")
        armed.action = Action::kAbort;
    if (second != std::string_view::npos) {
        armed.hit = std::strtol(std::string(rest.substr(second + 1)).c_str(), nullptr, 10);
        if (armed.hit < 1) armed.hit = 1;
    }
    return armed;
}

const Armed& armed() {
    static const Armed value = parse(std::getenv("SHMBUS_FAULT"));
    return value;
}

std::atomic<long> hits{0};

}  // namespace

void reached(Point point) noexcept {
    const Armed& spec = armed();
    if (spec.action == Action::kNone || spec.point != point) return;
    if (hits.fetch_add(1, std::memory_order_relaxed) + 1 != spec.hit) return;
    switch (spec.action) {
        case Action::kStop:
            ::raise(SIGSTOP);
            break;
        case Action::kKill:
            ::raise(SIGKILL);
            break;
        case Action::kAbort:
            std::abort();
        case Action::kNone:
            break;
    }
}

}  // namespace shmbus::fault

#endif

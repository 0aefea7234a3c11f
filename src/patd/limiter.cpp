#include "limiter.hpp"

namespace patd {

LockedThrottle::LockedThrottle() : table_(new pat::FailureThrottleTable{}), throttle_(*table_) {}

std::int64_t LockedThrottle::begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    return throttle_.begin_attempt(user, address, now_ms);
}

void LockedThrottle::attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    throttle_.attempt_succeeded(user, address, now_ms);
}

void LockedThrottle::attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    throttle_.attempt_abandoned(user, address, now_ms);
}

}  // namespace patd

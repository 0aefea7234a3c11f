// The password-attempt limiter patd hands to the core: pat::FailureThrottle
// over a table in plain memory (patd is one process), one mutex around each
// call. It stands behind pat::PasswordAttemptLimiter so that a better
// limiter can replace it without touching the server.
#pragma once

#include <memory>
#include <mutex>

#include "pat/failure_throttle.hpp"

namespace patd {

class LockedThrottle final : public pat::PasswordAttemptLimiter {
   public:
    LockedThrottle();

    std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) override;

   private:
    std::mutex mutex_;
    std::unique_ptr<pat::FailureThrottleTable> table_;
    pat::FailureThrottle throttle_;
};

}  // namespace patd

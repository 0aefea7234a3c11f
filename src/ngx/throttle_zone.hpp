// The management API's brute-force throttle in shared memory: one
// pat::FailureThrottleTable for all workers (and all servers), created
// automatically when any location has auth_pat_api. The counters survive a
// reload. Token authentication never consults it.
#pragma once

#include <cstdint>
#include <string_view>

#include "ngx.hpp"
#include "pat/failure_throttle.hpp"

namespace pat::ngx {

// Adds the zone to the configuration (once; later calls return the same).
ngx_shm_zone_t* add_throttle_zone(ngx_conf_t* cf) noexcept;

struct ThrottleShared;  // the zone's memory (throttle_zone.cpp)

// PasswordAttemptLimiter over the zone: each call takes the zone's lock
// (ngx_shmtx) around one FailureThrottle call. Cheap to construct; usable
// from thread-pool threads. Without a zone (nullptr), every attempt is
// refused: the API fails closed rather than check passwords unthrottled.
class SharedThrottle final : public PasswordAttemptLimiter {
   public:
    explicit SharedThrottle(ngx_shm_zone_t* zone) noexcept;

    std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) override;

   private:
    ThrottleShared* shared_;
};

}  // namespace pat::ngx

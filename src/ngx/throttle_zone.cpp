#include "throttle_zone.hpp"

#include <type_traits>

#include "module_conf.hpp"

namespace pat::ngx {

// The zone's memory, allocated from the zone's slab pool (nginx expects
// every shared zone to start with one: the master force-unlocks its mutex
// when a worker dies holding it). The pool's mutex guards the table.
struct ThrottleShared {
    ngx_shmtx_t* lock;           // &the slab pool's mutex
    FailureThrottleTable table;  // all-zero bytes: empty
};

namespace {

using Shared = ThrottleShared;
static_assert(std::is_trivially_copyable_v<FailureThrottleTable>);

// How long a caller is told to wait when the zone is missing.
constexpr std::int64_t kNoZoneWaitMs = 60'000;

ngx_int_t init_zone(ngx_shm_zone_t* zone, void* old_data) noexcept {
    if (old_data != nullptr) {
        // A reload with the same zone: keep the counters (an attacker must
        // not get a fresh budget from `nginx -s reload`).
        zone->data = old_data;
        return NGX_OK;
    }
    auto* pool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
    if (zone->shm.exists) {
        zone->data = pool->data;
        return NGX_OK;
    }
    auto* shared = static_cast<Shared*>(ngx_slab_alloc(pool, sizeof(Shared)));
    if (shared == nullptr) return NGX_ERROR;
    ngx_memzero(shared, sizeof(Shared));
    shared->lock = &pool->mutex;
    pool->data = shared;
    zone->data = shared;
    return NGX_OK;
}

class ZoneLock {
   public:
    explicit ZoneLock(ngx_shmtx_t& lock) : lock_(lock) { ngx_shmtx_lock(&lock_); }
    ~ZoneLock() { ngx_shmtx_unlock(&lock_); }
    ZoneLock(const ZoneLock&) = delete;
    ZoneLock& operator=(const ZoneLock&) = delete;

   private:
    ngx_shmtx_t& lock_;
};

}  // namespace

ngx_shm_zone_t* add_throttle_zone(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("auth_pat_api_throttle");
    // The table plus the slab pool's own pages.
    const size_t size = ngx_align(sizeof(Shared), ngx_pagesize) + 16 * ngx_pagesize;
    ngx_shm_zone_t* zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_auth_pat_module);
    if (zone == nullptr) return nullptr;
    zone->init = init_zone;
    return zone;
}

SharedThrottle::SharedThrottle(ngx_shm_zone_t* zone) noexcept
    : shared_(zone != nullptr ? static_cast<Shared*>(zone->data) : nullptr) {}

std::int64_t SharedThrottle::begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) {
    if (shared_ == nullptr) return kNoZoneWaitMs;
    ZoneLock held(*shared_->lock);
    return FailureThrottle(shared_->table).begin_attempt(user, address, now_ms);
}

void SharedThrottle::attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) {
    if (shared_ == nullptr) return;
    ZoneLock held(*shared_->lock);
    FailureThrottle(shared_->table).attempt_succeeded(user, address, now_ms);
}

void SharedThrottle::attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) {
    if (shared_ == nullptr) return;
    ZoneLock held(*shared_->lock);
    FailureThrottle(shared_->table).attempt_abandoned(user, address, now_ms);
}

}  // namespace pat::ngx

// auth_pat_status: the module's counters in a shared memory zone, summed
// over every worker by construction, and the location that serves them in
// Prometheus's text format (docs/metrics.md).
//
// The zone ("auth_pat_status", one slab pool holding one SharedCounters)
// exists only when some location has `auth_pat_status;`: without it
// MainConf::status_zone is nullptr and counting is one pointer test. With
// it, each decision is one atomic add, no lock, no allocation. A reload
// that keeps the directive keeps the zone and its counts (as stub_status
// does); a restart starts from zero.
#pragma once

#include "module_conf.hpp"
#include "ngx.hpp"
#include "pat/access_metrics.hpp"

namespace pat::ngx {

struct SharedCounters {
    ngx_atomic_t outcomes[kAccessOutcomeCount];
    ngx_atomic_t store_open_failures;
    // Protected requests refused with 503 on a stale fleet replica
    // (auth_pat_max_staleness), not in outcomes.
    ngx_atomic_t stale_refusals;
};

inline SharedCounters* shared_counters(const MainConf* conf) noexcept {
    if (conf == nullptr || conf->status_zone == nullptr) return nullptr;
    return static_cast<SharedCounters*>(conf->status_zone->data);
}

// One decision of the access phase, however it ended.
inline void count_outcome(const MainConf* conf, AccessOutcome outcome) noexcept {
    if (SharedCounters* counters = shared_counters(conf)) {
        (void)ngx_atomic_fetch_add(&counters->outcomes[static_cast<std::size_t>(outcome)], 1);
    }
}

// A worker's failed attempt to open a store.
inline void count_store_open_failure(const MainConf* conf) noexcept {
    if (SharedCounters* counters = shared_counters(conf)) (void)ngx_atomic_fetch_add(&counters->store_open_failures, 1);
}

// A protected request refused with 503 on a stale fleet replica.
inline void count_stale(const MainConf* conf) noexcept {
    if (SharedCounters* counters = shared_counters(conf)) (void)ngx_atomic_fetch_add(&counters->stale_refusals, 1);
}

// The `auth_pat_status` directive (location context, no arguments).
char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

}  // namespace pat::ngx

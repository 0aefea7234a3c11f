// The module's configuration structures, shared by the glue's files.
#pragma once

#include "ngx.hpp"

extern "C" {
extern ngx_module_t ngx_http_auth_pat_module;
}

namespace pat::ngx {

enum class RouteKind : ngx_uint_t { off = 0, git = 1, rest = 2 };

// One distinct auth_pat_db path. Workers open it read-only: they never
// write the store (patd and patctl do); token uses go to its usage file
// (pat/usage.hpp).
struct StoreConf {
    ngx_str_t path;  // absolute, NUL-terminated (workers hand it to stat() and the store)
    // Where it was first named, for `nginx -t`'s message.
    ngx_str_t conf_file;
    ngx_uint_t conf_line;
};

// auth_pat_max_staleness: one distinct (store, bound) pair that a protected
// location uses. A worker keeps one deadline per gate (worker_stores.hpp),
// so that a request compares nginx's clock with it and nothing else.
struct GateConf {
    ngx_uint_t db_index;  // into MainConf::stores
    ngx_msec_t bound;     // > 0 ("off" makes no gate)
};

struct MainConf {
    // The distinct store paths of every auth_pat_db. A location refers to
    // its store by index, so a worker keeps one open Store per path and a
    // request finds it without comparing strings.
    ngx_array_t* stores;  // of StoreConf

    // auth_pat_last_used_flush: how often a worker writes the token uses it
    // noted to the usage files (0: off). The flush runs on flush_pool,
    // nginx's "default" thread pool.
    ngx_msec_t last_used_flush;
    ngx_thread_pool_t* flush_pool;

    // The distinct (store, auth_pat_max_staleness) pairs of the protected
    // locations; a location refers to its pair by index (LocConf::gate).
    ngx_array_t* gates;  // of GateConf

    // The counters of auth_pat_status (metrics.hpp); nullptr when no
    // location has the directive, and then nothing is counted.
    ngx_shm_zone_t* status_zone;
};

struct LocConf {
    // NGX_CONF_UNSET_PTR: inherit; nullptr: `auth_pat off` (not protected).
    ngx_http_complex_value_t* realm;
    ngx_uint_t db_index;                // NGX_CONF_UNSET_UINT when no auth_pat_db applies
    ngx_uint_t route;                   // a RouteKind
    ngx_uint_t require;                 // a pat::Need, or NGX_CONF_UNSET_UINT
    ngx_http_complex_value_t* project;  // NGX_CONF_UNSET_PTR / nullptr when unset
    ngx_http_complex_value_t* repo;
    void* rest_rules;  // a pat::RestRules (auth_pat_rest_rule); NGX_CONF_UNSET_PTR / nullptr when none
    // auth_pat_max_staleness in ms (0: off; NGX_CONF_UNSET_MSEC: inherit,
    // then 30 s), and the index of its (store, bound) pair in
    // MainConf::gates (NGX_CONF_UNSET_UINT: no gate: off, not protected or
    // no store).
    ngx_msec_t max_staleness;
    ngx_uint_t gate;
};

// The default of auth_pat_max_staleness. It applies to fleet replicas only
// (a store the follower writes a ReplicaState into, pat/replica.hpp); a
// single-host store is never stale.
inline constexpr ngx_msec_t kDefaultMaxStaleness = 30'000;
inline constexpr ngx_int_t kMaxStalenessBound = 86'400'000;  // 1d: the directive's largest value

inline MainConf* main_conf(ngx_http_request_t* r) {
    return static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_auth_pat_module));
}

inline LocConf* loc_conf(ngx_http_request_t* r) {
    return static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_auth_pat_module));
}

}  // namespace pat::ngx

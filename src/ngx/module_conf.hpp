// The module's configuration structures, shared by the glue's files.
#pragma once

#include "ngx.hpp"

extern "C" {
extern ngx_module_t ngx_http_auth_pat_module;
}

namespace pat::ngx {

enum class RouteKind : ngx_uint_t { off = 0, git = 1, rest = 2 };

// One distinct auth_pat_db path.
struct StoreConf {
    ngx_str_t path;  // absolute, NUL-terminated (workers hand it to stat() and the store)
    // An auth_pat_api location serves this store, or the last-use flush
    // writes to it: workers open it read-write. Otherwise read-only, so a
    // deployment without either works with a data file the workers may only
    // read.
    ngx_flag_t written;
};

struct MainConf {
    // The distinct store paths of every auth_pat_db. A location refers to
    // its store by index, so a worker keeps one open Store per path and a
    // request finds it without comparing strings.
    ngx_array_t* stores;  // of StoreConf

    // auth_pat_last_used_flush: how often a worker writes the token uses it
    // noted (0: off). The flush runs on flush_pool.
    ngx_msec_t last_used_flush;
    ngx_thread_pool_t* flush_pool;

    // The brute-force throttle's shared zone; nullptr without auth_pat_api.
    ngx_shm_zone_t* throttle_zone;
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

    // auth_pat_api: this location serves the token-management API (not
    // inherited: it sets the location's content handler).
    ngx_flag_t api;
    ngx_str_t api_realm;             // for the API's Basic challenge
    ngx_str_t api_thread_pool_name;  // auth_pat_api_thread_pool, inherited
    ngx_thread_pool_t* api_thread_pool;
};

inline MainConf* main_conf(ngx_http_request_t* r) {
    return static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_auth_pat_module));
}

inline LocConf* loc_conf(ngx_http_request_t* r) {
    return static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_auth_pat_module));
}

}  // namespace pat::ngx

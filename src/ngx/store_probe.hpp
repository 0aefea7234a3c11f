// Whether the nginx workers will be able to open a store, asked at start,
// at each reload and by `nginx -t` (docs/directives.md, auth_pat_db).
//
// The master never opens LMDB (an environment must not cross a fork, and a
// master that opened it leaked it on every reload); nor could it answer
// for the workers, running as root. So a short-lived child process takes
// the workers' user and group, as a worker does (`user` directive), opens
// the store read-only exactly as a worker would (creating PATH-lock as that
// user if it is missing, as the first worker would), and reports through a
// pipe. A store that crashes the child (a damaged file) is reported too.
#pragma once

#include <cstddef>

#include "ngx.hpp"

namespace pat::ngx {

// The outcome of one probe. The texts are NUL-terminated.
struct StoreProbe {
    bool ok = false;
    int schema = 0;          // the store's schema, when ok (1 until a writer upgrades it)
    char user[64] = {};      // the user the workers run as ("www-data"), or "" when not switching
    char message[512] = {};  // why not (the core's message), when !ok
    char fix[256] = {};      // what to do about it, when !ok
};

// Opens PATH (absolute, NUL-terminated) as the workers of CYCLE will. May
// run during configuration parsing: a `user` directive not seen yet counts
// as nginx's default. Never throws; a probe that could not run (fork
// failed) reports that.
void probe_store(ngx_cycle_t* cycle, const char* path, StoreProbe& out) noexcept;

// init_module: logs the module's version and each store's schema at notice
// (once per start or reload, from the master), or at error which store the
// workers cannot open and what to do; requests it protects get 500 until it
// opens. Nothing under `nginx -t` (auth_pat_db probes then).
void log_start(ngx_cycle_t* cycle) noexcept;

}  // namespace pat::ngx

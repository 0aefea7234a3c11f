// The worker's read-write stores, used only on thread-pool threads: by the
// management API and by the "last authenticated" flush. The access phase
// never touches them (it decides with its own read-only Store on the event
// loop, see worker_state.hpp).
//
// Concurrency: one mutex per worker serialises every use of these stores,
// the whole ManagementApi::handle() call included. Why a coarse lock:
//  - pat::Store is not thread-safe as a whole: a write that meets
//    MDB_MAP_FULL grows the map with mdb_env_set_mapsize, which must not run
//    while another transaction of the same environment is live on another
//    thread; the lock makes that impossible.
//  - The password KDF runs inside Store (authenticate_user, create_token),
//    so it cannot be taken out of the lock without changing the core; the
//    cost is that one worker answers API requests one at a time (a few tens
//    of ms each). That bounds the rate of password guesses per worker too.
//  - Token authentication never waits on this lock: it runs on the event
//    loop with the read-only Store, a separate LMDB environment.
//    (tests/integration/test_api_load.py measures that under load.)
//
// A writable store stays open for the worker's lifetime (closing one LMDB
// environment of a file drops the process's fcntl locks on its lock file,
// which the other environment of the same file still relies on), except
// when the path names another file (a restored backup) or it failed.
#pragma once

#include <functional>
#include <string>

#include "ngx.hpp"

namespace pat {
class Store;
}

namespace pat::ngx {

// Creates and destroys the worker's set (init_process / exit_process, on
// the event loop, when no task runs).
void start_writable_stores() noexcept;
void stop_writable_stores() noexcept;

// Runs use(store) under the worker's lock with the read-write store for a
// configured path, opened on first use. use returns false when the store
// failed it, so the next call reopens the store. False, with why set, when
// the store cannot be opened. Call on a thread-pool thread (or at worker
// exit, when no other thread runs); never on the event loop.
bool with_writable_store(ngx_uint_t index, const std::string& path, const std::function<bool(Store&)>& use,
                         std::string& why);

}  // namespace pat::ngx

// The worker's LMDB stores: exactly one pat::Store per distinct
// auth_pat_db path, shared by the access phase and the thread-pool tasks.
//
// One per path, because LMDB forbids opening one file twice in a process:
// all of a process's fcntl locks on PATH-lock go when any descriptor of it
// is closed, so closing a second environment of the file would make our
// live readers look dead to another process's mdb_reader_check, which frees
// their slots, and a writer may then overwrite pages we are reading. A
// store replaced by `mv` keeps the same PATH-lock, so the same holds for the
// old and the new file: a Store for a path opens only once the previous
// Store of that path has closed.
//
// Who uses a store (pat::Store's "Threads:" contract):
//  - the access phase, on the event loop, calls decide() (and the worker's
//    once-a-second timer release_snapshot());
//  - thread-pool tasks (the token API, the last-use flush) call the
//    management methods, each with its own transactions, concurrently.
// A task holds a reference (std::shared_ptr) from posting to completion;
// both ends run on the event loop, so every count change, and therefore
// every close, happens there. A store taken out of use (its file was
// replaced or removed, or a decision failed on it) gets no new tasks and
// closes when the last task using it completes; then the path is opened
// again.
//
// Mode: read-write when an auth_pat_api location or the last-use flush
// writes to the path, read-only otherwise. A worker that may not write the
// data file opens it read-only anyway (logged at error) so that token
// authentication keeps working; the API's and the flush's writes then fail.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ngx.hpp"

namespace pat {
class Store;
}

namespace pat::ngx {

struct MainConf;

struct TaskStore {
    std::shared_ptr<Store> store;  // nullptr: unavailable, see why
    std::string why;               // for the log; never a secret
    bool retry_soon = false;       // being reopened: worth retrying in a second
};

// The worker's stores, one slot per configured path. Owned by the Worker
// (worker.hpp); every method runs on the event loop.
class WorkerStores {
public:
    // Sets up one slot per configured path (none without a configuration)
    // and tries to open each; a failed open is logged and retried later.
    // Throws std::bad_alloc only.
    WorkerStores(const MainConf* conf, ngx_log_t* log);
    // Closes every store no task holds (the thread pools have stopped by
    // then; a store some task still held stays open until the process ends).
    ~WorkerStores();
    WorkerStores(const WorkerStores&) = delete;
    WorkerStores& operator=(const WorkerStores&) = delete;

    bool empty() const noexcept { return slots_.empty(); }

    // ---- the access phase ----

    // The store to decide with, opening it if needed; nullptr (logged at
    // crit) when it cannot be used: a failed open is retried at most about
    // once a second. Valid until control returns to the event loop.
    Store* for_decision(ngx_uint_t index, ngx_log_t* log) noexcept;

    // Takes a store out of use after it failed a decision: the next request
    // reopens it once no task holds it (how a worker recovers once a broken
    // file is replaced).
    void drop_failed(ngx_uint_t index) noexcept;

    // ---- thread-pool tasks ----

    // A reference to the store for one task, taken before the task is posted
    // and released on the event loop after it completes (dropping the
    // shared_ptr). The task may call any method except decide() and
    // release_snapshot(). Checks first that the path still names the open
    // file: a write to a replaced file would be lost.
    TaskStore for_task(ngx_uint_t index, ngx_log_t* log) noexcept;

    // ---- the worker's once-a-second timer ----

    // Ends the read snapshot of a store not used for a decision in the last
    // second (an open snapshot keeps writers from reusing freed pages),
    // closes stores taken out of use once no task holds them, and notices
    // replaced files.
    void tend(ngx_log_t* log) noexcept;

    struct Slot;  // worker_stores.cpp

private:
    std::vector<Slot> slots_;
};

}  // namespace pat::ngx

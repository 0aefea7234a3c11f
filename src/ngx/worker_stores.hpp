// The worker's LMDB stores: exactly one open pat::Store per distinct
// auth_pat_db path, shared by the access phase and the thread-pool tasks.
//
// One per path, because LMDB forbids opening one file twice in a process,
// and a store replaced by `mv` is no exception: the old and the new data
// file share PATH-lock. All of a process's fcntl locks on PATH-lock go when
// any descriptor of it is closed, so closing an environment beside another
// would make the other's live readers look dead to another process's
// mdb_reader_check (which frees their slots, and a writer may then overwrite
// pages they read), and closing one clears every reader slot of the process
// in the shared region. So a Store for a path opens only once the previous
// Store of that path has closed.
//
// Who uses a store (pat::Store's "Threads:" contract):
//  - the access phase, on the event loop, calls decide() (and the worker's
//    once-a-second timer release_snapshot());
//  - thread-pool tasks (the token API, the last-use flush) call the
//    management methods, each with its own transactions, concurrently.
// A task does not hold the store while it waits in the pool's queue or at
// the sign-in gate: it leases it (StoreLease) on its thread only while it
// runs a call on it, so only the few calls running at that moment keep a
// store open. A store taken out of use - its file was replaced or removed,
// or a decision failed on it - grants no new leases (a task that asks gets
// 503, retry in a second) and closes as soon as the running calls finish:
// decisions move to the new file within about a second of the replacement
// plus one running call, whatever is queued. Until then they go on with the
// old file, as before the replacement was noticed.
//
// A replaced file has one more catch: LMDB reads the newest transaction id
// from PATH-lock, which describes the old file for as long as any process
// keeps it open (Store::check_lock_region). A worker that opens the new file
// before every other worker has let go of the old one therefore closes it
// again and retries every 100 ms, answering 500 meanwhile; the first opener
// after the last one let go fills PATH-lock from the new file.
//
// Mode: read-write when an auth_pat_api location or the last-use flush
// writes to the path, read-only otherwise. A worker that may not write the
// data file opens it read-only anyway (logged at error) so that token
// authentication keeps working; the API's and the flush's writes then fail.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ngx.hpp"

namespace pat {
class Store;
}

namespace pat::ngx {

struct MainConf;

// The leases of one store path, shared by the event loop (which publishes
// and withdraws the store) and the thread-pool threads (which take and
// return leases). Outlives every task: the Worker that owns it is destroyed
// after the thread pools have stopped.
class StoreLeases {
   public:
    // ---- thread-pool threads ----
    // The published store with one more lease out, or nullptr while none
    // is (closed, or being reopened).
    Store* acquire() noexcept;
    void release() noexcept;

    // ---- the event loop ----
    void publish(Store* store) noexcept;
    void withdraw() noexcept;
    bool idle() noexcept;  // no lease out

   private:
    std::mutex lock_;
    Store* store_ = nullptr;
    std::size_t out_ = 0;
};

// One lease, held on a thread-pool thread while a call runs on the store.
class StoreLease {
   public:
    explicit StoreLease(StoreLeases& leases) noexcept : leases_(leases), store_(leases.acquire()) {}
    ~StoreLease() {
        if (store_ != nullptr) leases_.release();
    }
    StoreLease(const StoreLease&) = delete;
    StoreLease& operator=(const StoreLease&) = delete;

    Store* get() const noexcept { return store_; }  // nullptr: being reopened, retry soon

   private:
    StoreLeases& leases_;
    Store* store_;
};

struct TaskStore {
    std::shared_ptr<StoreLeases> leases;  // nullptr: unavailable, see why
    std::string why;                      // for the log; never a secret
    bool retry_soon = false;              // being reopened: worth retrying in a second
};

// The worker's stores, one slot per configured path. Owned by the Worker
// (worker.hpp); every method runs on the event loop.
class WorkerStores {
   public:
    // Sets up one slot per configured path (none without a configuration)
    // and tries to open each; a failed open is logged and retried later.
    // Throws std::bad_alloc only.
    WorkerStores(const MainConf* conf, ngx_log_t* log);
    // Closes every store (the thread pools have stopped by then).
    ~WorkerStores();
    WorkerStores(const WorkerStores&) = delete;
    WorkerStores& operator=(const WorkerStores&) = delete;

    bool empty() const noexcept { return slots_.empty(); }

    // ---- the access phase ----

    // The store to decide with, opening it if needed; nullptr (logged at
    // crit) when it cannot be used: a failed open is retried at most about
    // once a second (every 100 ms while PATH-lock still describes a replaced
    // file). Valid until control returns to the event loop.
    Store* for_decision(ngx_uint_t index, ngx_log_t* log) noexcept;

    // Takes a store out of use after it failed a decision: the next request
    // reopens it once no task runs a call on it (how a worker recovers once a
    // broken file is replaced).
    void drop_failed(ngx_uint_t index) noexcept;

    // ---- thread-pool tasks ----

    // Where a task about to be posted leases its store (StoreLease on its
    // thread), after checking that the path still names the open file (a
    // write to a replaced file would be lost) and opening it if needed. The
    // task may call any method except decide() and release_snapshot().
    TaskStore for_task(ngx_uint_t index, ngx_log_t* log) noexcept;

    // ---- the worker's once-a-second timer, and a task's completion ----

    // Ends the read snapshot of a store not used for a decision in the last
    // second (an open snapshot keeps writers from reusing freed pages),
    // closes stores taken out of use once no lease is out, and notices
    // replaced files.
    void tend(ngx_log_t* log) noexcept;

    struct Slot;  // worker_stores.cpp

   private:
    std::vector<Slot> slots_;
};

}  // namespace pat::ngx

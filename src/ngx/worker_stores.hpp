// The worker's LMDB stores: exactly one open pat::Store per distinct
// auth_pat_db path, used by the access phase on the event loop only.
//
// Read-only: the workers never write the store (patd and patctl do; token
// uses go to the usage file, last_used.hpp). LMDB's PATH-lock must still be
// writable by them (a reader registers in its table). A worker that finds it
// could write the data file says so once at warn: the file should belong to
// another user (nginx-pat, mode 0640, group of the workers).
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
// A schema-1 store is read as it is (its grants are the effective levels).
// A writer (patd, patctl) upgrades such a file in place, the same file, so
// nothing above notices; the timer asks the open store on each tick
// (Store::schema_outdated, a short read) and reopens it at once, logged at
// info. A store of a schema the core does not know fails to open: 500, as
// for any store that cannot be opened, with the core's reason at crit.
//
// A replaced file (or a removed one) is noticed by the worker's timer, which
// checks every path four times a second (a stat() each), busy or idle: the
// old Store is closed at once and the new file opened. A request only
// compares two times: it checks the path itself only when the timer is late
// (it stops during a graceful shutdown). A store on which a decision failed
// is closed too and reopened at most once a second.
//
// A replaced file has one more catch: LMDB reads the newest transaction id
// from PATH-lock, which describes the old file for as long as any process
// keeps it open (Store::check_lock_region). A worker that opens the new file
// before every other process (the other workers, patd, a patctl) has let go
// of the old one therefore closes it again and retries every 100 ms (from
// the timer too, so an idle worker is ready as soon as the file is),
// answering 500 meanwhile; the first opener after the last one let go fills
// PATH-lock from the new file. So every worker uses the new file about a
// quarter of a second after the last process to hold the old one lets go,
// and none of them holds it for more than about a quarter of a second.
#pragma once

#include <memory>
#include <vector>

#include "ngx.hpp"

namespace pat {
class Store;
}

namespace pat::ngx {

struct MainConf;

// The worker's stores, one slot per configured path. Owned by the Worker
// (worker.hpp); every method runs on the event loop.
class WorkerStores {
   public:
    // How often the worker calls tend() while no store waits to be opened.
    static constexpr ngx_msec_t kTendInterval = 250;

    // Sets up one slot per configured path (none without a configuration)
    // and tries to open each; a failed open is logged and retried later.
    // Throws std::bad_alloc only.
    WorkerStores(const MainConf* conf, ngx_log_t* log);
    ~WorkerStores();
    WorkerStores(const WorkerStores&) = delete;
    WorkerStores& operator=(const WorkerStores&) = delete;

    bool empty() const noexcept { return slots_.empty(); }

    // The store to decide with, opening it if needed; nullptr (logged at
    // crit) when it cannot be used: a failed open is retried at most about
    // once a second (every 100 ms while PATH-lock still describes a replaced
    // file). Valid until control returns to the event loop.
    Store* for_decision(ngx_uint_t index, ngx_log_t* log) noexcept;

    // Closes a store after it failed a decision: the next request reopens it
    // (how a worker recovers once a broken file is replaced).
    void drop_failed(ngx_uint_t index) noexcept;

    // The worker's timer: notices replaced or removed files and opens their
    // replacements, reopens stores upgraded in place, and ends the read
    // snapshot of a store not used for a decision in the last second (an
    // open snapshot keeps writers from reusing freed pages). Returns when to call it again: kTendInterval, or
    // sooner while a replacement waits for PATH-lock.
    ngx_msec_t tend(ngx_log_t* log) noexcept;

    struct Slot;  // worker_stores.cpp

   private:
    std::vector<Slot> slots_;
};

}  // namespace pat::ngx

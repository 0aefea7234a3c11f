// What a worker process keeps between requests, in one object whose
// members are constructed in the order the worker starts them and destroyed
// in the reverse order:
//
//   hasher      the TokenHasher of every decision
//   stores      one slot per auth_pat_db path (worker_stores.hpp)
//   last_used   the token-use table, its flush timer and the usage files it
//               writes (last_used.hpp)
//   tend_timer  four times a second: replaced files, idle snapshots
//
// Created in init_process and destroyed in exit_process (after the thread
// pools have stopped, so the last flush runs alone); the master never has
// one: LMDB must not be opened before fork, and a master that opened it
// would leak it on every reload. Event loop only.
#pragma once

#include "helpers.hpp"
#include "last_used.hpp"
#include "ngx.hpp"
#include "pat/token.hpp"
#include "worker_stores.hpp"

namespace pat::ngx {

struct MainConf;

class Worker {
   public:
    // init_process: creates the worker's object. Never fails the worker:
    // what cannot be set up is logged, and requests that need it get 500
    // until it can (a store that does not open is retried).
    static void start(ngx_cycle_t* cycle) noexcept;
    // exit_process: destroys it.
    static void stop() noexcept;
    // The worker's object; nullptr outside a worker or when it could not be
    // created.
    static Worker* current() noexcept { return current_; }

    // nullptr when OpenSSL could not provide SHA-256.
    TokenHasher* hasher() noexcept { return hasher_.ready() ? &hasher_ : nullptr; }
    WorkerStores& stores() noexcept { return stores_; }
    LastUsed& last_used() noexcept { return last_used_; }

    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

   private:
    Worker(ngx_cycle_t* cycle, const MainConf* conf);
    ~Worker() = default;
    static void tend(ngx_event_t* ev) noexcept;

    static Worker* current_;

    TokenHasher hasher_;
    WorkerStores stores_;
    LastUsed last_used_;
    Timer tend_timer_;
};

}  // namespace pat::ngx

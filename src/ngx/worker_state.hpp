// What a worker process keeps between requests: one TokenHasher, the stores
// (worker_stores.hpp) and a once-a-second timer that tends them. Created in
// init_process, destroyed in exit_process; the master never has any (LMDB
// must not be opened before fork, and a master that opened it would leak it
// on every reload).
#pragma once

#include "ngx.hpp"

namespace pat {
class TokenHasher;
}  // namespace pat

namespace pat::ngx {

// Creates the worker's state, tries to open every configured store and
// starts the timer. Failures are logged and never fatal: the worker must
// keep running and answer 500 until the store can be opened.
void start_worker(ngx_cycle_t* cycle) noexcept;
// Stops the timer and closes the stores (after the last-use flush at exit).
void stop_worker() noexcept;

// The worker's hasher; nullptr when OpenSSL could not provide SHA-256 or
// the state could not be created.
TokenHasher* worker_hasher() noexcept;

}  // namespace pat::ngx

// What a worker process keeps between requests: one TokenHasher and one
// read-only Store per configured path. Created in init_process, destroyed in
// exit_process; the master never has one (LMDB must not be opened before
// fork, and a master that opened it would leak it on every reload).
#pragma once

#include "ngx.hpp"

namespace pat {
class Store;
class TokenHasher;
}  // namespace pat

namespace pat::ngx {

// Creates the worker's state and tries to open every configured store.
// Failures are logged and never fatal: the worker must keep running and
// answer 500 until the store can be opened.
void start_worker(ngx_cycle_t* cycle) noexcept;
void stop_worker() noexcept;

// The worker's hasher; nullptr when OpenSSL could not provide SHA-256 or
// the state could not be created.
TokenHasher* worker_hasher() noexcept;

// The open store for a configured path, opening it if needed. A failed open
// is retried at most about once a second; meanwhile nullptr. Logs at crit.
Store* worker_store(ngx_uint_t index, const ngx_str_t& path, ngx_log_t* log) noexcept;

// Forget a store after it failed a decision, so the next request reopens it
// (that is how a worker recovers once a broken file is replaced).
void drop_worker_store(ngx_uint_t index) noexcept;

}  // namespace pat::ngx

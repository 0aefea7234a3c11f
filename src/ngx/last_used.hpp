// "Last authenticated" without a write on the request path.
//
// The access handler notes each allowed use in a per-worker table allocated
// once at worker start (open addressing on the token id, the newest time
// kept; a use that finds no free slot within a few probes is dropped, never
// allocated for). Every auth_pat_last_used_flush interval a worker timer
// hands the noted uses to a thread-pool task, which writes them with
// Store::record_token_uses in one transaction per store. So a token's
// lastAuthenticated is accurate to the flush interval (60 s by default),
// plus the time a busy thread pool takes to run the task. At worker exit the
// remaining uses are written best-effort.
#pragma once

#include <cstdint>

#include "ngx.hpp"

namespace pat::ngx {

// Allocates the table and starts the timer (init_process, workers only).
void start_last_used(ngx_cycle_t* cycle) noexcept;
// Writes what is left and frees the table (exit_process; the thread pools
// have been stopped by then, so this runs alone).
void stop_last_used(ngx_cycle_t* cycle) noexcept;

// Notes that a token was used now. No allocation, no system call.
void note_token_use(ngx_uint_t db_index, const char* token_id, std::int64_t now_ms) noexcept;

}  // namespace pat::ngx

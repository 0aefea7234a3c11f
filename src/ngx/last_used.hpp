// "Last authenticated" without a write on the request path, and never a
// write to the store.
//
// The access handler notes each allowed use in a per-worker table allocated
// once at worker start (open addressing on the token id, the newest time
// kept; a use that finds no free slot within a few probes is dropped, never
// allocated for). Every auth_pat_last_used_flush interval a worker timer
// hands the noted uses to a task on nginx's default thread pool, which
// writes them to each store's usage file (pat/usage.hpp: STORE-usage,
// created when absent), one slot per token. patd and patctl merge
// that file when they list tokens. So a token's lastAuthenticated is
// accurate to the flush interval (60 s by default), plus the time a busy
// thread pool takes to run the task. At worker exit the remaining uses are
// written best-effort. A use whose window of slots in the usage file is
// full is dropped (logged once until a write succeeds).
//
// The client address of each use ($remote_addr: the connection's address,
// as the realip module may have set it) is noted with it, copied into the
// token's slot (16 bytes; at most pat::kUsageAddresses distinct, the oldest
// replaced), and written with the time: the usage file keeps the last 5
// distinct addresses of each token (pat/usage.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "helpers.hpp"
#include "ngx.hpp"

namespace pat {
class UsageFile;
}

namespace pat::ngx {

struct MainConf;
struct UseSlot;   // last_used.cpp
struct FlushJob;  // last_used.cpp

// Owned by the Worker (worker.hpp); event loop only, but for the usage
// files, which the flush task uses on its thread (one task at a time).
class LastUsed {
   public:
    // Allocates the table and starts the flush timer when the configuration
    // asks for a flush; otherwise (or without memory, logged at crit) every
    // note is dropped.
    LastUsed(ngx_cycle_t* cycle, const MainConf* conf) noexcept;
    // Writes what is left, on this thread (at worker exit the thread pools
    // have stopped), then frees the table.
    ~LastUsed();
    LastUsed(const LastUsed&) = delete;
    LastUsed& operator=(const LastUsed&) = delete;

    // Notes that a token was used now. No allocation, no system call.
    // client: the connection's address (AF_INET, AF_INET6; any other family,
    // or nullptr, notes no address).
    void note(ngx_uint_t db_index, const char* token_id, std::int64_t now_ms, const struct sockaddr* client) noexcept;

   private:
    static void flush_timer(ngx_event_t* ev) noexcept;
    static void flush_task_done(ngx_event_t* ev) noexcept;
    FlushJob* take_uses();
    void log_outcome(ngx_log_t* log, const FlushJob& job);

    const MainConf* conf_ = nullptr;
    // One per store path, in the order of conf_->stores; opened by the first
    // flush that writes to it.
    std::vector<std::unique_ptr<UsageFile>> files_;
    std::vector<bool> full_logged_;  // "full" is logged once per file until a write succeeds
    UseSlot* slots_ = nullptr;       // kUseSlots; nullptr: disabled
    std::size_t used_ = 0;
    std::uint64_t dropped_ = 0;

    ngx_log_t* log_ = nullptr;
    ngx_thread_pool_t* pool_ = nullptr;
    ngx_thread_task_t* task_ = nullptr;  // reused; busy while task_->event.active
    FlushJob* job_ = nullptr;            // the job of the running task
    Timer timer_;
};

}  // namespace pat::ngx

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
//
// Fleet replicas (pat/replica.hpp, docs/fleet.md): on each tick the timer
// also reads each open store's replica state (one short read) and turns it
// into one deadline per gate, a (store, auth_pat_max_staleness) pair of the
// configuration, in ngx_current_msec's terms: deadline = now + bound - age
// of the last verification (0 when it was verified on another boot or the
// state cannot be read; never for a single-host store, which has no state).
// A request compares nginx's cached clock with its gate's deadline and
// nothing else (stale()); only a request found stale looks again, and
// reads the state itself when the timer is late (confirm_stale). A newly
// opened store's state is read at once, so a file the follower replaced is
// judged by its own state from its first request on.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "ngx.hpp"

namespace pat {
class Store;
}

namespace pat::ngx {

struct MainConf;

// What the worker last read of a store's replica state, for the gates and
// auth_pat_status.
struct ReplicaView {
    enum class Mode : std::uint8_t { unknown, single_host, replica };
    Mode mode = Mode::unknown;  // unknown: never opened by this worker
    bool read_failed = false;   // the last read failed: treated as stale
    bool this_boot = false;     // a replica verified on this boot (else stale)
    std::uint64_t position = 0;
    std::uint64_t source_head = 0;
    std::int64_t verified_wall_ms = 0;
    std::int64_t age_ms = 0;  // at read_at, on CLOCK_BOOTTIME (this_boot only)
    ngx_msec_t read_at = 0;   // ngx_current_msec when read

    // The age now, ngx_current_msec's time since the read added.
    std::int64_t age_now_ms() const noexcept { return age_ms + static_cast<std::int64_t>(ngx_current_msec - read_at); }
};

// One store's health as auth_pat_status shows it.
struct StoreHealth {
    ReplicaView view;
    bool stale = false;    // some protected location using it answers 503 now
    ngx_msec_t bound = 0;  // its smallest auth_pat_max_staleness (0: no gate)
};

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
    // *opened (when given) says whether this call opened the store, and so
    // read its replica state: the caller compares its gate again.
    Store* for_decision(ngx_uint_t index, ngx_log_t* log, bool* opened = nullptr) noexcept;
    // After for_decision gave nullptr: whether the store is a fleet replica
    // (it held a replica state when last read) whose file was replaced (the
    // follower's rebuild) and whose new file the worker waits to open, i.e.
    // PATH-lock still describes the old one. A planned, momentary gap, not a
    // fault: the caller answers 503. A single-host store, a failed open or a
    // store dropped after a failed decision is not.
    bool replacing_replica(ngx_uint_t index) const noexcept;

    // The request path's staleness check: one compare of nginx's cached
    // clock with the gate's deadline (MainConf::gates; the caller passes a
    // LocConf::gate, which is always in range).
    bool stale(ngx_uint_t gate) const noexcept { return ngx_current_msec > deadlines_[gate]; }
    // For a request stale() refused: reads the state again when the timer
    // is late (a graceful shutdown stops it), and counts the refusal for the
    // aggregated log line when it stands. Whether the request is refused.
    bool confirm_stale(ngx_uint_t gate, ngx_log_t* log) noexcept;

    // For auth_pat_status (the timer's last reading; every gate of the store).
    std::size_t size() const noexcept;
    StoreHealth health(ngx_uint_t index) const noexcept;

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
    struct Gate {
        ngx_uint_t slot = 0;
        ngx_msec_t bound = 0;
        bool was_stale = false;  // at the last tick, to log the changes
        ngx_uint_t refused = 0;  // 503s since the last report
        ngx_msec_t first_refused = 0;
        ngx_msec_t last_report = 0;
    };

    void read_replica_state(ngx_uint_t index, ngx_log_t* log) noexcept;
    void set_deadlines(ngx_uint_t index) noexcept;
    void report_gates(ngx_log_t* log) noexcept;
    bool earlier_gate_turned(std::size_t gate, bool to_stale) const noexcept;
    Store* open_slot(ngx_uint_t index, ngx_log_t* log) noexcept;

    std::vector<Slot> slots_;
    std::vector<Gate> gates_;
    // One per gate; contiguous, for the request path's one load and compare.
    std::vector<ngx_msec_t> deadlines_;
    bool boot_id_known_ = false;
    std::array<std::uint8_t, 16> boot_id_{};
};

}  // namespace pat::ngx

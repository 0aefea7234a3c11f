#include "worker_stores.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <optional>
#include <string>

#include "metrics.hpp"
#include "module_conf.hpp"
#include "pat/replica.hpp"
#include "pat/store.hpp"

namespace pat::ngx {

namespace {

// A failed open is retried after this long; requests in between get 500
// without touching the file system.
constexpr ngx_msec_t kReopenInterval = 1000;
// ... and after this long when PATH-lock still describes a replaced file:
// the last process to let go of the old file may do so any moment. The
// timer retries too, so a worker that gets no request opens the new file as
// soon as it can.
constexpr ngx_msec_t kLockRegionRetry = 100;
// The access phase checks the path itself only when the timer has not for
// this long (the timer stops during a graceful shutdown): otherwise a
// request costs one time comparison, never a stat().
constexpr ngx_msec_t kLateCheck = 2 * WorkerStores::kTendInterval;
// A store not used for a decision for this long gives up its read snapshot.
constexpr ngx_msec_t kIdleSnapshot = 1000;
// A gate's 503s are logged in one line at most this often.
constexpr ngx_msec_t kStaleReport = 5000;
// A deadline that never comes (a single-host store, or one not opened yet:
// such a request gets 500 from the store, and is compared again once it
// opens it).
constexpr ngx_msec_t kNever = static_cast<ngx_msec_t>(-1);

struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
};

bool file_at(const char* path, FileId& id) {
    struct stat st;
    if (stat(path, &st) != 0) return false;
    id = FileId{st.st_dev, st.st_ino};
    return true;
}

}  // namespace

struct WorkerStores::Slot {
    const StoreConf* conf = nullptr;
    const MainConf* main = nullptr;  // for auth_pat_status's counters
    std::unique_ptr<Store> store;
    // The file the open store reads, to notice when the path names another
    // one (a backup restored by rename) or none (deleted): LMDB would go on
    // reading the old file forever, tokens revoked since included.
    FileId file;
    ngx_msec_t last_check = 0;
    ngx_msec_t last_decision = 0;
    bool attempted = false;
    ngx_msec_t last_attempt = 0;
    ngx_msec_t retry_interval = kReopenInterval;
    // Between a replaced file let go of and the new one opened. The timer
    // opens it then (at once, then every kLockRegionRetry while PATH-lock
    // describes the old file), so that a worker that gets no request is
    // never the one that keeps the others waiting.
    bool replaced = false;
    ngx_msec_t replaced_at = 0;
    bool warned_writable = false;  // once per worker
    ReplicaView replica;           // the open store's state, read by the timer
};

namespace {

using StoreSlot = WorkerStores::Slot;

// Closes the open store when its path names another file or none. One
// stat().
void check_replaced(StoreSlot& slot, ngx_log_t* log) {
    if (!slot.store) return;
    slot.last_check = ngx_current_msec;
    FileId now;
    if (file_at(reinterpret_cast<const char*>(slot.conf->path.data), now) && now == slot.file) return;
    ngx_log_error(NGX_LOG_WARN, log, 0, "auth_pat: the store \"%V\" was replaced or removed: reopening it",
                  &slot.conf->path);
    slot.store.reset();
    slot.attempted = false;  // the new file is opened at once
    slot.replaced = true;
    slot.replaced_at = ngx_current_msec;
}

// Whether a writer has upgraded the open store's schema-1 file in place
// since the worker opened it (the same file: check_replaced sees nothing).
// A short read of the file's meta table; false when it cannot tell.
bool upgraded_in_place(const StoreSlot& slot) noexcept {
    try {
        return slot.store && slot.store->schema_outdated();
    } catch (...) {
        return false;  // asked again at the next tick
    }
}

bool open_due(const StoreSlot& slot) {
    return !slot.attempted || ngx_current_msec - slot.last_attempt >= slot.retry_interval;
}

// The workers only read the store; one that could write the data file
// could change every token and grant if its process were taken over.
void warn_if_writable(StoreSlot& slot, ngx_log_t* log) {
    if (slot.warned_writable) return;
    if (faccessat(AT_FDCWD, reinterpret_cast<const char*>(slot.conf->path.data), W_OK, AT_EACCESS) != 0) return;
    slot.warned_writable = true;
    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "auth_pat: the store \"%V\" is writable by the nginx workers: it should belong to the "
                  "nginx-pat user with mode 0640 and the workers' group (www-data), so that only patd and "
                  "patctl can change it (see docs/install.md)",
                  &slot.conf->path);
}

Store* open_store(StoreSlot& slot, ngx_log_t* log) {
    const ngx_str_t& path = slot.conf->path;
    if (!open_due(slot)) {
        // A fleet replica's replaced file is a planned wait (the request gets
        // 503): not a line at crit per request.
        const bool planned = slot.replaced && slot.replica.mode == ReplicaView::Mode::replica;
        const ngx_uint_t level = planned ? NGX_LOG_INFO : NGX_LOG_CRIT;
        ngx_log_error(level, log, 0, "auth_pat: the store \"%V\" is unavailable (retrying in %M ms)", &path,
                      slot.retry_interval);
        return nullptr;
    }
    const bool waiting = slot.retry_interval == kLockRegionRetry;  // the last attempt found PATH-lock stale
    slot.attempted = true;
    slot.last_attempt = ngx_current_msec;
    const char* path_text = reinterpret_cast<const char*>(path.data);

    // The file's identity before the open: if it is replaced in between, the
    // next check sees a difference and reopens (taken after the open, a
    // replacement in between would go unnoticed for good).
    FileId file;
    const bool identified = file_at(path_text, file);
    auto opened = Store::open(std::string(path_text, path.len), Store::Mode::read_only);
    slot.retry_interval = kReopenInterval;
    if (!opened) {
        slot.replaced = false;  // retried by requests, at most once a second
        count_store_open_failure(slot.main);
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &path,
                      opened.status().message().c_str());
        return nullptr;
    }
    // Closed at once when PATH-lock describes another file: this process
    // must not hold it open, or the region would never be refilled. Said at
    // crit once, not at every retry (each request answered 500 meanwhile
    // logs its own line).
    if (const Status region = opened.value()->check_lock_region(); !region.ok()) {
        const ngx_uint_t level = waiting ? NGX_LOG_INFO : NGX_LOG_CRIT;
        ngx_log_error(level, log, 0, "auth_pat: cannot use the store \"%V\" yet: %s; retrying every %M ms", &path,
                      region.message().c_str(), kLockRegionRetry);
        slot.retry_interval = kLockRegionRetry;
        return nullptr;
    }
    warn_if_writable(slot, log);
    slot.file = identified ? file : FileId{};
    slot.last_check = ngx_current_msec;
    slot.store = std::move(opened.value());
    if (slot.replaced) {
        ngx_log_error(
            NGX_LOG_NOTICE, log, 0,
            "auth_pat: opened the store \"%V\" read-only: the new file, %M ms after the old one was let go of", &path,
            ngx_current_msec - slot.replaced_at);
        slot.replaced = false;
    } else {
        ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: opened the store \"%V\" read-only", &path);
    }
    return slot.store.get();
}

// open_store's exceptions (std::bad_alloc) logged, for the noexcept callers.
Store* open_store_logged(StoreSlot& slot, ngx_log_t* log) noexcept {
    try {
        return open_store(slot, log);
    } catch (const std::exception& e) {
        count_store_open_failure(slot.main);
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &slot.conf->path, e.what());
    } catch (...) {
        count_store_open_failure(slot.main);
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\"", &slot.conf->path);
    }
    return nullptr;
}

// Closes a store whose file a writer has upgraded in place and opens it
// again at once: read as schema 1, it would never see group grants,
// all-users defaults or public access. One short read per call.
void reopen_if_upgraded(StoreSlot& slot, ngx_log_t* log) noexcept {
    if (!upgraded_in_place(slot)) return;
    ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: the store \"%V\" was upgraded to schema %d: reopening it",
                  &slot.conf->path, kSchemaVersion);
    slot.store.reset();  // closed before the file is opened again: LMDB forbids two opens of one file
    slot.attempted = false;
    open_store_logged(slot, log);
}

}  // namespace

WorkerStores::WorkerStores(const MainConf* conf, ngx_log_t* log) {
    if (conf == nullptr || conf->stores == nullptr) return;
    const auto* stores = static_cast<const StoreConf*>(conf->stores->elts);
    slots_.resize(conf->stores->nelts);
    if (conf->gates != nullptr) {
        const auto* gates = static_cast<const GateConf*>(conf->gates->elts);
        gates_.resize(conf->gates->nelts);
        deadlines_.assign(conf->gates->nelts, kNever);
        for (ngx_uint_t g = 0; g < conf->gates->nelts; ++g) {
            gates_[g].slot = gates[g].db_index;
            gates_[g].bound = gates[g].bound;
        }
    }
    // A replica verified on another boot is stale; without this machine's
    // boot id every replica is (fail closed).
    if (auto boot = current_boot_id(); boot) {
        boot_id_ = boot.value();
        boot_id_known_ = true;
    } else {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "auth_pat: cannot read this machine's boot id (%s): every fleet replica counts as stale",
                      boot.status().message().c_str());
    }
    for (ngx_uint_t i = 0; i < conf->stores->nelts; ++i) {
        slots_[i].conf = &stores[i];
        slots_[i].main = conf;
        open_slot(i, log);
    }
    for (Gate& gate : gates_) gate.was_stale = false;
}

WorkerStores::~WorkerStores() = default;

Store* WorkerStores::for_decision(ngx_uint_t index, ngx_log_t* log, bool* opened) noexcept {
    if (opened != nullptr) *opened = false;
    if (index >= slots_.size()) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no store slot %ui", index);
        return nullptr;
    }
    StoreSlot& slot = slots_[index];
    // The timer checks the path; a request only when the timer is late.
    if (slot.store && ngx_current_msec - slot.last_check >= kLateCheck) {
        check_replaced(slot, log);
        reopen_if_upgraded(slot, log);
        read_replica_state(index, log);
    }
    Store* store = slot.store.get();
    if (store == nullptr) {
        store = open_slot(index, log);
        if (opened != nullptr) *opened = store != nullptr;
    }
    if (store != nullptr) slot.last_decision = ngx_current_msec;
    return store;
}

Store* WorkerStores::open_slot(ngx_uint_t index, ngx_log_t* log) noexcept {
    Store* store = open_store_logged(slots_[index], log);
    if (store != nullptr) read_replica_state(index, log);
    return store;
}

void WorkerStores::read_replica_state(ngx_uint_t index, ngx_log_t* log) noexcept {
    StoreSlot& slot = slots_[index];
    if (!slot.store) return;
    ReplicaView& view = slot.replica;
    const ReplicaView before = view;
    view.read_at = ngx_current_msec;
    try {
        auto state = slot.store->replica_state();
        if (!state) {
            view.read_failed = true;
            if (!before.read_failed) {
                ngx_log_error(NGX_LOG_CRIT, log, 0,
                              "auth_pat: cannot read the replica state of the store \"%V\": %s; its protected "
                              "locations answer 503 until it can be read",
                              &slot.conf->path, state.status().message().c_str());
            }
        } else if (!state.value()) {
            view = ReplicaView{};
            view.mode = ReplicaView::Mode::single_host;
            view.read_at = ngx_current_msec;
        } else {
            const ReplicaState& st = *state.value();
            view.mode = ReplicaView::Mode::replica;
            view.read_failed = false;
            view.position = st.position;
            view.source_head = st.source_head;
            view.verified_wall_ms = st.verified_wall_ms;
            std::optional<std::int64_t> age;
            if (boot_id_known_) age = verified_age_ms(st, boot_id_, boottime_ns());
            view.this_boot = age.has_value();
            view.age_ms = age ? (*age < 0 ? 0 : *age) : 0;
        }
    } catch (const std::exception& e) {
        view.read_failed = true;
        if (!before.read_failed) {
            ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot read the replica state of the store \"%V\": %s",
                          &slot.conf->path, e.what());
        }
    } catch (...) {
        view.read_failed = true;
    }
    if (before.mode != view.mode && view.mode == ReplicaView::Mode::replica) {
        ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: the store \"%V\" is a fleet replica (position %uL)",
                      &slot.conf->path, static_cast<uint64_t>(view.position));
    } else if (before.mode == ReplicaView::Mode::replica && view.mode == ReplicaView::Mode::single_host) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0, "auth_pat: the store \"%V\" is no longer a fleet replica",
                      &slot.conf->path);
    }
    set_deadlines(index);
}

// deadline = now + bound - age, saturated: 0 (stale from now on) when the
// age passed the bound long ago, never past kNever - 1.
void WorkerStores::set_deadlines(ngx_uint_t index) noexcept {
    const ReplicaView& view = slots_[index].replica;
    for (std::size_t g = 0; g < gates_.size(); ++g) {
        if (gates_[g].slot != index) continue;
        ngx_msec_t deadline = kNever;
        if (view.read_failed) {
            deadline = 0;
        } else if (view.mode == ReplicaView::Mode::replica) {
            if (!view.this_boot) {
                deadline = 0;
            } else {
                const auto age = static_cast<ngx_msec_t>(view.age_ms);
                const ngx_msec_t base = view.read_at + gates_[g].bound;  // no overflow: both far below 2^63
                deadline = age >= base ? 0 : base - age;
            }
        }
        deadlines_[g] = deadline;
    }
}

bool WorkerStores::confirm_stale(ngx_uint_t gate, ngx_log_t* log) noexcept {
    Gate& g = gates_[gate];
    const StoreSlot& slot = slots_[g.slot];
    if (slot.store && ngx_current_msec - slot.replica.read_at >= kLateCheck) read_replica_state(g.slot, log);
    if (!stale(gate)) return false;
    if (g.refused++ == 0) g.first_refused = ngx_current_msec;
    return true;
}

bool WorkerStores::replacing_replica(ngx_uint_t index) const noexcept {
    if (index >= slots_.size()) return false;
    const StoreSlot& slot = slots_[index];
    // replica is the last state read from the old file: read_replica_state
    // leaves it as it was while no store is open.
    return !slot.store && slot.replaced && slot.replica.mode == ReplicaView::Mode::replica;
}

std::size_t WorkerStores::size() const noexcept {
    return slots_.size();
}

StoreHealth WorkerStores::health(ngx_uint_t index) const noexcept {
    StoreHealth out;
    if (index >= slots_.size()) return out;
    out.view = slots_[index].replica;
    for (std::size_t g = 0; g < gates_.size(); ++g) {
        if (gates_[g].slot != index) continue;
        if (stale(g)) out.stale = true;
        if (out.bound == 0 || gates_[g].bound < out.bound) out.bound = gates_[g].bound;
    }
    return out;
}

// Whether an earlier gate of the same store turns stale (or fresh) at this
// tick too: what does not depend on the bound is said once per store.
bool WorkerStores::earlier_gate_turned(std::size_t gate, bool to_stale) const noexcept {
    for (std::size_t g = 0; g < gate; ++g) {
        if (gates_[g].slot == gates_[gate].slot && gates_[g].was_stale != to_stale && stale(g) == to_stale) return true;
    }
    return false;
}

// The gates' changes (stale, fresh again) and their 503s, one line each at
// most every kStaleReport: never a line per request.
void WorkerStores::report_gates(ngx_log_t* log) noexcept {
    for (std::size_t g = 0; g < gates_.size(); ++g) {
        Gate& gate = gates_[g];
        const StoreSlot& slot = slots_[gate.slot];
        const ReplicaView& view = slot.replica;
        const bool now_stale = stale(g);
        if (now_stale && !gate.was_stale) {
            if (view.read_failed || earlier_gate_turned(g, true)) {
                // said at crit by read_replica_state, or for another gate
            } else if (!view.this_boot) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "auth_pat: the replica \"%V\" was not verified against its source since this machine "
                              "booted: protected requests get 503 until the follower verifies it",
                              &slot.conf->path);
            } else {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "auth_pat: the replica \"%V\" was last verified against its source %M ms ago, more "
                              "than auth_pat_max_staleness (%M ms): protected requests get 503 until the follower "
                              "verifies it (position %uL, source head %uL)",
                              &slot.conf->path, static_cast<ngx_msec_t>(view.age_now_ms()), gate.bound,
                              static_cast<uint64_t>(view.position), static_cast<uint64_t>(view.source_head));
            }
        } else if (!now_stale && gate.was_stale && !earlier_gate_turned(g, false)) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "auth_pat: the replica \"%V\" is verified again (%M ms ago, position %uL): protected "
                          "requests are decided again",
                          &slot.conf->path, static_cast<ngx_msec_t>(view.age_now_ms()),
                          static_cast<uint64_t>(view.position));
        }
        if (gate.refused != 0 && (gate.last_report == 0 || ngx_current_msec - gate.last_report >= kStaleReport)) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "auth_pat: answered 503 to %ui protected request(s) on the stale replica \"%V\" in the "
                          "last %M ms (auth_pat_max_staleness %M ms)",
                          gate.refused, &slot.conf->path, ngx_current_msec - gate.first_refused, gate.bound);
            gate.refused = 0;
            gate.last_report = ngx_current_msec;
        }
    }
    for (std::size_t g = 0; g < gates_.size(); ++g) gates_[g].was_stale = stale(g);
}

void WorkerStores::drop_failed(ngx_uint_t index) noexcept {
    if (index >= slots_.size()) return;
    // Reopened at most once a second (kReopenInterval from the last attempt).
    slots_[index].store.reset();
}

ngx_msec_t WorkerStores::tend(ngx_log_t* log) noexcept {
    ngx_msec_t next = kTendInterval;
    for (ngx_uint_t i = 0; i < slots_.size(); ++i) {
        StoreSlot& slot = slots_[i];
        check_replaced(slot, log);
        reopen_if_upgraded(slot, log);
        const bool between_files = !slot.store && (slot.replaced || slot.retry_interval == kLockRegionRetry);
        if (between_files && open_due(slot)) open_store_logged(slot, log);
        // Every tick, so that a replaced file is judged by its own state at
        // once, and a deadline never lags the follower by more than a tick.
        read_replica_state(i, log);
        if (slot.store && ngx_current_msec - slot.last_decision >= kIdleSnapshot) slot.store->release_snapshot();
        if (!slot.store && slot.retry_interval == kLockRegionRetry) {
            const ngx_msec_t since = ngx_current_msec - slot.last_attempt;
            const ngx_msec_t wait = since < slot.retry_interval ? slot.retry_interval - since : 1;
            if (wait < next) next = wait;
        }
    }
    report_gates(log);
    return next;
}

}  // namespace pat::ngx

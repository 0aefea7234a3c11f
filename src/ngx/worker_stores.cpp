#include "worker_stores.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <string>

#include "metrics.hpp"
#include "module_conf.hpp"
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
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: the store \"%V\" is unavailable (retrying in %M ms)", &path,
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
    for (ngx_uint_t i = 0; i < conf->stores->nelts; ++i) {
        slots_[i].conf = &stores[i];
        slots_[i].main = conf;
        open_store_logged(slots_[i], log);
    }
}

WorkerStores::~WorkerStores() = default;

Store* WorkerStores::for_decision(ngx_uint_t index, ngx_log_t* log) noexcept {
    if (index >= slots_.size()) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no store slot %ui", index);
        return nullptr;
    }
    StoreSlot& slot = slots_[index];
    // The timer checks the path; a request only when the timer is late.
    if (slot.store && ngx_current_msec - slot.last_check >= kLateCheck) {
        check_replaced(slot, log);
        reopen_if_upgraded(slot, log);
    }
    Store* store = slot.store ? slot.store.get() : open_store_logged(slot, log);
    if (store != nullptr) slot.last_decision = ngx_current_msec;
    return store;
}

void WorkerStores::drop_failed(ngx_uint_t index) noexcept {
    if (index >= slots_.size()) return;
    // Reopened at most once a second (kReopenInterval from the last attempt).
    slots_[index].store.reset();
}

ngx_msec_t WorkerStores::tend(ngx_log_t* log) noexcept {
    ngx_msec_t next = kTendInterval;
    for (StoreSlot& slot : slots_) {
        check_replaced(slot, log);
        reopen_if_upgraded(slot, log);
        const bool between_files = !slot.store && (slot.replaced || slot.retry_interval == kLockRegionRetry);
        if (between_files && open_due(slot)) open_store_logged(slot, log);
        if (slot.store && ngx_current_msec - slot.last_decision >= kIdleSnapshot) slot.store->release_snapshot();
        if (!slot.store && slot.retry_interval == kLockRegionRetry) {
            const ngx_msec_t since = ngx_current_msec - slot.last_attempt;
            const ngx_msec_t wait = since < slot.retry_interval ? slot.retry_interval - since : 1;
            if (wait < next) next = wait;
        }
    }
    return next;
}

}  // namespace pat::ngx

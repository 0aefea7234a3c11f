#include "worker_stores.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

#include "module_conf.hpp"
#include "pat/store.hpp"

namespace pat::ngx {

namespace {

// A failed open is retried after this long; requests in between get 500
// without touching the file system.
constexpr ngx_msec_t kReopenInterval = 1000;
// ... and after this long when PATH-lock still describes a replaced file:
// the last worker to let go of the old file may do so any moment.
constexpr ngx_msec_t kLockRegionRetry = 100;
// How often the access phase checks that the path still names the open file
// (a stat(), twice a second at most): under traffic a replaced file is
// noticed within half a second; the once-a-second timer notices it otherwise.
constexpr ngx_msec_t kReplacedCheckInterval = 500;
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

enum class Closing {
    no,
    // The path names another file now (or none): decisions go on with the
    // old file, as they did until the check noticed, while the calls that
    // run on it finish; new tasks get 503 until the new file is open.
    replaced,
    // A decision failed on it: no more decisions or tasks.
    failed,
};

}  // namespace

struct WorkerStores::Slot {
    const StoreConf* conf = nullptr;
    std::unique_ptr<Store> store;
    // Tasks' leases on `store`: published while it is open and in use.
    std::shared_ptr<StoreLeases> leases = std::make_shared<StoreLeases>();
    Closing closing = Closing::no;
    // The file the open store reads, to notice when the path names another
    // one (a backup restored by rename) or none (deleted): LMDB would go on
    // reading the old file forever, tokens revoked since included.
    FileId file;
    ngx_msec_t last_check = 0;
    ngx_msec_t last_decision = 0;
    bool attempted = false;
    ngx_msec_t last_attempt = 0;
    ngx_msec_t retry_interval = kReopenInterval;
    // The last open found PATH-lock still describing a replaced file: a
    // moment's wait, not a fault of the file.
    bool awaiting_region = false;
};

namespace {

using StoreSlot = WorkerStores::Slot;

// Closes a store taken out of use once no lease is out. It grants none
// since begin_closing withdrew it, so none can be taken meanwhile.
void finish_closing(StoreSlot& slot) {
    if (!slot.store || slot.closing == Closing::no || !slot.leases->idle()) return;
    const bool failed = slot.closing == Closing::failed;
    slot.store.reset();
    slot.closing = Closing::no;
    // A replaced file is opened at once; a failed one at most once a second
    // (kReopenInterval from the last attempt).
    if (!failed) slot.attempted = false;
}

void begin_closing(StoreSlot& slot, Closing why) {
    if (!slot.store || slot.closing == Closing::failed) return;
    slot.leases->withdraw();
    // No more decisions on a failed store: end its snapshot now rather than
    // when the last task lets go of it.
    if (why == Closing::failed) slot.store->release_snapshot();
    slot.closing = why;
    finish_closing(slot);
}

void check_replaced(StoreSlot& slot, ngx_log_t* log, bool throttled) {
    if (!slot.store || slot.closing != Closing::no) return;
    if (throttled && ngx_current_msec - slot.last_check < kReplacedCheckInterval) return;
    slot.last_check = ngx_current_msec;
    FileId now;
    if (file_at(reinterpret_cast<const char*>(slot.conf->path.data), now) && now == slot.file) return;
    ngx_log_error(NGX_LOG_WARN, log, 0, "auth_pat: the store \"%V\" was replaced or removed: reopening it",
                  &slot.conf->path);
    begin_closing(slot, Closing::replaced);
}

// True when this process may not write the data file (so a read-write open
// would fail): the workers were given read access only.
bool may_not_write(const char* path) {
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0) return false;
    return errno == EACCES || errno == EPERM || errno == EROFS;
}

Store* open_store(StoreSlot& slot, ngx_log_t* log) {
    const ngx_str_t& path = slot.conf->path;
    if (slot.attempted && ngx_current_msec - slot.last_attempt < slot.retry_interval) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: the store \"%V\" is unavailable (retrying in %M ms)", &path,
                      slot.retry_interval);
        return nullptr;
    }
    slot.attempted = true;
    slot.last_attempt = ngx_current_msec;
    const char* path_text = reinterpret_cast<const char*>(path.data);

    // The file's identity before the open: if it is replaced in between, the
    // next check sees a difference and reopens (taken after the open, a
    // replacement in between would go unnoticed for good).
    FileId file;
    const bool identified = file_at(path_text, file);
    bool writable = slot.conf->written != 0;
    const bool refused_write = writable && may_not_write(path_text);
    if (refused_write) writable = false;

    auto opened =
        Store::open(std::string(path_text, path.len), writable ? Store::Mode::read_write : Store::Mode::read_only);
    slot.retry_interval = kReopenInterval;
    slot.awaiting_region = false;
    if (!opened) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &path,
                      opened.status().message().c_str());
        return nullptr;
    }
    // Closed at once when PATH-lock describes another file: this process
    // must not hold it open, or the region would never be refilled.
    if (const Status region = opened.value()->check_lock_region(); !region.ok()) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot use the store \"%V\" yet: %s; retrying", &path,
                      region.message().c_str());
        slot.retry_interval = kLockRegionRetry;
        slot.awaiting_region = true;
        return nullptr;
    }
    if (refused_write) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_pat: the worker may not write the store \"%V\": opened it read-only, so token "
                      "authentication works but the token API and the last-use flush cannot change it (give "
                      "the workers write access to the file, as to its -lock file)",
                      &path);
    }
    slot.file = identified ? file : FileId{};
    slot.last_check = ngx_current_msec;
    slot.closing = Closing::no;
    slot.store = std::move(opened.value());
    slot.leases->publish(slot.store.get());
    ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: opened the store \"%V\" %s", &path,
                  writable ? "read-write" : "read-only");
    return slot.store.get();
}

}  // namespace

WorkerStores::WorkerStores(const MainConf* conf, ngx_log_t* log) {
    if (conf == nullptr || conf->stores == nullptr) return;
    const auto* stores = static_cast<const StoreConf*>(conf->stores->elts);
    slots_.resize(conf->stores->nelts);
    for (ngx_uint_t i = 0; i < conf->stores->nelts; ++i) {
        slots_[i].conf = &stores[i];
        try {
            open_store(slots_[i], log);
        } catch (const std::exception& e) {
            ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &stores[i].path,
                          e.what());
        }
    }
}

WorkerStores::~WorkerStores() = default;

Store* StoreLeases::acquire() noexcept {
    std::lock_guard held(lock_);
    if (store_ != nullptr) ++out_;
    return store_;
}

void StoreLeases::release() noexcept {
    std::lock_guard held(lock_);
    --out_;
}

void StoreLeases::publish(Store* store) noexcept {
    std::lock_guard held(lock_);
    store_ = store;
}

void StoreLeases::withdraw() noexcept {
    std::lock_guard held(lock_);
    store_ = nullptr;
}

bool StoreLeases::idle() noexcept {
    std::lock_guard held(lock_);
    return out_ == 0;
}

Store* WorkerStores::for_decision(ngx_uint_t index, ngx_log_t* log) noexcept {
    if (index >= slots_.size()) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no store slot %ui", index);
        return nullptr;
    }
    StoreSlot* slot = &slots_[index];
    try {
        finish_closing(*slot);
        check_replaced(*slot, log, true);
        Store* store = nullptr;
        if (slot->store) {
            if (slot->closing == Closing::failed) {
                ngx_log_error(NGX_LOG_CRIT, log, 0,
                              "auth_pat: the store \"%V\" failed and is reopened once the token API "
                              "calls running on it finish",
                              &slot->conf->path);
                return nullptr;
            }
            store = slot->store.get();
        } else {
            store = open_store(*slot, log);
        }
        if (store != nullptr) slot->last_decision = ngx_current_msec;
        return store;
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &slot->conf->path, e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\"", &slot->conf->path);
    }
    return nullptr;
}

void WorkerStores::drop_failed(ngx_uint_t index) noexcept {
    if (index < slots_.size()) begin_closing(slots_[index], Closing::failed);
}

TaskStore WorkerStores::for_task(ngx_uint_t index, ngx_log_t* log) noexcept {
    TaskStore result;
    try {
        if (index >= slots_.size()) {
            result.why = "the worker has no store for this location";
            return result;
        }
        StoreSlot* slot = &slots_[index];
        finish_closing(*slot);
        check_replaced(*slot, log, false);
        if (slot->store && slot->closing != Closing::no) {
            result.why = "the store \"" + std::string(reinterpret_cast<const char*>(slot->conf->path.data)) +
                         "\" is being reopened (" +
                         (slot->closing == Closing::replaced ? "its file was replaced" : "it failed") +
                         "); waiting for the calls that run on it";
            result.retry_soon = true;
            return result;
        }
        if (!slot->store && open_store(*slot, log) == nullptr) {
            const char* why =
                slot->awaiting_region ? "yet (its file was replaced; retrying)" : "(the reason is logged above)";
            result.why = "cannot open the store \"" +
                         std::string(reinterpret_cast<const char*>(slot->conf->path.data)) + "\" " + why;
            result.retry_soon = slot->awaiting_region;
            return result;
        }
        result.leases = slot->leases;
    } catch (...) {
        result.leases.reset();
        result.why = "out of memory";
    }
    return result;
}

void WorkerStores::tend(ngx_log_t* log) noexcept {
    for (StoreSlot& slot : slots_) {
        finish_closing(slot);
        check_replaced(slot, log, true);
        if (slot.store && ngx_current_msec - slot.last_decision >= kIdleSnapshot) slot.store->release_snapshot();
    }
}

}  // namespace pat::ngx
